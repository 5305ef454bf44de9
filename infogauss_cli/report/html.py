"""A self-contained HTML report: the table, gates, errors, protocol and embedded plots.

One file with inline CSS and ``data:`` images: no scripts, fonts or links, so it views the same
with no network (a CI artifact, an e-mail attachment). Every string from the user or the data
is escaped.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from .cells import NUMERIC, detail_cells, gate_lines, has_detail, table_cells
from .cells import row_label as _label
from .model import Report, Row

DEFAULT_TITLE = "infogauss: are the embeddings Gaussian?"

_CSS = """
:root { color-scheme: light; --fg: #1f2328; --dim: #656d76; --line: #d0d7de;
  --zebra: #f6f8fa; --pass: #1a7f37; --fail: #cf222e; --pass-bg: #dafbe1; --fail-bg: #ffebe9;
  --note-bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--fg); line-height: 1.45; font-size: 14px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 18px 0 8px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
  monospace; font-size: 12.5px; }
.meta { color: var(--dim); margin: 0; }
.meta code { color: var(--fg); background: var(--zebra); padding: 1px 5px; border-radius: 4px;
  word-break: break-all; }
.status { display: inline-block; margin: 14px 0 0; padding: 6px 12px; border-radius: 6px;
  font-weight: 600; border: 1px solid; }
