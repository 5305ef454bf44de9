"""A self-contained HTML report: the table, gates, errors, protocol and embedded plots.

One file with inline CSS and ``data:`` images: no scripts, fonts or links, so it views the same
with no network (a CI artifact, an e-mail attachment). The page is rendered from the jinja2
templates in ``templates/`` (see :mod:`.templating`): each part is a :class:`Section`, and the
contents bar lists the sections (and each row's plots) from that data.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from infogauss_cli.judge.model import Report, Row
from infogauss_cli.report.cells import (
    NUMERIC,
    call_lines,
    detail_cells,
    gate_lines,
    has_detail,
    row_label,
    table_cells,
    warning_lines,
)
from infogauss_cli.report.templating import Section, cell, figure, render, table

__all__ = ["DEFAULT_TITLE", "Section", "render_html", "write_html"]

DEFAULT_TITLE = "infogauss: are the embeddings Gaussian?"

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


_PROVENANCE = (  # (provenance key, column header)
    ("weights_sha256", "Weights sha256"),
    ("weights", "Weights"),
    ("data_fingerprint", "Data fingerprint"),
)
_MARKS = {"✓": "yes", "≈": "yes", "✗": "no", "?": "maybe", "error": "err"}


def _count(value: Any) -> str:
    if value is None or value == "":
        return "–"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _status(rows: Sequence[Row]) -> dict[str, str]:
    """The status line: rows that failed, gates passed or failed, the exit code."""
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
    return {"cls": cls, "text": f"{' · '.join(parts)} · exit code {code}"}


def _call_tip(row: Row, sphere: bool) -> str:
    """The reasons behind a Gaussian? (or Sphere?) cell, for its tooltip."""
    v = row.verdict
    if v is None:
        return row.error or ""
    if sphere:
        return "; ".join(v.sphere.reasons) if v.sphere else ""
    return "; ".join(v.reasons)


def _column_class(i: int, name: str) -> str:
    if name in NUMERIC or name == "n × d":
        return "num"
    if name in ("Gaussian?", "Sphere?"):
        return "mark"
    return "model" if i == 0 else ""


def _results(rows: Sequence[Row]) -> Section:
    """The results table (Sphere? and Gaussian? cells with their reasons as tooltips), its
    reference rows, and how to read it."""
    header, body, nulls = table_cells(rows)
    classes = [_column_class(i, h) for i, h in enumerate(header)]
    lines = []
    for row, cells in zip(rows, body, strict=True):
        out = []
        for c, name, text in zip(classes, header, cells, strict=True):
            if c == "mark":
                tip = _call_tip(row, name == "Sphere?")
                out.append(cell(text, c, tip=tip, kind=_MARKS.get(text, "")))
            else:
                out.append(cell(text, c))
        lines.append({"cls": "error" if row.error else "", "cells": out})
    for j, cells in enumerate(nulls):
        out = [cell(x, c) for c, x in zip(classes, cells, strict=True)]
        lines.append({"cls": "null first-null" if j == 0 else "null", "cells": out})
    body_html = table(list(zip(header, classes, strict=True)), lines) + render("reading.html.j2")
    return Section("results", "Results", body_html)


def _detail(rows: Sequence[Row]) -> Section | None:
    if not has_detail(rows):
        return None
    header, body = detail_cells(rows)
    cls = lambda i: "" if i == 0 else "num"  # noqa: E731
    lines = [{"cls": "", "cells": [cell(c, cls(i)) for i, c in enumerate(b)]} for b in body]
    return Section("detail", "Detail", table([(h, cls(i)) for i, h in enumerate(header)], lines))


def _items(ident: str, title: str, items: list[dict[str, Any]]) -> Section | None:
    """A list section (gates, warnings, errors): one badge and line per item."""
    if not items:
        return None
    body = render("items.html.j2", items=items, list_cls="gates" if ident != "errors" else ident)
    return Section(ident, title, body)


def _gates(rows: Sequence[Row]) -> Section | None:
    items = [
        {"badge": "pass" if ok else "FAIL", "badge_cls": "ok" if ok else "bad", "text": text}
        for ok, text in gate_lines(rows)
    ]
    return _items("gates", "Gates", items)


def _calls(rows: Sequence[Row]) -> Section | None:
    """One line per row: Gaussian? (and of which view), uniform on the sphere?, how far."""
    items = [{"badge": "call", "badge_cls": "ok", "text": t} for t in call_lines(rows)]
    return _items("calls", "Calls", items)


def _warnings(rows: Sequence[Row]) -> Section | None:
    items = [{"badge": "note", "badge_cls": "warn", "text": t} for t in warning_lines(rows)]
    return _items("warnings", "Warnings", items)


def _errors(rows: Sequence[Row]) -> Section | None:
    items = [
        {"badge": "error", "badge_cls": "bad", "label": row_label(r), "text": r.error}
        for r in rows
        if r.error
    ]
    return _items("errors", "Errors", items)


def _protocol_cells(r: Row) -> list[Any]:
    p, d = r.protocol, r.data
    return [
        row_label(r),
        r.backend or "–",
        d.get("source") or "–",
        _count(d.get("items")),
        _count(d.get("skipped")),
        _count(p.get("n")),
        _count(p.get("d")),
        _count(p.get("seed")),
        p.get("view") or "–",
        p.get("precision") or "–",
        p.get("device") or "–",
    ]


def _protocol(rows: Sequence[Row]) -> Section:
    """One line per row: backend, data, n, d, seed, view, precision, device; then the settings
    beyond those columns."""
    lines = []
    for r in rows:
        cells = [cell(x, c) for (_, c), x in zip(_PROTOCOL, _protocol_cells(r), strict=True)]
        if r.data.get("skipped"):
            cells[4]["kind"] = "warn"
        lines.append({"cls": "", "cells": cells})
    body = table(
        [(h, c) for h, c in _PROTOCOL],
        lines,
        table_cls="protocol",
        notes=_settings(rows),
        notes_cls="settings",
    )
    return Section("protocol", "Protocol", body)


# in the protocol table's columns, or already in the row's name and the results table
_SHOWN = frozenset({"n", "d", "seed", "view", "precision", "device", "epoch", "objective"})


def _settings(rows: Sequence[Row]) -> list[tuple[str, str]]:
    """Protocol keys beyond the table's columns (training settings of synthetic runs, the
    verdict mode), one (rows, settings) pair per distinct set."""
    groups: dict[str, list[str]] = {}
    for r in rows:
        extra = [f"{k} {v}" for k, v in r.protocol.items() if k not in _SHOWN and v is not None]
        if extra:
            groups.setdefault(" · ".join(extra), []).append(row_label(r))
    return [(", ".join(names), text) for text, names in groups.items()]


def _seconds(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    return f"{value:,.0f}" if key == "items_per_s" else f"{value:.2f}"


def _timings(rows: Sequence[Row]) -> Section | None:
    """Seconds per step, one column per step that some row has: numbers that never wrap."""
    keys = [(k, h) for k, h in _TIMING if any(r.timing.get(k) is not None for r in rows)]
    if not keys:
        return None
    header = [("Row", "model")] + [(h, "num") for _, h in keys]
    lines = [
        {
            "cls": "",
            "cells": [cell(row_label(r), "model")]
            + [cell(_seconds(k, r.timing.get(k)), "num") for k, _ in keys],
        }
        for r in rows
    ]
    return Section("timing", "Timing", table(header, lines, table_cls="protocol timing"))


def _text(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v is not None) or "–"
    return str(value)


def _provenance(rows: Sequence[Row]) -> Section | None:
    """The weights' sha256 and identity and the data fingerprint of each row that has them."""
    shown = [r for r in rows if r.provenance and any(r.provenance.values())]
    if not shown:
        return None
    header = [("Row", "model")] + [(h, "src") for _, h in _PROVENANCE]
    lines = [
        {
            "cls": "",
            "cells": [cell(row_label(r), "model")]
            + [cell(_text(r.provenance.get(k)), "src mono") for k, _ in _PROVENANCE],
        }
        for r in shown
    ]
    return Section("provenance", "Provenance", table(header, lines, table_cls="protocol"))


