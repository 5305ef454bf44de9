"""``infogauss score``'s renderers: terminal table, per-sample file (parquet or CSV), QQ plot,
HTML page and JSON, from one summary and one list of the most extreme samples."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from markupsafe import Markup
from rich.console import Group
from rich.table import Table

from infogauss_cli import __version__
from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.safe_text import markup_safe, printable
from infogauss_cli.diagnostics.fit import TAIL_LEVEL
from infogauss_cli.judge.model import clean
from infogauss_cli.report import html as H
from infogauss_cli.report.plots import AD_COLOR, NULL, PlotSpec, render

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from infogauss_cli.diagnostics.fit import GaussianFit, ScoreResult

THUMB_PX, TEXT_CHARS = 96, 240
HEADINGS = {"mahalanobis2": "mahalanobis²", "tail_p": "tail p", "nearest_class": "nearest class"}
NUMERIC = ("#", "mahalanobis²", "tail p")  # right-aligned
QQ_CAPTION = (
    "Sorted squared Mahalanobis distances against the quantiles of their exact law: on the "
    "dashed line y = x the Gaussian fits; points above it at the right are heavier tails."
)


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


def _lines(result: ScoreResult, top: int) -> tuple[list[str], list[list[object]]]:
    """The extremes for the table and the page: the header, then a line of cells per sample."""
    p = lambda v: f"{v:.2e}" if v < 1e-3 else f"{v:.4f}"  # noqa: E731
    fmt = {"mahalanobis2": "{:.4g}".format, "tail_p": p}
    header = ["#", *(HEADINGS.get(k, k) for k in columns(result) if k != "loglik")]
    rows = enumerate(extremes(result, top), 1)
    return header, [[str(i), *(fmt.get(k, str)(v) for k, v in row.items())] for i, row in rows]


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


def score_table(result: ScoreResult, fit: GaussianFit, top: int = 10) -> Group:
    """The summary, then the ``top`` most extreme samples (user text escaped)."""
    head = [markup_safe(f"{what:<11}{text}") for what, text in summary(result, fit)]
    header, lines = _lines(result, top)
    table = Table(title=f"the {len(lines)} most extreme samples", title_justify="left")
    for name in header:
        right = name in NUMERIC
        table.add_column(name, justify="right" if right else "left", no_wrap=right)
    for line in lines:
        table.add_row(*map(markup_safe, line))
    return Group(*head, table)


def write_scores(result: ScoreResult, path: str | Path) -> Path:
    """One row per sample (:func:`columns`): CSV (floats round-trip) for ``.csv``, else parquet."""
    path, cols = Path(path), columns(result)
    if path.suffix.lower() == ".csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(
            [list(cols), *zip(*cols.values(), strict=True)]
        )
        data = buf.getvalue().encode()
    else:
        import pyarrow as pa  # a dependency of datasets
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(pa.table(cols), sink)
        data = sink.getvalue().to_pybytes()
    atomic_write_bytes(path, data, parents=True)
    return path


def _draw_qq(result: ScoreResult, fig: Figure) -> None:
    q, d2 = result.qq
    ax = fig.add_subplot()
    ax.plot(q, d2, ".", ms=3, color=AD_COLOR, label=f"{len(result.ids):,} samples")
    lo, hi = min(np.nanmin(q), np.nanmin(d2)), max(np.nanmax(q), np.nanmax(d2))
    ax.plot([lo, hi], [lo, hi], "--", color=NULL, lw=1, label="y = x")
    ax.set_xlabel("quantile of the law")
    ax.set_ylabel("squared Mahalanobis distance (sorted)")
    ax.set_title("\n".join(textwrap.wrap(f"QQ against {result.law}", 70)), fontsize="medium")
    ax.legend(loc="lower right")  # the points run from lower left to upper right


def qq_png(result: ScoreResult) -> bytes:
    """The QQ plot (sorted distances against the law's quantiles, with y = x) as PNG bytes."""
    alt = f"QQ plot of the squared Mahalanobis distances against {result.law}"
    spec = PlotSpec("qq.png", "score-qq", None, "QQ plot", alt, lambda f: _draw_qq(result, f))
    return render(spec)


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
    """One self-contained page: summary, QQ plot, the ``top`` most extreme samples; a thumbnail
    by id (an image: a ``Path``, bytes, PIL image or uint8 pixels; or a text); all escaped."""
    lines = summary(result, fit)
    facts = [{"badge": what, "badge_cls": "", "text": text} for what, text in lines]
    alt = f"QQ plot of the distances against {result.law}"
    image = {"src": H.data_uri(qq_png(result)), "alt": alt, "caption": QQ_CAPTION}
    header, extreme = _lines(result, top)
    if thumbnails:  # an item column: what each id shows, "–" for none
        header.insert(2, "item")
        for line in extreme:
            ident = str(line[1])
            line.insert(2, _thumbnail(thumbnails[ident], ident) if ident in thumbnails else "–")
    classes = ["num" if h in NUMERIC else "src mono" if h == "id" else "" for h in header]
    cells = [[H.cell(*tc) for tc in zip(line, classes, strict=True)] for line in extreme]
    body = [{"cls": "", "cells": c} for c in cells]
    table = H.table(list(zip(header, classes, strict=True)), body)
    sections = [
        H.Section("summary", "Summary", H.render("items.html.j2", items=facts, list_cls="gates")),
        H.Section("qq", "QQ plot", H.render("figure.html.j2", wide=True, **image)),
        H.Section("extremes", f"The {len(extreme)} most extreme samples", table),
    ]
    status = {"cls": "neutral", "text": f"{len(result.ids):,} samples scored · {lines[4][1]}"}
    return H.page("infogauss score", status, sections, command)


def score_json(result: ScoreResult, fit: GaussianFit, top: int = 20) -> dict[str, object]:
    """The ``infogauss.score/v1`` document: fit, law, tail share, OOD metrics, distance statistics
    and the ``top`` extremes (every row: --out)."""
    d2 = np.asarray(result.mahalanobis2, dtype=np.float64)
    finite = d2[np.isfinite(d2)]
    stats = {"min": np.min, "median": np.median, "mean": np.mean, "max": np.max}
    fit_doc = {k: getattr(fit, k) for k in ("n", "d", "view", "shrinkage", "intensity", "reason")}
    fit_doc["classes"] = {str(k): int(c.n) for k, c in fit.classes.items()}
    fit_doc["provenance"] = json.loads(json.dumps(dict(fit.provenance), default=str))
    ood = {k: int(v) if k == "n_ood" else v for k, v in (result.ood or {}).items()}
    doc = {
        "schema": "infogauss.score/v1",
        "infogauss_version": __version__,
        "fit": fit_doc,
        "law": result.law,
        "in_sample": bool(result.in_sample),
        "n": len(result.ids),
        "tail_level": TAIL_LEVEL,
        "tail_share": result.tail_share,
        "ood": ood or None,
        "mahalanobis2": {k: f(finite) if finite.size else None for k, f in stats.items()},
        "extremes": extremes(result, top),
    }
    return clean(doc)  # non-finite numbers: null
