"""The `infogauss` application: command registration and global options."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from infogauss_cli import __version__
from infogauss_cli.cli.errors import closed_stdout, set_debug
from infogauss_cli.cli.lazy import LazyGroup
from infogauss_cli.core.safe_text import printable

TORCHRUN = "LOCAL_RANK" in os.environ
if TORCHRUN:  # import distributed only there: start-up time
    from infogauss_cli.extract.distributed import leave, use_hard_exit


class OneLineErrors(LazyGroup):
    """The root group: a usage error is one ``error: ...`` line on stderr (exit 2), not a box."""

    def main(self, *args: object, standalone_mode: bool = True, **extra: object) -> object:  # type: ignore[override]
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **extra)  # type: ignore[arg-type]
        try:
            rv = super().main(*args, standalone_mode=False, **extra)  # type: ignore[arg-type]
        except NoArgsIsHelpError as exc:  # bare `infogauss zoo`: the help, printed already
            sys.exit(exc.exit_code)
        except ClickException as exc:
            message = " ".join(exc.format_message().split())
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            typer.echo(f"error: {printable(message)}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(3)
        sys.exit(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0)


app = typer.Typer(
    cls=OneLineErrors,
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
