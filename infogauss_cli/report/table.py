"""The verdict table on the terminal (rich), fitted to the terminal's width.

The model label and the verdict are always on screen. When the full table is wider than the
terminal it gives way in this order (docs/cli.md, "Narrow terminals"):

1. Objective, then Tower, then View leave their columns and join the label as a second, dim
   line (``text · l2 · infonce``);
2. if that is not enough: back to all columns, with short headers (``AD Mean (<0.752)`` ->
   ``AD mean``, ``AD Compliance`` -> ``AD ok``, ...), the null row without its binomial band,
   and ``n × d`` in the title when every row shares it; then Objective, Tower, View merge into
   the label again, one by one;
3. the label's second line wraps (the model id never breaks);
4. the table stacks: one block per row, the verdict and the label on the first line, the
   numbers below.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from infogauss_cli.core.safe_text import markup_safe as escape  # markup and control characters
from infogauss_cli.judge.model import Row
from infogauss_cli.report.cells import (
    NUMERIC,
    call_lines,
    detail_cells,
    gate_lines,
    has_detail,
    table_cells,
    warning_lines,
)

TITLE = "infogauss: are the embeddings Gaussian?"
MERGE_ORDER = ("Objective", "Tower", "View")  # first to leave its column first
SHORT = {
    "CV ↓": "CV ↓",
    "AD Mean (<0.752)": "AD mean",
    "AD Compliance": "AD ok",
    "DP Mean (>0.05)": "DP mean",
    "DP Compliance": "DP ok",
    "Sphere?": "Sph?",
    "Gaussian?": "Gauss?",
}
SHORT_NOTE = "AD ok / DP ok: share of coordinates with A*² < 0.752 / p > 0.05 (iid Gaussian: 95%)"
_MARKS = {
    "✓": "[green]✓[/]",
    "≈": "[green]≈[/]",
    "✗": "[red]✗[/]",
    "?": "[yellow]?[/]",
    "error": "[red]error[/]",
}


def _long_header(name: str) -> str:
    return name.replace(" (", "\n(").replace(" Compliance", "\nCompliance")


def _layout(
    rows: Sequence[Row], merged: int, short: bool, title: str
) -> tuple[list[str], list[list[str]], list[list[str]], str]:
    """Header, body and null cells (rich markup, values escaped) with the first ``merged`` of
    MERGE_ORDER folded into the label's second line."""
    header, body, nulls = table_cells(rows)
    body = [[escape(c) for c in cells] for cells in body]
    nulls = [[escape(c) for c in cells] for cells in nulls]
    gone = [h for h in MERGE_ORDER[:merged] if h in header]
    order = ("Tower", "View", "Objective")  # the label's second line: text · l2 · infonce
    idx = sorted((header.index(h) for h in gone), key=lambda i: order.index(header[i]))
    keep = [i for i in range(len(header)) if header[i] not in gone]
    new_body = []
    for cells in body:
        extra = [cells[i] for i in idx if cells[i] not in ("–", "")]
        label = cells[0] + (f"\n[dim]{' · '.join(extra)}[/]" if extra else "")
        new_body.append([label, *[cells[i] for i in keep[1:]]])
    new_nulls = [[n[i] for i in keep] for n in nulls]
    new_header = [header[i] for i in keep]
    if short:
        j = new_header.index("n × d") if "n × d" in new_header else None
        sizes = {c[j] for c in (*new_body, *new_nulls) if j is not None and c[j] != "–"}
        if len(sizes) == 1 and j is not None:
            title += f"  (n × d = {sizes.pop()})"
            new_header.pop(j)
            new_body = [c[:j] + c[j + 1 :] for c in new_body]
            new_nulls = [c[:j] + c[j + 1 :] for c in new_nulls]
        new_nulls = [[c.split(" [")[0] for c in n] for n in new_nulls]
        new_header = [SHORT.get(h, h) for h in new_header]
    return new_header, new_body, new_nulls, title


def render_table(
    rows: Sequence[Row],
    title: str = TITLE,
    *,
    merged: int = 0,
    short: bool = False,
    wrap_label: bool = False,
    min_label: int | None = None,
) -> Table:
    """The table at one layout step (``merged`` columns folded into the label, ``short``
    headers, a label that may wrap); :func:`fitted_table` picks the step that fits."""
    header, body, nulls, title = _layout(rows, merged, short, title)
    table = Table(title=title, title_justify="left", header_style="bold")
    long_names = {SHORT.get(h, h): h for h in NUMERIC}
    for i, name in enumerate(header):
        numeric = name in NUMERIC or name in long_names
        table.add_column(
            name if short else _long_header(name),
            justify="right" if numeric else "left",
            no_wrap=not (wrap_label and i == 0),
            min_width=min_label if wrap_label and i == 0 else None,
        )
    if short:
        table.caption, table.caption_justify = SHORT_NOTE, "left"
    for i, (cells, row) in enumerate(zip(body, rows, strict=True)):
        colored = [*cells[:-2], *(_MARKS.get(c, c) for c in cells[-2:])]
        table.add_row(*colored, style="red" if row.error else None, end_section=i == len(body) - 1)
    for cells in nulls:
        table.add_row(*cells, style="dim")
    return table


