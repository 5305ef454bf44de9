"""A self-contained HTML report (inline CSS, ``data:`` images, no scripts, fonts or links): each
part a :class:`Section` from the autoescaping ``templates/``, every value through ``printable``."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

from infogauss_cli import __version__
from infogauss_cli.core.safe_text import printable
from infogauss_cli.judge.model import Report, Row
from infogauss_cli.report import cells as C

if TYPE_CHECKING:
    import jinja2

    from infogauss_cli.report.plots.charts import Series

_MARKS = {"✓": "yes", "≈": "yes", "✗": "no", "?": "maybe", "error": "err"}
_PROTOCOL = (("Row", "model"), ("Backend", "nowrap"), ("Data source", "src"), ("Items", "num"))
_PROTOCOL += (("Skipped", "num"), ("n", "num"), ("d", "num"), ("Seed", "num"))
_PROTOCOL += (("View", ""), ("Precision", ""), ("Device", ""))
# in the protocol table's columns, or already in the row's name and the results table
_SHOWN = frozenset({"n", "d", "seed", "view", "precision", "device", "epoch", "objective"})
_PROVENANCE = {"weights_sha256": "Weights sha256", "weights": "Weights"}
_PROVENANCE["data_fingerprint"] = "Data fingerprint"


@dataclass(frozen=True)
class Section:
    """One ``<h2>`` section: anchor, heading, body, and its ``<h3>`` parts' (anchor, heading)."""

    ident: str
    title: str
    body: Markup
    subsections: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates' jinja2 environment (autoescape on, undefined names an error)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("infogauss_cli.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda v: v if hasattr(v, "__html__") else printable(v),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: object) -> Markup:
    """``template`` rendered with ``context``, as trusted HTML."""
    return Markup(environment().get_template(template).render(**context))


def cell(text: object, cls: str = "", tip: str | None = None, kind: str = "") -> dict[str, object]:
    """A table cell for ``table.html.j2``: its text, CSS class, tooltip and marking span."""
    return {"text": text, "cls": cls, "tip": tip, "kind": kind}


def table(
    header: Sequence[tuple[str, str]],
    lines: Sequence[dict[str, object]],
    *,
    table_cls: str = "results",
    notes: Sequence[tuple[str, str]] = (),
) -> Markup:
    """A scrolling table of (text, class) ``header``, ``lines`` and (names, text) ``notes``."""
    head = [{"text": t, "cls": c} for t, c in header]
    return render("table.html.j2", header=head, lines=lines, table_cls=table_cls, notes=notes)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _text(value: object) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _status(rows: Sequence[Row]) -> dict[str, str]:
    """The status line: rows that failed, gates passed or failed, the exit code."""
    code = Report(tuple(rows)).exit_code
    errors = sum(1 for r in rows if r.error)
    gates = [g.passed for r in rows for g in r.gates]
    parts = [f"{errors} of {len(rows)} row(s) failed to run"] if errors else []
    if not all(gates):
        parts.append(f"{gates.count(False)} of {len(gates)} gate(s) failed")
    elif gates or not errors:
        parts.append(f"all {len(gates)} gate(s) passed" if gates else "no gates asked for")
    cls = "bad" if code else ("ok" if gates else "neutral")
    return {"cls": cls, "text": f"{' · '.join(parts)} · exit code {code}"}


def _results(rows: Sequence[Row]) -> Section:
    """The results table (marks with their reasons as tooltips), reference rows, how to read."""
    header, body, nulls = C.table_cells(rows)
    marks = ("Gaussian?", "Sphere?")
    classes = [
        "num" if h in C.NUMERIC or h == "n × d" else "mark" if h in marks else "" if i else "model"
        for i, h in enumerate(header)
    ]
    lines = []
    for row, cells in zip(rows, body, strict=True):
        v = row.verdict  # the reasons behind a mark, as its tooltip
        sphere = v.sphere.reasons if v and v.sphere else ()
        tips = {"Gaussian?": "; ".join(v.reasons), "Sphere?": "; ".join(sphere)} if v else {}
        out = [cell(t, c) for c, t in zip(classes, cells, strict=True)]
        for h in marks:
            i = header.index(h)
            out[i] |= {"tip": tips.get(h, row.error or ""), "kind": _MARKS.get(cells[i], "")}
        lines.append({"cls": "error" if row.error else "", "cells": out})
    for j, cells in enumerate(nulls):
        out = [cell(x, c) for c, x in zip(classes, cells, strict=True)]
        lines.append({"cls": "null first-null" if j == 0 else "null", "cells": out})
    body_html = table(list(zip(header, classes, strict=True)), lines) + render("reading.html.j2")
    return Section("results", "Results", body_html)


def _detail(rows: Sequence[Row]) -> Section | None:
    if not C.has_detail(rows):
        return None
    header, body = C.detail_cells(rows)
    cls = lambda i: "num" if i else ""  # noqa: E731
    lines = [{"cls": "", "cells": [cell(c, cls(i)) for i, c in enumerate(b)]} for b in body]
    return Section("detail", "Detail", table([(h, cls(i)) for i, h in enumerate(header)], lines))


