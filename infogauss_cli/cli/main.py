"""The `infogauss` application: command registration and global options."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from .errors import set_debug
from .lazy import LazyGroup

app = typer.Typer(
    name="infogauss",
    cls=LazyGroup,  # commands imported only when they run (start-up: benchmarks/startup.py)
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
    """Console-script entry point."""
    app()