def _plots(rows: Sequence[Row]) -> Section | None:
    """The summary chart at the content width, then each row's plots under its own heading."""
    from infogauss_cli.report.plots import figure_pngs

    images = figure_pngs(rows)
    if not images:
        return None
    shown = lambda img, wide=False: figure(  # noqa: E731
        img.png, img.alt, _CAPTIONS.get(img.kind, ""), wide=wide
    )
    wide = [shown(img, True) for img in images if img.row is None]
    groups = []
    for i, r in enumerate(rows):
        mine = [shown(img) for img in images if img.row == i]
        if mine:
            groups.append({"ident": f"plots-{i + 1}", "title": row_label(r), "figures": mine})
    body = render("plots.html.j2", wide=wide, groups=groups)
    subsections = tuple((g["ident"], g["title"]) for g in groups)
    return Section("plots", "Plots", body, subsections)


def report_sections(
    rows: Sequence[Row], extra: Sequence[Section] = (), *, plots: bool = True
) -> list[Section]:
    """The page's sections in order: results, calls, ``extra``, detail, gates, warnings, errors,
    protocol, provenance, timing, plots (those with something to show)."""
    parts = [
        _results(rows),
        _calls(rows),
        *extra,
        _detail(rows),
        _gates(rows),
        _warnings(rows),
        _errors(rows),
        _protocol(rows),
        _provenance(rows),
        _timings(rows),
        _plots(rows) if plots else None,
    ]
    return [s for s in parts if s is not None]


def render_html(
    rows: Sequence[Row],
    *,
    title: str = DEFAULT_TITLE,
    plots: bool = True,
    command: str | Sequence[str] | None = None,
    created: datetime | None = None,
    sections: Sequence[Section] = (),
) -> str:
    """The whole report as one self-contained HTML document.

    ``command``: the command line that produced it (a string, or argv to be shell-quoted);
    ``created``: the time stamp shown (default: now, local time); ``plots``: embed the
    plots of :func:`infogauss_cli.report.plots.figure_pngs` (needs matplotlib);
    ``sections``: more sections (the paper comparison, a trajectory), placed after Results.
    """
    from infogauss_cli import __version__

    when = (created or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    if command is not None and not isinstance(command, str):
        command = shlex.join(str(c) for c in command)
    page: Markup = render(
        "page.html.j2",
        title=title,
        version=__version__,
        created=when,
        command=command or "",
        status=_status(rows),
        sections=report_sections(rows, sections, plots=plots),
    )
    return str(page)


def write_html(rows: Sequence[Row], path: str | Path, **options: Any) -> Path:
    """Render with :func:`render_html` (same keyword options) and write atomically."""
    from infogauss_cli.report.json_report import write_text_atomic

    path = Path(path)
    write_text_atomic(path, render_html(rows, **options))
    return path
