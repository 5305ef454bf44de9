"""The renderers of ``infogauss score``'s ``ScoreResult`` (and its fit): the terminal table, the
per-sample file (parquet or CSV), the QQ plot, a self-contained HTML page, the JSON document."""

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
from infogauss_cli.core.atomic import atomic_write_bytes, atomic_write_text
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.safe_text import markup_safe as escape
from infogauss_cli.core.safe_text import printable
from infogauss_cli.report import html as H
from infogauss_cli.report.plots import AD_COLOR, NULL, PlotSpec, render

if TYPE_CHECKING:
    import os

    from matplotlib.figure import Figure

    from infogauss_cli.diagnostics.fit import GaussianFit, ScoreResult

    Thumb = str | os.PathLike[str] | np.ndarray

SCHEMA = "infogauss.score/v1"
TAIL_LEVEL = 0.01  # the tail share counts p-values below this: 1% when the Gaussian fits
THUMB_PX, TEXT_CHARS = 96, 240
QQ_CAPTION = (
    "Sorted squared Mahalanobis distances against the quantiles of their exact law: on the "
    "dashed line y = x the Gaussian fits; points above it at the right are heavier tails."
)


def _f(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _num(x: object) -> float | None:
    """A JSON number: None for NaN and infinities."""
    v = float(x)  # type: ignore[arg-type]
    return v if math.isfinite(v) else None


def _order(result: ScoreResult) -> np.ndarray:
    """Row indices, most extreme first: smallest tail p (comparable across the classes' laws),
    then largest distance; NaN last, ties in input order."""
    return np.lexsort((-_f(result.mahalanobis2), _f(result.tail_p)))


def _classes(result: ScoreResult) -> list[tuple[str, tuple[str, ...]]]:
    """(column, values) of ``class`` and ``nearest_class``, those the result has."""
    pairs = (("class", result.labels), ("nearest_class", result.nearest))
    return [(name, tuple(v)) for name, v in pairs if v is not None]


def _p(p: float) -> str:
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


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
        ("tail", tail + f"±{2 * sd:.2%} at this n)"),
    ]
    if result.ood:
        o = result.ood
        text = f"{int(o['n_ood']):,} samples: Mahalanobis AUROC {o['auroc']:.3f}, FPR at 95% TPR "
        text += f"{o['fpr95']:.3f}; cosine-to-mean AUROC {o['auroc_cosine']:.3f}, FPR at 95% "
        lines.append(("OOD", text + f"TPR {o['fpr95_cosine']:.3f}"))
    return lines


def score_table(result: ScoreResult, fit: GaussianFit, top: int = 10) -> Table:
    """The summary, then the ``top`` most extreme samples (user text escaped)."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    for what, text in summary(result, fit):
        head.add_row(escape(what), escape(text))
    title = f"the {min(top, len(result.ids))} most extreme samples"
    extremes = Table(title=title, title_justify="left", header_style="bold")
    extras = _classes(result)
    for name, right in [("#", 1), ("id", 0), ("mahalanobis²", 1), ("tail p", 1)]:
        extremes.add_column(name, justify="right" if right else "left", no_wrap=bool(right))
    for name, _ in extras:
        extremes.add_column(name.replace("_", " "))
    d2, p = _f(result.mahalanobis2), _f(result.tail_p)
    for rank, i in enumerate(_order(result)[:top], 1):
        cells = [str(rank), escape(result.ids[i]), f"{d2[i]:.4g}", _p(p[i])]
        extremes.add_row(*cells, *(escape(v[i]) for _, v in extras))
    out = Table.grid()
    out.add_row(head)
    out.add_row(extremes)
    return out


def write_scores(result: ScoreResult, path: str | Path) -> Path:
    """One row per sample, parquet or CSV by the suffix: id, mahalanobis2, loglik, tail_p
    (and class, nearest_class when known); CSV floats round-trip exactly (Python's repr)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise BadInputError(f"--out {path}: write .parquet or .csv (not {suffix or 'no suffix'!r})")
    floats = {k: _f(getattr(result, k)) for k in ("mahalanobis2", "loglik", "tail_p")}
    cols: dict[str, object] = {"id": [str(i) for i in result.ids], **floats}
    cols |= {name: list(v) for name, v in _classes(result)}
    try:
        if suffix == ".csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(cols)
            lists = [c.tolist() if isinstance(c, np.ndarray) else c for c in cols.values()]
            writer.writerows(zip(*lists, strict=True))
            atomic_write_text(path, buf.getvalue())
            return path
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            msg = f"--out {path}: parquet needs pyarrow; install it or write .csv"
            raise BadInputError(msg) from None
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table(cols), sink)
        atomic_write_bytes(path, sink.getvalue().to_pybytes(), parents=True)
    except OSError as exc:
        raise BadInputError(f"cannot write the scores {path}: {exc}") from None
    return path


def _draw_qq(result: ScoreResult, fig: Figure) -> None:
    q, d2 = _f(result.qq[0]), _f(result.qq[1])
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
    path = Path(path)
    try:
        atomic_write_bytes(path, qq_png(result), parents=True)
    except OSError as exc:
        raise BadInputError(f"cannot write the plot {path}: {exc}") from None
    return path