def _width(console: Console, table: Table) -> int:
    options = console.options.update_width(100_000)
    return Measurement.get(console, options, table).maximum


def stacked(rows: Sequence[Row], title: str = TITLE) -> Group:
    """One block per row: verdict and label, then the numbers (for very narrow terminals)."""
    header, body, nulls, _ = _layout(rows, len(MERGE_ORDER), True, title)
    parts: list[RenderableType] = [Text(title, style="italic")]

    def numbers(cells: list[str], style: str = "") -> Padding:
        pairs = [f"{h} [bold]{c}[/]" for h, c in zip(header[1:-1], cells[1:-1], strict=True)]
        items = [Text.from_markup(p, style=style) for p in pairs]
        return Padding(Columns(items, padding=(0, 3)), (0, 0, 0, 4))

    for cells in body:
        mark = {
            "✓": "✓ Gaussian",
            "≈": "≈ practically Gaussian",
            "✗": "✗ not Gaussian",
            "?": "? inconclusive",
        }.get(cells[-1], cells[-1])
        color = {"✓": "green", "≈": "green", "?": "yellow"}.get(cells[-1], "red")
        label = Text.from_markup(cells[0].replace("\n", "  "), style="bold")
        parts += [Text.assemble((mark, f"bold {color}"), "  ", label), numbers(cells)]
    for cells in nulls:
        parts += [Text(cells[0], style="dim"), numbers(cells, "dim")]
    parts.append(Text(SHORT_NOTE, style="dim"))
    return Group(*parts)


def fitted_table(rows: Sequence[Row], console: Console, title: str = TITLE) -> Table | Group:
    """The widest layout that fits ``console.width`` (module docstring for the order)."""
    merges = range(len(MERGE_ORDER) + 1)
    steps = [(m, False) for m in merges] + [(m, True) for m in merges]
    for merged, short in steps:
        table = render_table(rows, title, merged=merged, short=short)
        width = _width(console, table)
        if width <= console.width:
            return table
    labels = [Text.from_markup(c[0]).plain.split("\n") for c in _layout(rows, 3, True, "")[1]]
    label = max((len(line) for lines in labels for line in lines), default=0)
    ids = max((len(lines[0]) for lines in labels), default=0)  # ids never break
    if width - label + ids <= console.width:  # only the label's second line wraps
        return render_table(
            rows, title, merged=len(MERGE_ORDER), short=True, wrap_label=True, min_label=ids
        )
    return stacked(rows, title)


def render_detail_table(rows: Sequence[Row], title: str = "detail") -> Table:
    """The ``--detail`` quantities: one line per quantity, one column per row."""
    header, body = detail_cells(rows)
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, name in enumerate(header):
        table.add_column(  # row labels fold onto more lines rather than end in "…"
            escape(name), justify="left" if i == 0 else "right", no_wrap=i < 2, overflow="fold"
        )
    for cells in body:
        table.add_row(*(escape(c) for c in cells))
    return table


def print_report(rows: Sequence[Row], console: Console | None = None) -> None:
    """Table (and the detail table), then row errors, then gate outcomes."""
    console = console or Console()
    console.print(fitted_table(rows, console))
    if has_detail(rows):
        console.print(
            render_detail_table(
                rows, "detail: projections, sphere uniformity and isotropy, calibration"
            )
        )
    for r in rows:
        if r.error:
            console.print(f"[red]✗ {escape(r.model)}: {escape(r.error)}[/]")
        skipped = r.data.get("skipped") if r.data else None
        if skipped:
            console.print(f"[yellow]! {escape(r.model)}: {skipped} item(s) skipped[/]")
    for text in call_lines(rows):
        console.print(escape(text))
    for text in warning_lines(rows):
        console.print(f"[yellow]! {escape(text)}[/]")
    for passed, text in gate_lines(rows):
        mark = "[green]✓ pass[/]" if passed else "[red]✗ FAIL[/]"
        console.print(f"{mark}  {escape(text)}")
