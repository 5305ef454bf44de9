"""The `infogauss` application: command registration and global options."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from infogauss_cli import __version__
from infogauss_cli.cli import lighthelp
from infogauss_cli.cli.errors import set_debug
from infogauss_cli.cli.lazy import LazyGroup

lighthelp.install()  # --help without rich.markdown / rich.traceback (start-up time)


class OneLineErrors(LazyGroup):
    """The root group: a usage error is one ``error: ...`` line on stderr with exit 2
    (docs/exit-codes.md), not typer's framed box. Uses typer's vendored click only. Its
    commands are imported only when they run (:class:`~.lazy.LazyGroup`)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from typer._click.exceptions import ClickException, NoArgsIsHelpError
        from typer.exceptions import Abort

        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:  # bare `infogauss zoo`: the help, as typer shows it
            from typer import rich_utils

            rich_utils.rich_format_error(exc)
            sys.exit(exc.exit_code)
        except ClickException as exc:
            from infogauss_cli.core.safe_text import printable

            message = " ".join(exc.format_message().split())
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            typer.echo(f"error: {printable(message)}{hint}", err=True)
            sys.exit(exc.exit_code)
        except Abort:
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
    import os

    torchrun = "LOCAL_RANK" in os.environ  # import distributed only there: start-up time
    if torchrun:
        from infogauss_cli.extract.distributed import use_hard_exit

        use_hard_exit()
    try:
        app()
    except BrokenPipeError:  # stdout closed early outside a command (help, --version)
        from infogauss_cli.cli.console import closed_stdout

        sys.exit(closed_stdout())
    except SystemExit as exc:
        if torchrun:
            from infogauss_cli.extract.distributed import leave

            leave(exc.code if isinstance(exc.code, int) else 1)
        raise