def _thumbnail(item: Thumb, ident: str) -> object:
    """An ``<img>`` of a small base64 JPEG, a text item (shortened), or why there is none."""
    if isinstance(item, str):
        return item if len(item) <= TEXT_CHARS else item[: TEXT_CHARS - 1] + "…"
    from PIL import Image

    try:
        if isinstance(item, np.ndarray):
            image = Image.fromarray(np.ascontiguousarray(item, dtype=np.uint8)).convert("RGB")
        else:
            with Image.open(item) as opened:
                image = opened.convert("RGB")
        image.thumbnail((THUMB_PX, THUMB_PX))
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=85)
    except (OSError, ValueError, TypeError) as exc:
        return f"(no thumbnail: {exc})"
    uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return Markup('<img src="{}" alt="{}">').format(uri, printable(ident))


def _extremes(result: ScoreResult, thumbnails: Mapping[str, Thumb], top: int) -> H.Section:
    extras = _classes(result)
    item = [("item", "")] if thumbnails else []
    header = [("#", "num"), ("id", "src mono"), *item, ("mahalanobis²", "num"), ("tail p", "num")]
    header += [(name.replace("_", " "), "") for name, _ in extras]
    d2, p, lines = _f(result.mahalanobis2), _f(result.tail_p), []
    for rank, i in enumerate(_order(result)[:top], 1):
        ident = result.ids[i]
        shown = [_thumbnail(thumbnails[ident], ident) if ident in thumbnails else "–"]
        texts = [rank, ident, *(shown if item else []), f"{d2[i]:.4g}", _p(p[i])]
        texts += [v[i] for _, v in extras]
        cells = [H.cell(t, c) for t, (_, c) in zip(texts, header, strict=True)]
        lines.append({"cls": "", "cells": cells})
    title = f"The {min(top, len(result.ids))} most extreme samples"
    return H.Section("extremes", title, H.table(header, lines, table_cls="results"))


def write_score_html(
    result: ScoreResult,
    fit: GaussianFit,
    path: str | Path,
    thumbnails: Mapping[str, Thumb],
    *,
    top: int = 20,
    command: str | None = None,
) -> Path:
    """One self-contained page: summary, QQ plot, the ``top`` most extreme samples. Thumbnails,
    by id: an image (a file as ``pathlib.Path``, or a uint8 HxW(x3) array) is shown as a
    ~96 px base64 JPEG; a ``str`` is a text item (caption, sentence) shown as text, shortened.
    Every value is escaped (autoescape); ids without a thumbnail show "–"."""
    lines = summary(result, fit)
    rows = [{"cls": "", "cells": [H.cell(w, "model"), H.cell(t)]} for w, t in lines]
    head = H.table([("", "model"), ("", "")], rows, table_cls="protocol")
    alt = f"QQ plot of the distances against {result.law}"
    image = {"src": H.data_uri(qq_png(result)), "alt": alt, "caption": QQ_CAPTION}
    figure = H.render("figure.html.j2", wide=True, **image)
    parts = [H.Section("summary", "Summary", head), H.Section("qq", "QQ plot", figure)]
    parts.append(_extremes(result, thumbnails, top))
    status = {"cls": "neutral", "text": f"{len(result.ids):,} samples scored · {lines[4][1]}"}
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    kw = {"title": "infogauss score", "version": __version__, "created": when}
    page = H.render("page.html.j2", status=status, sections=parts, command=command or "", **kw)
    path = Path(path)
    try:
        atomic_write_text(path, str(page))
    except OSError as exc:
        raise BadInputError(f"cannot write the HTML page {path}: {exc}") from None
    return path


def score_json(result: ScoreResult, fit: GaussianFit, top: int = 20) -> dict[str, object]:
    """The ``infogauss.score/v1`` document (``schemas/score.v1.json``): the fit, the law, the
    tail share, OOD metrics, distance statistics and the ``top`` extremes (every row: --out)."""
    d2, p = _f(result.mahalanobis2), _f(result.tail_p)
    finite = d2[np.isfinite(d2)] if np.isfinite(d2).any() else np.array([np.nan])
    got = [finite.min(), np.median(finite), finite.mean(), finite.max()]
    stats = dict(zip(("min", "median", "mean", "max"), map(_num, got), strict=True))
    extras = _classes(result)
    extremes = [
        {"id": str(result.ids[i]), "mahalanobis2": _num(d2[i]), "tail_p": _num(p[i])}
        | {name: str(v[i]) for name, v in extras}
        for i in _order(result)[:top]
    ]
    ood = None
    if result.ood:
        ood = {k: _num(result.ood[k]) for k in ("auroc", "fpr95", "auroc_cosine", "fpr95_cosine")}
        ood["n_ood"] = int(result.ood["n_ood"])
    plain = lambda v: v.tolist() if isinstance(v, (np.generic, np.ndarray)) else str(v)  # noqa: E731
    provenance = json.loads(json.dumps(dict(fit.provenance), default=plain))
    fit_doc = {"n": int(fit.n), "d": int(fit.d), "view": fit.view, "shrinkage": fit.shrinkage}
    fit_doc |= {"intensity": float(fit.intensity), "reason": fit.reason, "provenance": provenance}
    fit_doc["classes"] = {str(k): int(c.n) for k, c in fit.classes.items()}
    return {
        "schema": SCHEMA,
        "infogauss_version": __version__,
        "fit": fit_doc,
        "law": result.law,
        "in_sample": bool(result.in_sample),
        "n": len(result.ids),
        "tail_level": TAIL_LEVEL,
        "tail_share": _num(result.tail_share),
        "ood": ood,
        "mahalanobis2": stats,
        "extremes": extremes,
    }
