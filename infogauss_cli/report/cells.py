"""The paper-shaped table as plain cells, shared by the rich, Markdown and HTML renderers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .model import Row

COLUMNS = (
    "Model",
    "Tower",
    "Objective",
    "n × d",
    "View",
    "CV ↓",
    "AD Mean (<0.752)",
    "AD Compliance",
    "DP Mean (>0.05)",
    "DP Compliance",
    "Gaussian?",
)
NUMERIC = frozenset(COLUMNS[5:10])


def _num(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, fmt)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def row_cells(row: Row) -> list[str]:
    p, m = row.protocol, row.metrics
    size = f"{p['n']:,} × {p['d']:,}" if "n" in p and "d" in p else "–"
    if row.error:
        verdict = "error"
    elif row.verdict is None:
        verdict = "–"
    else:
        verdict = "✓" if row.verdict.gaussian else "✗"
    return [
        row.model,
        row.tower or "–",
        row.objective or "–",
        size,
        str(p.get("view", "–")),
        _num(m.get("norm_cv"), ".3f"),
        _num(m.get("ad_mean"), ".2f"),
        _pct(m.get("ad_compliance")),
        _num(m.get("dp_mean_p"), ".3f"),
        _pct(m.get("dp_compliance")),
        verdict,
    ]


def null_cells(n: int, d: int, null: dict[str, Any]) -> list[str]:
    """The null expectation (iid Gaussian coordinates at the same n and d)."""
    band = null.get("ad_compliance_band")
    ad = _pct(null.get("ad_compliance"))
    dp = _pct(null.get("dp_compliance"))
    if band:
        ad += f" [{100 * band[0]:.0f}–{100 * band[1]:.0f}]"
    band = null.get("dp_compliance_band")
    if band:
        dp += f" [{100 * band[0]:.0f}–{100 * band[1]:.0f}]"
    return [
        "null: iid Gaussian",
        "",
        "",
        f"{n:,} × {d:,}",
        "",
        _num(1 / math.sqrt(2 * d), ".3f"),
        _num(null.get("ad_mean"), ".2f"),
        ad,
        _num(null.get("dp_mean_p"), ".3f"),
        dp,
        "✓",
    ]


def table_cells(rows: Sequence[Row]) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Header, body rows and null rows; columns that are empty in every row are dropped."""
    body = [row_cells(r) for r in rows]
    seen: dict[tuple[int, int], list[str]] = {}
    for r in rows:
        p = r.protocol
        if r.null and "n" in p and "d" in p and (p["n"], p["d"]) not in seen:
            seen[(p["n"], p["d"])] = null_cells(p["n"], p["d"], dict(r.null))
    nulls = list(seen.values())
    keep = [
        i
        for i, name in enumerate(COLUMNS)
        if name not in ("Tower", "Objective", "View") or any(b[i] != "–" for b in body)
    ]
    header = [COLUMNS[i] for i in keep]
    pick = lambda cells: [cells[i] for i in keep]  # noqa: E731
    return header, [pick(b) for b in body], [pick(n) for n in nulls]


def row_label(row: Row) -> str:
    """``model [tower] (view)``: how gate lines, plots and the HTML name a row."""
    label = row.model + (f" [{row.tower}]" if row.tower else "")
    return label + (f" ({row.protocol['view']})" if row.protocol.get("view") else "")


def gate_lines(rows: Sequence[Row]) -> list[tuple[bool, str]]:
    """One (passed, text) per gate result, labelled by row when there are several rows."""
    out = []
    for r in rows:
        label = row_label(r)
        for g in r.gates:
            value = g.value if not isinstance(g.value, float) else f"{g.value:.4g}"
            if g.name == "require":
                text = f"{label}: require {g.threshold}: got {value}"
            else:
                text = f"{label}: {g.name} = {value} (threshold {g.threshold})"
            if g.note:
                text += f": {g.note}"
            out.append((g.passed, text))
    return out
