"""The paper-shaped table as plain cells, shared by the rich, Markdown and HTML renderers, and the
Markdown table fit for a pull-request comment (:func:`render_markdown`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from infogauss_cli.core.safe_text import md_cell
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import Metrics, Verdict

TITLE = "infogauss: are the embeddings Gaussian?"
COLUMNS = ("Model", "Tower", "Objective", "n × d", "View", "CV ↓", "AD Mean (<0.752)")
COLUMNS += ("AD Compliance", "DP Mean (>0.05)", "DP Compliance", "Sphere?", "Gaussian?")
NUMERIC = frozenset(COLUMNS[5:10])
SPHERE_SYMBOLS = {"uniform": "✓", "non-uniform": "✗", "inconclusive": "?"}
CALL_WORDS = {"gaussian": "Gaussian", "practically-gaussian": "practically Gaussian"}
CALL_WORDS |= {"non-gaussian": "not Gaussian", "inconclusive": "inconclusive"}


def _num(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, fmt)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def metric_cells(m: Metrics, sphere: str = "–", gaussian: str = "–") -> list[str]:
    """CV, AD mean, AD compliance, DP mean, DP compliance, Sphere? and Gaussian?."""
    ad, dp = _pct(m.get("ad_compliance")), _pct(m.get("dp_compliance"))
    cv, ad_mean = _num(m.get("norm_cv"), ".3f"), _num(m.get("ad_mean"), ".2f")
    return [cv, ad_mean, ad, _num(m.get("dp_mean_p"), ".3f"), dp, sphere, gaussian]


def call_symbols(verdict: Verdict | None) -> tuple[str, str]:
    """(Sphere?, Gaussian?) symbols of a verdict: ✓ ≈ ✗ ?, or – where not judged."""
    if verdict is None:
        return "–", "–"
    sphere = SPHERE_SYMBOLS[verdict.sphere.call] if verdict.sphere else "–"
    return sphere, verdict.symbol


def _null_cells(n: int, d: int, null: Metrics) -> list[str]:
    """The reference of the row's view at the same n and d (``null.reference``)."""
    ref = str(null.get("reference") or "null: iid Gaussian")
    cells = metric_cells(
        {**null, "norm_cv": 1 / math.sqrt(2 * d)}, "✓", "✓" if "Gaussian" in ref else "–"
    )
    for i, k in ((2, "ad"), (4, "dp")):
        if band := null.get(f"{k}_compliance_band"):
            cells[i] += f" [{100 * band[0]:.0f}–{100 * band[1]:.0f}]"
    return [ref, "", "", f"{n:,} × {d:,}", "", *cells]


