"""`infogauss schema`: print the JSON Schema of the report (docs/report.md)."""

from __future__ import annotations

import typer

from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.report.json_report import schema_text


@handle_errors
def schema_cmd(
    kind: str = typer.Option("report", "--kind", help="report, or score (infogauss score --json)"),
) -> None:
    """Print the JSON Schema (2020-12) that every [bold]--json[/] report validates against.

    Example: [bold]infogauss schema > report.v1.json[/]
    """
    if kind not in ("report", "score"):
        raise BadInputError(f"--kind {kind!r}: choose report or score")
    typer.echo(schema_text(kind), nl=False)
