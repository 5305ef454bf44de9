"""The `infogauss` application: command registration and global options."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from .errors import set_debug

app = typer.Typer(
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


def _register() -> None:
    from . import audit, check, data, demo, extract, schema, synthetic, track, zoo

    app.add_typer(zoo.app, name="zoo", help="The model zoo: list, show, validate.")
    app.add_typer(data.app, name="data", help="Datasets: fetch MS-COCO val2017, show what is here.")
    app.command("extract")(extract.extract_cmd)
    app.command("audit")(audit.audit_cmd)
    app.command(
        "compare",
        help="Audit several models into one table (same options as audit). Example: "
        "[bold]infogauss compare resnet34 dino --json r.json[/]",
    )(audit.audit_cmd)
    app.command("check")(check.check_cmd)
    app.command("synthetic")(synthetic.synthetic_cmd)
    app.command("demo")(demo.demo_cmd)
    app.command("track")(track.track_cmd)
    app.command("schema")(schema.schema_cmd)


_register()


def run() -> None:
    """Console-script entry point."""
    app()
