"""A Markdown table fit for a pull-request comment."""

from __future__ import annotations

from collections.abc import Sequence

from infogauss_cli.core.safe_text import md_cell
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


def _escape(cell: str) -> str:
    return md_cell(cell)


def render_markdown(rows: Sequence[Row]) -> str:
    header, body, nulls = table_cells(rows)
    align = ["---:" if h in NUMERIC else ":---" for h in header]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for cells in body:
        lines.append("| " + " | ".join(_escape(c) for c in cells) + " |")
    for cells in nulls:
        lines.append("| " + " | ".join(f"*{_escape(c)}*" if c else "" for c in cells) + " |")
    if has_detail(rows):
        dh, db = detail_cells(rows)
        lines += ["", "**Detail** (docs/diagnostics.md)", ""]
        lines.append("| " + " | ".join(_escape(h) for h in dh) + " |")
        lines.append("| :--- | ---: |" + " ---: |" * (len(dh) - 2))
        lines += ["| " + " | ".join(_escape(c) for c in cells) + " |" for cells in db]
    calls = call_lines(rows)
    if calls:
        lines.append("")
        lines += [f"- {_escape(text)}" for text in calls]
    warnings = warning_lines(rows)
    if warnings:
        lines.append("")
        lines += [f"- ⚠️ {_escape(text)}" for text in warnings]
    gates = gate_lines(rows)
    if gates:
        lines.append("")
        lines += [f"- {'✅' if ok else '❌'} {_escape(text)}" for ok, text in gates]
    errors = [f"- ❌ {_escape(r.model)}: {_escape(r.error)}" for r in rows if r.error]
    if errors:
        lines += ["", *errors]
    lines += [
        "",
        "AD: modified Anderson-Darling A*² per coordinate (compliance: A*² < 0.752); "
        "DP: D'Agostino-Pearson (compliance: p > 0.05); the reference rows are what the "
        "reference of each view gives at the same n and d (raw: iid Gaussian coordinates; l2: "
        "points uniform on the sphere). Gaussian?: ✓ no departure from a multivariate Gaussian "
        "of any covariance, ≈ departures too small to matter, ✗ not Gaussian, ? too little data "
        "to tell; Sphere?: uniform on the sphere (docs/diagnostics.md).",
    ]
    return "\n".join(lines) + "\n"
