"""`infogauss schema`: print the JSON Schema of the report (docs/report.md)."""

from __future__ import annotations

import typer

from infogauss_cli.report.json_report import schema_text


def schema_cmd() -> None:
    """Print the JSON Schema (2020-12) that every [bold]--json[/] report validates against.

    Example: [bold]infogauss schema > report.v1.json[/]
    """
    typer.echo(schema_text(), nl=False)
