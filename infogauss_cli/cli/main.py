"""The `infogauss` application: command registration and global options."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from infogauss_cli import __version__
from infogauss_cli.cli.errors import closed_stdout, set_debug
from infogauss_cli.cli.lazy import LazyGroup

TORCHRUN = "LOCAL_RANK" in os.environ
if TORCHRUN:  # import distributed only there: start-up time
    from infogauss_cli.extract.distributed import leave, use_hard_exit

app = typer.Typer(
    cls=LazyGroup,
    name="infogauss",
    help="Are your embeddings Gaussian? Diagnostics from 'InfoNCE Induces Gaussian "
    "Distribution' (ICLR 2026): norm CV, per-coordinate Anderson-Darling and "
    "D'Agostino-Pearson tests, with verdicts and CI gates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"infogauss {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """infogauss: audit embeddings for Gaussianity."""
    set_debug(debug)


def run() -> None:
    """Console-script entry point (and ``python -m infogauss_cli``, which torchrun runs)."""
    if TORCHRUN:
        use_hard_exit()
    try:
        app()
    except BrokenPipeError:  # stdout closed early outside a command (help, --version)
        sys.exit(closed_stdout())
    except SystemExit as exc:
        if TORCHRUN:
            leave(exc.code if isinstance(exc.code, int) else 1)
        raise
