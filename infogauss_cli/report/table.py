"""The verdict table on the terminal (rich)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from .cells import NUMERIC, detail_cells, gate_lines, has_detail, table_cells, warning_lines
from .model import Row


def render_table(
    rows: Sequence[Row], title: str = "infogauss: are the embeddings Gaussian?"
) -> Table:
    header, body, nulls = table_cells(rows)
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in header:
        table.add_column(
            name.replace(" (", "\n(").replace(" Compliance", "\nCompliance"),
            justify="right" if name in NUMERIC else "left",
            no_wrap=name in NUMERIC or name in ("Model", "n × d"),
        )
    verdict_col = header.index("Gaussian?")
    for i, (cells, row) in enumerate(zip(body, rows, strict=True)):
        colored = list(cells)
        mark = colored[verdict_col]
        colored[verdict_col] = {"✓": "[green]✓[/]", "✗": "[red]✗[/]"}.get(mark, mark)
        table.add_row(*colored, style="red" if row.error else None, end_section=i == len(body) - 1)
    for cells in nulls:
        table.add_row(*cells, style="dim")
    return table


def render_detail_table(rows: Sequence[Row], title: str = "detail") -> Table:
    """The ``--detail`` quantities: one line per quantity, one column per row."""
    header, body = detail_cells(rows)
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=i < 2)
    for cells in body:
        table.add_row(*cells)
    return table


def print_report(rows: Sequence[Row], console: Console | None = None) -> None:
    """Table (and the detail table), then row errors, then gate outcomes."""
    console = console or Console()
    console.print(render_table(rows))
    if has_detail(rows):
        console.print(
            render_detail_table(
                rows, "detail: projections, sphere uniformity and isotropy, calibration"
            )
        )
    for r in rows:
        if r.error:
            console.print(f"[red]✗ {r.model}: {r.error}[/]")
        skipped = r.data.get("skipped") if r.data else None
        if skipped:
            console.print(f"[yellow]! {r.model}: {skipped} item(s) skipped[/]")
    for text in warning_lines(rows):
        console.print(f"[yellow]! {text}[/]")
    for passed, text in gate_lines(rows):
        mark = "[green]✓ pass[/]" if passed else "[red]✗ FAIL[/]"
        console.print(f"{mark}  {text}")