def _list(ident: str, title: str, items: list[dict[str, object]]) -> Section | None:
    """A list section (calls, gates, warnings, errors): a badge and a line per item."""
    if not items:
        return None
    body = render("items.html.j2", items=items, list_cls="gates" if ident != "errors" else ident)
    return Section(ident, title, body)


def _item(badge: str, cls: str, text: str | None, label: str = "") -> dict[str, object]:
    return {"badge": badge, "badge_cls": cls, "text": text, "label": label}


def _protocol(rows: Sequence[Row]) -> Section:
    """One line per row, then the other settings, a (rows, settings) note per distinct set."""
    lines: list[dict[str, object]] = []
    groups: dict[str, list[str]] = {}
    for r in rows:
        p, d = r.protocol, r.data
        values = [r.backend, d.get("source"), d.get("items"), d.get("skipped")]
        values += [p.get(k) for k in ("n", "d", "seed", "view", "precision", "device")]
        cells = [cell(C.row_label(r), "model")]
        cells += [cell(_text(v), c) for (_, c), v in zip(_PROTOCOL[1:], values, strict=True)]
        if d.get("skipped"):
            cells[4]["kind"] = "warn"
        lines.append({"cls": "", "cells": cells})
        extra = [f"{k} {v}" for k, v in p.items() if k not in _SHOWN and v is not None]
        if extra:
            groups.setdefault(" · ".join(extra), []).append(C.row_label(r))
    notes = [(", ".join(names), text) for text, names in groups.items()]
    body = table(_PROTOCOL, lines, table_cls="protocol", notes=notes)
    return Section("protocol", "Protocol", body)


def _provenance(rows: Sequence[Row]) -> Section | None:
    """Weights and data digests, a line per row that has them."""
    lines: list[dict[str, object]] = []
    for r in rows:
        if any((values := r.provenance or {}).values()):
            cells = [cell(_text(values.get(k)), "src mono") for k in _PROVENANCE]
            lines.append({"cls": "", "cells": [cell(C.row_label(r), "model"), *cells]})
    if not lines:
        return None
    header = [("Row", "model")] + [(h, "src") for h in _PROVENANCE.values()]
    return Section("provenance", "Provenance", table(header, lines, table_cls="protocol"))


def _plots(rows: Sequence[Row]) -> Section | None:
    """The summary charts at the content width, then each row's plots under its own heading."""
    from infogauss_cli.report.plots.charts import figure_pngs  # numpy

    images = figure_pngs(rows)
    if not images:
        return None
    figures = [
        {"src": data_uri(png), "alt": s.alt, "kind": s.kind, "row": s.row} for s, png in images
    ]
    wide = [f for f in figures if f["row"] is None]
    groups = []
    for n, r in enumerate(rows):
        mine = [f for f in figures if f["row"] == n]
        if mine:
            groups.append({"ident": f"plots-{n + 1}", "title": C.row_label(r), "figures": mine})
    body = render("plots.html.j2", wide=wide, groups=groups)
    return Section("plots", "Plots", body, tuple((g["ident"], g["title"]) for g in groups))


def page(
    title: str,
    status: dict[str, str],
    sections: Sequence[Section | None],
    command: str = "",
    created: datetime | None = None,
) -> str:
    """One HTML document: header, status line, contents and ``sections`` (None: left out)."""
    when = (created or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    kw = {"title": title, "version": __version__, "created": when, "command": command}
    shown = [s for s in sections if s is not None]
    return str(render("page.html.j2", status=status, sections=shown, **kw))


def render_html(
    rows: Sequence[Row],
    *,
    title: str = C.TITLE,
    plots: bool = True,
    command: Sequence[str] = (),
    created: datetime | None = None,
    sections: Sequence[Section] = (),
) -> str:
    """The whole report as one HTML document. ``command``: argv (shell-quoted on the page);
    ``created``: default now; ``sections``: more, placed after Results."""
    marks = {True: ("pass", "ok"), False: ("FAIL", "bad")}
    gates = [_item(*marks[ok], text) for ok, text in C.gate_lines(rows)]
    errors = [_item("error", "bad", r.error, C.row_label(r)) for r in rows if r.error]
    parts = [
        _results(rows),
        _list("calls", "Calls", [_item("call", "ok", t) for t in C.call_lines(rows)]),
        *sections,
        _detail(rows),
        _list("gates", "Gates", gates),
        _list("warnings", "Warnings", [_item("note", "warn", t) for t in C.warning_lines(rows)]),
        _list("errors", "Errors", errors),
        _protocol(rows),
        _provenance(rows),
        _plots(rows) if plots else None,
    ]
    return page(title, _status(rows), parts, shlex.join(command), created)


def trajectory_section(series: Sequence[Series]) -> Section:
    """The trajectory plot of ``track`` as a report section."""
    from infogauss_cli.report.plots import render as render_png  # numpy
    from infogauss_cli.report.plots.charts import trajectory_spec

    spec = trajectory_spec(series)
    caption = "One row of the table per checkpoint; the gates apply to the last checkpoint of "
    kw = {"src": data_uri(render_png(spec)), "alt": spec.alt, "caption": caption + "each line."}
    return Section("trajectory", "Trajectory", render("figure.html.j2", wide=True, **kw))
