"""Print and write a report, then exit with its code (shared by every auditing command)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from ..report.model import Report, Row


def emit(
    rows: Sequence[Row],
    *,
    json_out: str | None = None,
    markdown: Path | None = None,
    quiet: bool = False,
) -> None:
    """Table on the terminal (stderr when the JSON goes to stdout), files, exit code."""
    from rich.console import Console

    from ..report.json_report import write_json, write_text_atomic
    from ..report.markdown import render_markdown
    from ..report.table import print_report

    report = Report(tuple(rows))
    if not quiet:
        print_report(report.rows, Console(stderr=json_out == "-"))
    if json_out:
        write_json(report, json_out)
    if markdown:
        write_text_atomic(markdown, render_markdown(report.rows))
    raise typer.Exit(report.exit_code)
