"""A Markdown table fit for a pull-request comment."""

from __future__ import annotations

from collections.abc import Sequence

from infogauss_cli.core.safe_text import md_cell
from infogauss_cli.judge.model import Row
from infogauss_cli.report import cells as C

READING = (
    "AD: modified Anderson-Darling A*² per coordinate (compliance: A*² < 0.752); "
    "DP: D'Agostino-Pearson (compliance: p > 0.05); the reference rows are what the "
    "reference of each view gives at the same n and d (raw: iid Gaussian coordinates; l2: "
    "points uniform on the sphere). Gaussian?: ✓ no departure from a multivariate Gaussian "
    "of any covariance, ≈ departures too small to matter, ✗ not Gaussian, ? too little data "
    "to tell; Sphere?: uniform on the sphere (docs/diagnostics.md)."
)


def _line(cells: Sequence[str], fmt: str = "{}") -> str:
    return "| " + " | ".join(fmt.format(md_cell(c)) if c else "" for c in cells) + " |"


def render_markdown(rows: Sequence[Row]) -> str:
    header, body, nulls = C.table_cells(rows)
    align = ["---:" if h in C.NUMERIC else ":---" for h in header]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += [_line(cells) for cells in body] + [_line(cells, "*{}*") for cells in nulls]
    if C.has_detail(rows):
        dh, db = C.detail_cells(rows)
        lines += ["", "**Detail** (docs/diagnostics.md)", "", _line(dh)]
        lines.append("| :--- | ---: |" + " ---: |" * (len(dh) - 2))
        lines += [_line(cells) for cells in db]
    groups = [
        [f"- {md_cell(t)}" for t in C.call_lines(rows)],
        [f"- ⚠️ {md_cell(t)}" for t in C.warning_lines(rows)],
        [f"- {'✅' if ok else '❌'} {md_cell(t)}" for ok, t in C.gate_lines(rows)],
        [f"- ❌ {md_cell(r.model)}: {md_cell(r.error)}" for r in rows if r.error],
    ]
    for group in [*groups, [READING]]:
        lines += ["", *group] if group else []
    return "\n".join(lines) + "\n"
