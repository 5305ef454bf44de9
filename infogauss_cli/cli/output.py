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
    html: Path | None = None,
    plots: Path | None = None,
    quiet: bool = False,
) -> None:
    """Table on the terminal (stderr when the JSON goes to stdout), files, exit code."""
    import sys

    from rich.console import Console

    from ..report.json_report import write_json, write_text_atomic
    from ..report.markdown import render_markdown
    from ..report.table import print_report

    report = Report(tuple(rows))
    if not quiet:
        console = Console(stderr=json_out == "-")
        if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
            console = Console(stderr=json_out == "-", width=160)
        print_report(report.rows, console)
    if json_out:
        write_json(report, json_out)
    if markdown:
        write_text_atomic(markdown, render_markdown(report.rows))
    if html:
        from ..report.html import write_html

        write_html(report.rows, html, command=["infogauss", *sys.argv[1:]])
    if plots:
        from ..report.plots import write_plots

        write_plots(report.rows, plots)
    raise typer.Exit(report.exit_code)
