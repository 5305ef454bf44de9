"""Print and write a report, then exit with its code (shared by every auditing command)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..report.model import Report, Row

if TYPE_CHECKING:
    from rich.console import Console


def emit(
    rows: Sequence[Row],
    *,
    json_out: str | None = None,
    markdown: Path | None = None,
    html: Path | None = None,
    plots: Path | None = None,
    quiet: bool = False,
) -> None:
    """:func:`publish`, then exit with the report's code."""
    raise typer.Exit(
        publish(rows, json_out=json_out, markdown=markdown, html=html, plots=plots, quiet=quiet)
    )


def terminal(json_out: str | None = None) -> Console:
    """The console for tables: stderr when the JSON goes to stdout; 160 columns when piped or
    captured (not squeezed into 80) unless ``$COLUMNS`` says otherwise."""
    import os

    from rich.console import Console

    console = Console(stderr=json_out == "-")
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console
    return Console(stderr=json_out == "-", width=160)


def publish(
    rows: Sequence[Row],
    *,
    json_out: str | None = None,
    markdown: Path | None = None,
    html: Path | None = None,
    plots: Path | None = None,
    quiet: bool = False,
) -> int:
    """Table on the terminal, the files asked for; returns the report's exit code."""
    import sys

    from ..report.json_report import write_json, write_text_atomic
    from ..report.markdown import render_markdown
    from ..report.table import print_report

    report = Report(tuple(rows), command=("infogauss", *sys.argv[1:]))
    if not quiet:
        print_report(report.rows, terminal(json_out))
    if json_out:
        write_json(report, json_out)
    if markdown:
        write_text_atomic(markdown, render_markdown(report.rows))
    if html:
        from ..report.html import write_html

        write_html(report.rows, html, command=report.command)
    if plots:
        from ..report.plots import write_plots

        write_plots(report.rows, plots)
    return report.exit_code
