"""The renderers of ``infogauss score``'s ``ScoreResult`` (and its fit): the terminal table, the
per-sample file (parquet or CSV), the QQ plot, a self-contained HTML page, the JSON document.
One summary and one list of the most extreme samples serve the table, the page and the JSON."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from markupsafe import Markup
from rich.table import Table

from infogauss_cli import __version__
from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.safe_text import markup_safe as escape
from infogauss_cli.core.safe_text import printable
from infogauss_cli.report import html as H
from infogauss_cli.report.plots import AD_COLOR, NULL, PlotSpec, render

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from infogauss_cli.diagnostics.fit import GaussianFit, ScoreResult

SCHEMA = "infogauss.score/v1"
TAIL_LEVEL = 0.01  # the tail share counts p-values below this: 1% when the Gaussian fits
THUMB_PX, TEXT_CHARS = 96, 240
HEADINGS = {"mahalanobis2": "mahalanobis²", "tail_p": "tail p", "nearest_class": "nearest class"}
NUMERIC = ("#", "mahalanobis²", "tail p")
QQ_CAPTION = (
    "Sorted squared Mahalanobis distances against the quantiles of their exact law: on the "
    "dashed line y = x the Gaussian fits; points above it at the right are heavier tails."
)


def _num(x: float) -> float | None:
    """A JSON number: None for NaN and infinities."""
    return float(x) if math.isfinite(x) else None


def columns(result: ScoreResult) -> dict[str, list]:
    """The per-sample columns: id, mahalanobis2, loglik, tail_p (and class, nearest_class)."""
    floats = ("mahalanobis2", "loglik", "tail_p")
    cols = {"id": list(result.ids)}
    cols |= {k: np.asarray(getattr(result, k), dtype=np.float64).tolist() for k in floats}
    classes = {"class": result.labels, "nearest_class": result.nearest}
    return cols | {k: list(v) for k, v in classes.items() if v is not None}


def extremes(result: ScoreResult, top: int) -> list[dict[str, object]]:
    """The ``top`` most extreme samples (every column but loglik): smallest tail p first
    (comparable across the classes' laws), then largest distance; NaN last, ties in order."""
    cols = columns(result)
    del cols["loglik"]
    order = np.lexsort((-np.array(cols["mahalanobis2"]), np.array(cols["tail_p"])))[:top]
    return [{k: v[i] for k, v in cols.items()} for i in order]


def _header(result: ScoreResult) -> list[str]:
    return ["#", *(HEADINGS.get(k, k) for k in columns(result) if k != "loglik")]


def _cells(rank: int, row: Mapping[str, object]) -> list[str]:
    p = float(row["tail_p"])  # type: ignore[arg-type]
    numbers = [f"{row['mahalanobis2']:.4g}", f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"]
    classes = (str(row[k]) for k in ("class", "nearest_class") if k in row)
    return [str(rank), str(row["id"]), *numbers, *classes]


def summary(result: ScoreResult, fit: GaussianFit) -> list[tuple[str, str]]:
    """(what, text) lines of plain text: the fit, the law, the tail share and OOD metrics."""
    m = len(result.ids)
    sd = math.sqrt(TAIL_LEVEL * (1 - TAIL_LEVEL) / max(m, 1))
    classes = f", {len(fit.classes)} classes" if fit.classes else ""
    where = "in-sample rows (those fitted)" if result.in_sample else "new samples"
    tail = f"{result.tail_share:.2%} beyond the 99th percentile of the law (1% expected, "
    lines = [
        ("fit", f"n = {fit.n:,}, d = {fit.d:,}, view {fit.view}{classes}"),
        ("estimator", fit.reason),  # names the estimator (and Ledoit-Wolf's intensity)
        ("scored", f"{m:,} {where}"),
        ("law", result.law),
        ("tail", f"{tail}±{2 * sd:.2%} at this n)"),
    ]
    if o := result.ood:
        text = f"{int(o['n_ood']):,} samples: Mahalanobis AUROC {o['auroc']:.3f}, FPR at 95% TPR "
        text += f"{o['fpr95']:.3f}; cosine-to-mean AUROC {o['auroc_cosine']:.3f}, FPR at 95% "
        lines.append(("OOD", f"{text}TPR {o['fpr95_cosine']:.3f}"))
    return lines


def score_table(result: ScoreResult, fit: GaussianFit, top: int = 10) -> Table:
    """The summary, then the ``top`` most extreme samples (user text escaped)."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    for what, text in summary(result, fit):
        head.add_row(escape(what), escape(text))
    rows = extremes(result, top)
    table = Table(title=f"the {len(rows)} most extreme samples", title_justify="left")
    for name in _header(result):
        right = name in NUMERIC
        table.add_column(name, justify="right" if right else "left", no_wrap=right)
    for rank, row in enumerate(rows, 1):
        table.add_row(*map(escape, _cells(rank, row)))
    out = Table.grid()
    out.add_row(head)
    out.add_row(table)
    return out


def write_scores(result: ScoreResult, path: str | Path) -> Path:
    """One row per sample (:func:`columns`), parquet or CSV by the suffix; CSV floats
    round-trip exactly (Python's repr)."""
    path, cols = Path(path), columns(result)
    if (suffix := path.suffix.lower()) == ".csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows([list(cols), *zip(*cols.values(), strict=True)])
        data = buf.getvalue().encode()
    elif suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            msg = f"--out {path}: parquet needs pyarrow; install it or write .csv"
            raise BadInputError(msg) from None
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table(cols), sink)
        data = sink.getvalue().to_pybytes()
    else:
        raise BadInputError(f"--out {path}: write .parquet or .csv (not {suffix or 'no suffix'!r})")
    atomic_write_bytes(path, data, parents=True)
    return path


def _draw_qq(result: ScoreResult, fig: Figure) -> None:
    q, d2 = (np.asarray(v, dtype=np.float64) for v in result.qq)
    keep = np.isfinite(q) & np.isfinite(d2)
    q, d2 = q[keep], d2[keep]
    ax = fig.add_subplot()
    ax.plot(q, d2, ".", ms=3, color=AD_COLOR, label=f"{len(result.ids):,} samples")
    lo, hi = (min(q.min(), d2.min()), max(q.max(), d2.max())) if q.size else (0.0, 1.0)
    ax.plot([lo, hi], [lo, hi], "--", color=NULL, lw=1, label="y = x")
    ax.set_xlabel("quantile of the law")
    ax.set_ylabel("squared Mahalanobis distance (sorted)")
    ax.set_title(f"QQ against {result.law}")
    ax.legend(loc="lower right")  # the points run from lower left to upper right


def qq_png(result: ScoreResult) -> bytes:
    """The QQ plot (sorted distances against the law's quantiles, with y = x) as PNG bytes."""
    alt = f"QQ plot of the squared Mahalanobis distances against {result.law}"
    spec = PlotSpec("qq.png", "score-qq", None, "QQ plot", alt, lambda f: _draw_qq(result, f))
    return render(spec).png


def write_qq_plot(result: ScoreResult, path: str | Path) -> Path:
    """Write :func:`qq_png` to ``path`` atomically."""
    atomic_write_bytes(path, qq_png(result), parents=True)
    return Path(path)


def _thumbnail(item: object, ident: str) -> object:
    """An ``<img>`` of a small base64 JPEG, a text item (shortened), or why there is none."""
    if isinstance(item, str):
        return item if len(item) <= TEXT_CHARS else item[: TEXT_CHARS - 1] + "…"
    from PIL import Image

    try:
        if isinstance(item, np.ndarray):
            item = Image.fromarray(np.ascontiguousarray(item, dtype=np.uint8))
        elif not isinstance(item, Image.Image):  # a file, or its encoded bytes
            item = Image.open(io.BytesIO(item) if isinstance(item, bytes) else item)  # type: ignore[arg-type]
        image = item.convert("RGB")
        image.thumbnail((THUMB_PX, THUMB_PX))
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=85)
    except (OSError, ValueError, TypeError) as exc:
        return f"(no thumbnail: {exc})"
    uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return Markup('<img src="{}" alt="{}">').format(uri, printable(ident))


def score_html(
    result: ScoreResult,
    fit: GaussianFit,
    thumbnails: Mapping[str, object],
    *,
    top: int = 20,
    command: str = "",
) -> str:
    """One self-contained page: summary, QQ plot, the ``top`` most extreme samples. Thumbnails
    by id: an image (a ``Path``, encoded bytes, a PIL image or uint8 pixels) is shown as a small
    base64 JPEG, a ``str`` (caption, sentence) as text. Every value is escaped."""
    lines = summary(result, fit)
    cells = [{"cls": "", "cells": [H.cell(w, "model"), H.cell(t)]} for w, t in lines]
    head = H.table([("", "model"), ("", "")], cells, table_cls="protocol")
    image = {"src": H.data_uri(qq_png(result)), "caption": QQ_CAPTION}
    alt = f"QQ plot of the distances against {result.law}"
    figure = H.render("figure.html.j2", wide=True, alt=alt, **image)
    header, rows, body = _header(result), extremes(result, top), []
    if thumbnails:
        header.insert(2, "item")
    classes = ["num" if h in NUMERIC else "src mono" if h == "id" else "" for h in header]
    for rank, row in enumerate(rows, 1):
        texts: list[object] = list(_cells(rank, row))
        if thumbnails:
            ident = str(row["id"])
            texts.insert(2, _thumbnail(thumbnails[ident], ident) if ident in thumbnails else "–")
        body.append({"cls": "", "cells": [H.cell(*tc) for tc in zip(texts, classes, strict=True)]})
    title = f"The {len(rows)} most extreme samples"
    table = H.table(list(zip(header, classes, strict=True)), body)
    sections = [H.Section("summary", "Summary", head), H.Section("qq", "QQ plot", figure)]
    sections.append(H.Section("extremes", title, table))
    status = {"cls": "neutral", "text": f"{len(result.ids):,} samples scored · {lines[4][1]}"}
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    kw = {"title": "infogauss score", "version": __version__, "created": when}
    return str(H.render("page.html.j2", status=status, sections=sections, command=command, **kw))


def score_json(result: ScoreResult, fit: GaussianFit, top: int = 20) -> dict[str, object]:
    """The ``infogauss.score/v1`` document (``schemas/score.v1.json``): the fit, the law, the
    tail share, OOD metrics, distance statistics and the ``top`` extremes (every row: --out)."""
    d2 = np.asarray(result.mahalanobis2, dtype=np.float64)
    finite = d2[np.isfinite(d2)]
    stats = {"min": np.min, "median": np.median, "mean": np.mean, "max": np.max}
    plain = lambda v: v.tolist() if isinstance(v, (np.generic, np.ndarray)) else str(v)  # noqa: E731
    fit_doc = {"n": int(fit.n), "d": int(fit.d), "view": fit.view, "shrinkage": fit.shrinkage}
    fit_doc |= {"intensity": float(fit.intensity), "reason": fit.reason}
    fit_doc["classes"] = {str(k): int(c.n) for k, c in fit.classes.items()}
    fit_doc["provenance"] = json.loads(json.dumps(dict(fit.provenance), default=plain))
    ood = {k: int(v) if k == "n_ood" else _num(v) for k, v in (result.ood or {}).items()}
    return {
        "schema": SCHEMA,
        "infogauss_version": __version__,
        "fit": fit_doc,
        "law": result.law,
        "in_sample": bool(result.in_sample),
        "n": len(result.ids),
        "tail_level": TAIL_LEVEL,
        "tail_share": _num(result.tail_share),
        "ood": ood or None,
        "mahalanobis2": {k: _num(f(finite)) if finite.size else None for k, f in stats.items()},
        "extremes": [
            {k: _num(v) if isinstance(v, float) else v for k, v in row.items()}
            for row in extremes(result, top)
        ],
    }