def table_cells(rows: Sequence[Row]) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Header, body rows and null rows; columns that are empty in every row are dropped."""
    body: list[list[str]] = []
    seen: dict[tuple[object, ...], list[str]] = {}
    for r in rows:
        p, sized = r.protocol, "n" in r.protocol and "d" in r.protocol
        size = f"{p['n']:,} × {p['d']:,}" if sized else "–"
        sphere, gaussian = call_symbols(r.verdict)
        body.append([r.model, r.tower or "–", r.objective or "–", size, str(p.get("view", "–"))])
        body[-1] += metric_cells(r.metrics, sphere, "error" if r.error else gaussian)
        key = (p.get("n"), p.get("d"), r.null.get("reference"))
        if r.null and sized and key not in seen:
            seen[key] = _null_cells(p["n"], p["d"], r.null)
    nulls = list(seen.values())
    merged = ("Tower", "Objective", "View")
    keep = [i for i, h in enumerate(COLUMNS) if h not in merged or any(b[i] != "–" for b in body)]
    header = [COLUMNS[i] for i in keep]
    pick = lambda cells: [cells[i] for i in keep]  # noqa: E731
    return header, [pick(b) for b in body], [pick(n) for n in nulls]


def row_label(row: Row) -> str:
    """``model [tower] (view)``: how gate lines, plots and the HTML name a row."""
    view = row.protocol.get("view")
    return row.model + (f" [{row.tower}]" if row.tower else "") + (f" ({view})" if view else "")


def warning_lines(rows: Sequence[Row]) -> list[str]:
    """One line per row warning (call driven by n, dead coordinates), labelled by row."""
    return [f"{row_label(r)}: {w}" for r in rows for w in r.warnings]


def call_lines(rows: Sequence[Row]) -> list[str]:
    """One line per row: Gaussian? (of which view, and why), uniform on the sphere?, how far."""
    out = []
    for r in rows:
        v = r.verdict
        if v is None or r.error:
            continue
        view = f" ({v.view})" if v.view else ""
        text = f"{row_label(r)}: Gaussian?{view} {v.symbol} {CALL_WORDS[v.call]}"
        if v.call != "gaussian" and v.reasons:
            text += f" ({v.reasons[min(1, len(v.reasons) - 1)]})"
        if v.sphere is not None:
            text += f"; sphere? {SPHERE_SYMBOLS[v.sphere.call]} {v.sphere.call}"
        if (excess := r.metrics.get("effect_excess")) is not None:
            text += f"; how far: effect {excess:+.3f} above the null"
        out.append(text)
    return out


def gate_lines(rows: Sequence[Row]) -> list[tuple[bool, str]]:
    """One (passed, text) per gate result, labelled by row."""
    out = []
    for r in rows:
        label = row_label(r)
        for g in r.gates:
            value = g.value if not isinstance(g.value, float) else f"{g.value:.4g}"
            if g.name == "require":
                text = f"{label}: require {g.threshold}: got {value}"
            elif g.name.startswith("max-drop:") and g.value is not None:
                metric = g.name.partition(":")[2]
                text = f"{label}: {metric} dropped by {value} from the baseline (max {g.threshold})"
            else:
                text = f"{label}: {g.name} = {value} (threshold {g.threshold})"
            if g.note:
                text += f": {g.note}"
            out.append((g.passed, text))
    return out


# ---- the --detail table (transposed: one line per quantity, one column per row) -------------
def _ci(value: Sequence[float | None] | None) -> str:
    if not value or any(v is None for v in value):
        return "–"
    return f"{100 * value[0]:.1f}–{100 * value[1]:.1f}%"


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}"


# (label, metrics key, formatter, null key or a fixed ideal text)
DETAIL_LINES: tuple[tuple[str, str, Callable[[Any], str], str | None], ...] = (
    ("Projections K", "proj_k", str, None),
    ("Proj. AD compliance", "proj_ad_compliance", _pct, "null:proj_ad_compliance"),
    ("Proj. DP compliance", "proj_dp_compliance", _pct, "null:proj_dp_compliance"),
    ("Proj. AD mean", "proj_ad_mean", partial(_num, fmt=".3f"), "null:proj_ad_mean"),
    ("Proj. variance compliance", "proj_var_compliance", _pct, "95.0%"),
    ("Proj. variance p", "proj_var_p", _p, "U(0,1)"),
    ("Uniformity (t=2)", "uniformity", partial(_num, fmt=".4f"), "null:uniformity"),
    ("Uniformity z", "uniformity_z", partial(_num, fmt=".1f"), "|z| < 2"),
    ("Mean norm ‖ū‖", "mean_norm", partial(_num, fmt=".4f"), "null:mean_norm"),
    ("Rayleigh p", "rayleigh_p", _p, "U(0,1)"),
    ("Bingham p (isotropy)", "bingham_p", _p, "U(0,1)"),
    ("Effective rank", "effective_rank", partial(_num, fmt=".1f"), "≤ d"),
    ("Participation ratio", "participation_ratio", partial(_num, fmt=".1f"), "≤ d"),
    ("Condition number", "condition_number", partial(_num, fmt=".3g"), "small"),
    ("Top PC share", "top_pc_share", _pct, "1/d"),
    ("Mardia skew p", "mardia_skew_p", _p, "U(0,1)"),
    ("Mardia kurt p", "mardia_kurt_p", _p, "U(0,1)"),
    ("AD compliance null p", "ad_compliance_null_p", _p, "U(0,1)"),
    ("DP compliance null p", "dp_compliance_null_p", _p, "U(0,1)"),
    ("BH rejected (5% FDR)", "bh_rejected", str, "0"),
    ("KS p (DP p-values)", "ks_p_uniform", _p, "U(0,1)"),
    ("AD compliance 95% CI", "ad_compliance_ci", _ci, None),
    ("DP compliance 95% CI", "dp_compliance_ci", _ci, None),
    ("Paired alignment", "paired_alignment", partial(_num, fmt=".3f"), "0"),
    ("Modality gap", "modality_gap", partial(_num, fmt=".3f"), "0"),
)
DETAIL_KEYS = frozenset(k for _, k, _, _ in DETAIL_LINES)


def has_detail(rows: Sequence[Row]) -> bool:
    return any(not r.error and DETAIL_KEYS & set(r.metrics) for r in rows)


def detail_cells(rows: Sequence[Row]) -> tuple[list[str], list[list[str]]]:
    """Header (Quantity, Ideal, a column per row) and a line per quantity some row has."""
    shown = [r for r in rows if not r.error]
    header = ["Quantity", "Ideal", *[row_label(r) for r in shown]]
    body = []
    for label, key, fmt, ideal in DETAIL_LINES:
        if not any(r.metrics.get(key) is not None for r in shown):
            continue
        ideal_text = ideal or ""
        if ideal and ideal.startswith("null:"):  # the first row's null value
            val = next((v for r in shown if (v := r.null.get(ideal[5:])) is not None), None)
            ideal_text = fmt(val) if val is not None else "–"
        cells = [fmt(r.metrics[key]) if r.metrics.get(key) is not None else "–" for r in shown]
        body.append([label, ideal_text, *cells])
    return header, body


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
    header, body, nulls = table_cells(rows)
    align = ["---:" if h in NUMERIC else ":---" for h in header]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += [_line(cells) for cells in body] + [_line(cells, "*{}*") for cells in nulls]
    if has_detail(rows):
        dh, db = detail_cells(rows)
        lines += ["", "**Detail** (docs/diagnostics.md)", "", _line(dh)]
        lines.append("| :--- | ---: |" + " ---: |" * (len(dh) - 2))
        lines += [_line(cells) for cells in db]
    groups = [
        [f"- {md_cell(t)}" for t in call_lines(rows)],
        [f"- ⚠️ {md_cell(t)}" for t in warning_lines(rows)],
        [f"- {'✅' if ok else '❌'} {md_cell(t)}" for ok, t in gate_lines(rows)],
        [f"- ❌ {md_cell(r.model)}: {md_cell(r.error)}" for r in rows if r.error],
    ]
    for group in [*groups, [READING]]:
        lines += ["", *group] if group else []
    return "\n".join(lines) + "\n"