.status.ok { color: var(--pass); background: var(--pass-bg); border-color: #aceebb; }
.status.bad { color: var(--fail); background: var(--fail-bg); border-color: #ffcecb; }
.status.neutral { color: var(--dim); background: var(--zebra); border-color: var(--line); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 9px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { font-weight: 600; background: var(--zebra); border-bottom: 2px solid var(--line);
  vertical-align: bottom; }
table.results { font-size: 13.5px; }
tbody tr:nth-child(even) { background: var(--zebra); }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
td.mark, th.mark { text-align: center; }
td.nowrap { white-space: nowrap; }
td.model { font-weight: 600; white-space: nowrap; }
tr.null td { color: var(--dim); font-style: italic; background: #fff; }
tr.null:first-of-type td, tr.first-null td { border-top: 2px solid var(--line); }
tr.error td { background: var(--fail-bg); }
.yes, .no, .err, .maybe { font-size: 16px; line-height: 1; }
.maybe { color: #b58900; font-weight: 700; }
.yes { color: var(--pass); font-weight: 700; }
.no { color: var(--fail); font-weight: 700; }
.err { color: var(--fail); font-weight: 600; font-size: 13px; }
ul.gates, ul.errors { list-style: none; padding: 0; margin: 0; }
ul.gates li, ul.errors li { padding: 4px 0; }
.badge { display: inline-block; min-width: 44px; text-align: center; padding: 1px 6px;
  margin-right: 8px; border-radius: 10px; font-size: 12px; font-weight: 700; }
.badge.ok { color: var(--pass); background: var(--pass-bg); }
.badge.bad { color: var(--fail); background: var(--fail-bg); }
.note { background: var(--note-bg); border-left: 4px solid var(--line); padding: 10px 14px;
  margin: 14px 0 0; color: #393f46; font-size: 13px; }
.note p { margin: 0 0 6px; } .note p:last-child { margin: 0; }
table.protocol td, table.protocol th { font-size: 13px; }
table.timing { width: auto; min-width: 50%; }
td.src { word-break: break-all; min-width: 160px; }
.warn { color: #9a6700; font-weight: 600; }
.plots { display: grid; gap: 14px;
  grid-template-columns: repeat(auto-fill, minmax(min(520px, 100%), 1fr)); }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px;
  background: #fff; break-inside: avoid; }
figure img { display: block; width: 100%; height: auto; }
figure.wide { width: 100%; margin-bottom: 14px; }
figure.wide img { max-width: 100%; width: auto; margin: 0 auto; }
nav.toc { margin: 16px 0 0; padding: 8px 12px; background: var(--zebra); border-radius: 6px;
  font-size: 13px; }
nav.toc b { margin-right: 6px; }
nav.toc a { color: #0969da; text-decoration: none; margin-right: 14px; white-space: nowrap; }
nav.toc a:hover { text-decoration: underline; }
nav.toc ul { display: inline; list-style: none; margin: 0; padding: 0; }
nav.toc li { display: inline; }
nav.toc li.sub a { color: var(--dim); margin-right: 10px; }
figcaption { color: var(--dim); font-size: 12.5px; margin-top: 4px; }
footer { margin-top: 32px; color: var(--dim); font-size: 12px; }
@media print { nav.toc { display: none; } main { max-width: none; padding: 0; }
  .plots { display: block; }
  figure { margin-bottom: 12px; } }
"""

_CAPTIONS = {
    "depth": "One line per model, tower and view: compliance (AD solid, DP dashed), effect "
    "size and norm CV against the layer (0 = the embedding output). The dotted line is the "
    "iid-Gaussian 95%.",
    "compare": "Share of coordinates that pass each test. iid Gaussian coordinates sit at 95% "
    "(dashed line; shaded: the null's spread at the same n and d).",
    "qq": "Standardised coordinates against normal quantiles: on the line is Gaussian; an S "
    "shape means heavy or light tails, a bend means skew.",
    "ad": "Left of the red line (0.752) a coordinate passes at the 5% level; iid Gaussian "
    "coordinates centre near the dashed null mean.",
    "dp": "Gaussian coordinates give a flat histogram at the dashed line; a pile-up left of "
    "0.05 means the coordinates are skewed or heavy-tailed.",
    "norms": "Raw (un-normalised) norms; CV = std/mean. An isotropic Gaussian gives about 1/√(2d).",
    "spectrum": "Share of variance per principal component of the centred L2 rows; uniform on "
    "the sphere is flat at 1/d (dashed).",
    "projqq": "Random projections √d⟨q, u⟩ of the L2 rows: by Maxwell-Poincaré they are N(0, 1) "
    "when the rows are uniform on the sphere.",
    "calibration": "Compliances with the null band (shaded) and, with --bootstrap, their CI.",
}

_NOTE = """
<p><b>How to read this.</b> Each coordinate of the embedding is tested for normality across
the n items. <b>AD</b>: the modified Anderson-Darling statistic A*²; a coordinate passes when
A*² &lt; 0.752, the 5% critical value. <b>DP</b>: the D'Agostino-Pearson test of skew and
kurtosis; a coordinate passes when p &gt; 0.05. <b>Compliance</b> is the share of coordinates
that pass. <b>CV</b> is the coefficient of variation of the raw norms (std/mean).</p>
<p>The reference rows are what the reference of each view gives at the same n and d: iid
Gaussian coordinates for the raw view (about 95% pass each test by construction), points uniform
on the sphere for the l2 view (InfoNCE's ideal, whose coordinates pass less often at small d).
Compliance far above the reference is not "more Gaussian". By default a row is called Gaussian
unless a compliance is significantly below its reference (false-alarm rate 5%; --rule paper:
both compliances at least 90%); hover a ✓/✗ for its reasons.</p>
"""

_PROTOCOL = (
    ("Row", "model"),
    ("Backend", "nowrap"),
    ("Data source", "src"),
    ("Items", "num"),
    ("Skipped", "num"),
    ("n", "num"),
    ("d", "num"),
    ("Seed", "num"),
    ("View", ""),
    ("Precision", ""),
    ("Device", ""),
)
_TIMING = (  # (timing key, column header); a column only when some row has it
    ("load_s", "load (s)"),
    ("train_s", "train (s)"),
    ("extract_s", "extract (s)"),
    ("diagnose_s", "diagnose (s)"),
    ("items_per_s", "items/s"),
)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _count(value: Any) -> str:
    if value is None or value == "":
        return "–"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _timings(rows: Sequence[Row]) -> str:
    """Seconds per step, one column per step that some row has: numbers that never wrap."""
    keys = [(k, h) for k, h in _TIMING if any(r.timing.get(k) is not None for r in rows)]
    if not keys:
        return ""
    out = ['<h2 id="timing">Timing</h2><div class="scroll"><table class="protocol timing">']
    out.append('<thead><tr><th class="model">Row</th>')
    out += [f'<th class="num">{_e(h)}</th>' for _, h in keys]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append(f'<tr><td class="model">{_e(_label(r))}</td>')
        for k, _ in keys:
            v = r.timing.get(k)
            text = (
                "–"
                if not isinstance(v, (int, float))
                else f"{v:,.0f}"
                if k == "items_per_s"
                else f"{v:.2f}"
            )
            out.append(f'<td class="num">{text}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _status(rows: Sequence[Row]) -> str:
    code = Report(tuple(rows)).exit_code
    errors = sum(1 for r in rows if r.error)
    gates = [g.passed for r in rows for g in r.gates]
    failed = gates.count(False)
    parts = [f"{errors} of {len(rows)} row(s) failed to run"] if errors else []
    if failed:
        parts.append(f"{failed} of {len(gates)} gate(s) failed")
    elif gates:
        parts.append(f"all {len(gates)} gate(s) passed")
    elif not errors:
        parts.append("no gates asked for")
    cls = "bad" if code else ("ok" if gates else "neutral")
    return f'<div class="status {cls}">{_e(" · ".join(parts))} · exit code {code}</div>'


def _results(rows: Sequence[Row]) -> str:
    header, body, nulls = table_cells(rows)
    verdict, sphere = header.index("Gaussian?"), header.index("Sphere?")

    def cls(i: int, name: str) -> str:
        if name in NUMERIC or name == "n × d":
            return "num"
        if i in (verdict, sphere):
            return "mark"
        return "model" if i == 0 else ""

    classes = [cls(i, h) for i, h in enumerate(header)]
    out = ['<div class="scroll"><table class="results"><thead><tr>']
    out += [f'<th class="{c}">{_e(h)}</th>' for c, h in zip(classes, header, strict=True)]
    out.append("</tr></thead><tbody>")
    for row, cells in zip(rows, body, strict=True):
        out.append('<tr class="error">' if row.error else "<tr>")
        for i, (c, cell) in enumerate(zip(classes, cells, strict=True)):
            text = _e(cell)
            if i in (verdict, sphere):
                tip = _call_tip(row, i == sphere)
                kind = {"✓": "yes", "≈": "yes", "✗": "no", "?": "maybe", "error": "err"}.get(cell)
                span = f'<span class="{kind}">{text}</span>' if kind else text
                out.append(f'<td class="{c}" title="{_e(tip)}">{span}</td>')
            else:
                out.append(f'<td class="{c}">{text}</td>')
        out.append("</tr>")
    for j, cells in enumerate(nulls):
        first = ' class="null first-null"' if j == 0 else ' class="null"'
        out.append(f"<tr{first}>")
        out += [f'<td class="{c}">{_e(x)}</td>' for c, x in zip(classes, cells, strict=True)]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _call_tip(row: Row, sphere: bool) -> str:
    """The reasons behind a Gaussian? (or Sphere?) cell, for its tooltip."""
    v = row.verdict
    if v is None:
        return row.error or ""
    if sphere:
        return "; ".join(v.sphere.reasons) if v.sphere else ""
    return "; ".join(v.reasons)


def _detail(rows: Sequence[Row]) -> str:
    if not has_detail(rows):
        return ""
    header, body = detail_cells(rows)
    out = ['<h2 id="detail">Detail</h2><div class="scroll"><table class="results"><thead><tr>']
    out += [f'<th class="{"" if i == 0 else "num"}">{_e(h)}</th>' for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for cells in body:
        out.append("<tr>")
        out += [f'<td class="{"" if i == 0 else "num"}">{_e(c)}</td>' for i, c in enumerate(cells)]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _gates(rows: Sequence[Row]) -> str:
    lines = gate_lines(rows)
    if not lines:
        return ""
    items = [
        f'<li><span class="badge {"ok" if ok else "bad"}">{"pass" if ok else "FAIL"}</span>'
        f"{_e(text)}</li>"
        for ok, text in lines
    ]
    return '<h2 id="gates">Gates</h2><ul class="gates">' + "".join(items) + "</ul>"


def _errors(rows: Sequence[Row]) -> str:
    items = [
        f'<li><span class="badge bad">error</span><b>{_e(_label(r))}</b>: {_e(r.error)}</li>'
        for r in rows
        if r.error
    ]
    return (
        '<h2 id="errors">Errors</h2><ul class="errors">' + "".join(items) + "</ul>" if items else ""
    )


def _protocol(rows: Sequence[Row]) -> str:
    out = ['<h2 id="protocol">Protocol</h2><div class="scroll"><table class="protocol"><thead><tr>']
    out += [f'<th class="{c}">{_e(name)}</th>' for name, c in _PROTOCOL]
    out.append("</tr></thead><tbody>")
    for r in rows:
        p, d = r.protocol, r.data
        skipped = d.get("skipped")
        skipped_html = (
            f'<span class="warn">{_e(_count(skipped))}</span>' if skipped else _e(_count(skipped))
        )
        cells = [
            _e(_label(r)),
            _e(r.backend or "–"),
            _e(d.get("source") or "–"),
            _e(_count(d.get("items"))),
            skipped_html,
            _e(_count(p.get("n"))),
            _e(_count(p.get("d"))),
            _e(_count(p.get("seed"))),
            _e(p.get("view") or "–"),
            _e(p.get("precision") or "–"),
            _e(p.get("device") or "–"),
        ]
        out.append("<tr>")
        out += [f'<td class="{c}">{x}</td>' for (_, c), x in zip(_PROTOCOL, cells, strict=True)]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out) + _settings(rows)


# in the protocol table's columns, or already in the row's name and the results table
_SHOWN = frozenset({"n", "d", "seed", "view", "precision", "device", "epoch", "objective"})


def _settings(rows: Sequence[Row]) -> str:
    """Protocol keys beyond the table's columns (training settings of synthetic runs, the
    verdict mode), one line per distinct set, naming the rows it applies to."""
    groups: dict[str, list[str]] = {}
    for r in rows:
        extra = [f"{k} {v}" for k, v in r.protocol.items() if k not in _SHOWN and v is not None]
        if extra:
            groups.setdefault(" · ".join(extra), []).append(_label(r))
    if not groups:
        return ""
    lines = [f"<p><b>{_e(', '.join(names))}</b>: {_e(text)}</p>" for text, names in groups.items()]
    return '<div class="note settings">' + "".join(lines) + "</div>"


def _figure(img: Any, wide: bool = False) -> str:
    data = base64.b64encode(img.png).decode("ascii")
    cls = ' class="wide"' if wide else ""
    return (
        f'<figure{cls}><img src="data:image/png;base64,{data}" alt="{_e(img.alt)}">'
        f"<figcaption>{_e(_CAPTIONS.get(img.kind, ''))}</figcaption></figure>"
    )


def _plots(rows: Sequence[Row]) -> str:
    from .plots import figure_pngs

    images = figure_pngs(rows)
    if not images:
        return ""
    out = ['<h2 id="plots">Plots</h2>']
    out += [_figure(img, wide=True) for img in images if img.row is None]
    for i, r in enumerate(rows):
        mine = [img for img in images if img.row == i]
        if mine:
            out.append(f'<h3 id="plots-{i + 1}">{_e(_label(r))}</h3><div class="plots">')
            out += [_figure(img) for img in mine]
            out.append("</div>")
    return "".join(out)


_HEADING = re.compile(r'<h([23]) id="([^"]+)">(.*?)</h\1>')


def _toc(body: str) -> str:
    """Links to every section (h2) and each row's plots (h3) of the rendered body."""
    items = [
        f'<li class="{"sub" if level == "3" else ""}"><a href="#{ident}">{text}</a></li>'
        for level, ident, text in _HEADING.findall(body)
    ]
    return '<nav class="toc"><b>Contents</b><ul>' + "".join(items) + "</ul></nav>"


def render_html(
    rows: Sequence[Row],
    *,
    title: str = DEFAULT_TITLE,
    plots: bool = True,
    command: str | Sequence[str] | None = None,
    created: datetime | None = None,
) -> str:
    """The whole report as one self-contained HTML document.

    ``command``: the command line that produced it (a string, or argv to be shell-quoted);
    ``created``: the time stamp shown (default: now, local time); ``plots``: embed the
    plots of :func:`infogauss_cli.report.plots.figure_pngs` (needs matplotlib).
    """
    from .. import __version__

    when = (created or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    if command is not None and not isinstance(command, str):
        command = shlex.join(str(c) for c in command)
    meta = f"infogauss {_e(__version__)} · {_e(when)}"
    if command:
        meta += f" · <code>{_e(command)}</code>"
    body = [
        '<h2 id="results">Results</h2>',
        _results(rows),
        f'<div class="note">{_NOTE}</div>',
        _detail(rows),
        _gates(rows),
        _errors(rows),
        _protocol(rows),
        _timings(rows),
        _plots(rows) if plots else "",
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="infogauss {_e(__version__)}">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>",
        "<body><main>",
        f'<header><h1>{_e(title)}</h1><p class="meta">{meta}</p>{_status(rows)}</header>',
        _toc("".join(body)),
        *body,
        f"<footer>Generated by infogauss {_e(__version__)}. Diagnostics after "
        '"InfoNCE Induces Gaussian Distribution" (ICLR 2026).</footer>',
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def write_html(rows: Sequence[Row], path: str | Path, **options: Any) -> Path:
    """Render with :func:`render_html` (same keyword options) and write atomically."""
    from .json_report import write_text_atomic

    path = Path(path)
    write_text_atomic(path, render_html(rows, **options))
    return path
