"""The verdict table on the terminal (rich), fitted to the width it is printed at: when too
wide, Objective, Tower, View join the label as a dim second line; then short headers and the
merges again; then the label's second line wraps; then one stacked block per row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from infogauss_cli.core.safe_text import markup_safe as escape  # markup and control characters
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import SYMBOLS
from infogauss_cli.report import cells as C

MERGE_ORDER = ("Objective", "Tower", "View")  # first to leave its column first
SHORT = dict(zip(C.COLUMNS[6:], ("AD mean", "AD ok", "DP mean", "DP ok", "Sph?", "Gauss?")))  # noqa: B905
SHORT_NOTE = "AD ok / DP ok: share of coordinates with A*² < 0.752 / p > 0.05 (iid Gaussian: 95%)"
COLORS = {"✓": "green", "≈": "green", "✗": "red", "?": "yellow", "error": "red"}


def _layout(
    rows: Sequence[Row], merged: int, short: bool, title: str
) -> tuple[list[str], list[list[str]], list[list[str]], str]:
    """Escaped cells; the first ``merged`` of MERGE_ORDER folded into the label's second line;
    ``short``: short headers, null rows without their band, a shared n × d in the title."""
    header, body, nulls = C.table_cells(rows)
    merge = [h for h in ("Tower", "View", "Objective") if h in MERGE_ORDER[:merged]]
    folded = [header.index(h) for h in merge if h in header]
    gone = set(folded)
    if short:
        j = header.index("n × d")
        if len(sizes := {c[j] for c in (*body, *nulls)} - {"–"}) == 1:
            title, gone = f"{title}  (n × d = {sizes.pop()})", gone | {j}
        nulls = [[c.split(" [")[0] for c in n] for n in nulls]
    keep = [i for i in range(1, len(header)) if i not in gone]

    def label(cells: list[str]) -> str:
        extra = " · ".join(escape(cells[i]) for i in folded if cells[i] not in ("–", ""))
        return escape(cells[0]) + (f"\n[dim]{extra}[/]" if extra else "")

    body = [[label(c), *(escape(c[i]) for i in keep)] for c in body]
    nulls = [[escape(c[i]) for i in (0, *keep)] for c in nulls]
    header = [SHORT.get(header[i], header[i]) if short else header[i] for i in (0, *keep)]
    return header, body, nulls, title


def render_table(
    rows: Sequence[Row], *, merged: int = 0, short: bool = False, min_label: int | None = None
) -> Table:
    """The table at one layout step (``min_label``: the label may wrap to that width)."""
    header, body, nulls, title = _layout(rows, merged, short, C.TITLE)
    table = Table(title=title, title_justify="left", header_style="bold")
    numeric = C.NUMERIC | {SHORT.get(h, h) for h in C.NUMERIC}
    for i, name in enumerate(header):
        table.add_column(
            name if short else name.replace(" (", "\n(").replace(" Compliance", "\nCompliance"),
            justify="right" if name in numeric else "left",
            no_wrap=i > 0 or min_label is None,
            min_width=min_label if i == 0 else None,
        )
    if short:
        table.caption, table.caption_justify = SHORT_NOTE, "left"
    for cells, row in zip(body, rows, strict=True):
        marks = [f"[{COLORS[c]}]{c}[/]" if c in COLORS else c for c in cells[-2:]]
        table.add_row(*cells[:-2], *marks, style="red" if row.error else None)
    table.add_section()
    for cells in nulls:
        table.add_row(*cells, style="dim")
    return table


def stacked(rows: Sequence[Row]) -> Group:
    """One block per row: verdict and label, then the numbers."""
    header, body, nulls, _ = _layout(rows, len(MERGE_ORDER), True, C.TITLE)
    parts: list[RenderableType] = [Text(C.TITLE, style="italic")]
    words = {SYMBOLS[c]: f"{SYMBOLS[c]} {C.CALL_WORDS[c]}" for c in C.CALL_WORDS}

    def numbers(cells: list[str], style: str = "") -> Padding:
        pairs = [f"{h} [bold]{c}[/]" for h, c in zip(header[1:-1], cells[1:-1], strict=True)]
        items = [Text.from_markup(p, style=style) for p in pairs]
        return Padding(Columns(items, padding=(0, 3)), (0, 0, 0, 4))

    for cells in body:
        mark = (words.get(cells[-1], cells[-1]), f"bold {COLORS.get(cells[-1], 'red')}")
        label = Text.from_markup(cells[0].replace("\n", "  "), style="bold")
        parts += [Text.assemble(mark, "  ", label), numbers(cells)]
    for cells in nulls:
        parts += [Text(cells[0], style="dim"), numbers(cells, "dim")]
    parts.append(Text(SHORT_NOTE, style="dim"))
    return Group(*parts)


def fitted_table(rows: Sequence[Row], console: Console, width: int) -> Table | Group:
    """The widest layout that fits ``width`` (module docstring for the order)."""
    options = console.options.update_width(100_000)
    for short in (False, True):
        for merged in range(len(MERGE_ORDER) + 1):
            table = render_table(rows, merged=merged, short=short)
            wide = Measurement.get(console, options, table).maximum
            if wide <= width:
                return table
    labels = [Text.from_markup(c[0]).plain.split("\n") for c in _layout(rows, 3, True, "")[1]]
    label = max((len(line) for lines in labels for line in lines), default=0)
    ids = max((len(lines[0]) for lines in labels), default=0)  # ids never break
    if wide - label + ids <= width:  # only the label's second line wraps
        return render_table(rows, merged=len(MERGE_ORDER), short=True, min_label=ids)
    return stacked(rows)


@dataclass(frozen=True)
class TerminalReport:
    """Table, detail table, row errors, calls, warnings and gates: ``console.print(...)``."""

    rows: Sequence[Row]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[object]:
        rows = self.rows
        yield fitted_table(rows, console, options.max_width)
        if C.has_detail(rows):  # one line per quantity, one column per row
            header, body = C.detail_cells(rows)
            title = "detail: projections, sphere uniformity and isotropy, calibration"
            table = Table(title=title, title_justify="left", header_style="bold")
            for i, name in enumerate(header):  # row labels fold rather than end in "…"
                justify = "left" if i == 0 else "right"
                table.add_column(escape(name), justify=justify, no_wrap=i < 2, overflow="fold")
            for cells in body:
                table.add_row(*(escape(c) for c in cells))
            yield table
        lines = []
        for r in rows:
            if r.error:
                lines.append(f"[red]✗ {escape(r.model)}: {escape(r.error)}[/]")
            if r.data.get("skipped"):
                lines.append(f"[yellow]! {escape(r.model)}: {r.data['skipped']} item(s) skipped[/]")
        lines += [escape(text) for text in C.call_lines(rows)]
        lines += [f"[yellow]! {escape(text)}[/]" for text in C.warning_lines(rows)]
        for passed, text in C.gate_lines(rows):
            lines.append(f"{'[green]✓ pass[/]' if passed else '[red]✗ FAIL[/]'}  {escape(text)}")
        yield from (console.render_str(line) for line in lines)
