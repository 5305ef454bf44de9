"""Print and write a report, then exit with its code (shared by every auditing command)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer

from ..options import Outputs
from ..report.model import Report, Row

if TYPE_CHECKING:
    from rich.console import Console


def emit(rows: Sequence[Row], out: Outputs) -> None:
    """:func:`publish`, then exit with the report's code."""
    raise typer.Exit(publish(rows, out))


def terminal(json_out: str | None = None) -> Console:
    """The console for tables: stderr when the JSON goes to stdout; 160 columns when piped or
    captured (not squeezed into 80) unless ``$COLUMNS`` says otherwise."""
    import os

    from rich.console import Console

    console = Console(stderr=json_out == "-")
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console
    return Console(stderr=json_out == "-", width=160)


def publish(rows: Sequence[Row], out: Outputs) -> int:
    """Table on the terminal, the files asked for; returns the report's exit code."""
    import sys

    from ..report.json_report import write_json, write_text_atomic
    from ..report.markdown import render_markdown
    from ..report.table import print_report

    report = Report(tuple(rows), command=("infogauss", *sys.argv[1:]))
    if not out.quiet:
        print_report(report.rows, terminal(out.json_out))
    if out.json_out:
        write_json(report, out.json_out)
    if out.markdown:
        write_text_atomic(out.markdown, render_markdown(report.rows))
    if out.html:
        from ..report.html import write_html

        write_html(report.rows, out.html, command=report.command)
    if out.plots:
        from ..report.plots import write_plots

        write_plots(report.rows, out.plots)
    return report.exit_code
