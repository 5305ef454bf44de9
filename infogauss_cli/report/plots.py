"""Diagnostic plots (PNG): per row a QQ plot, the A*^2 and p-value histograms and the raw
norms; across rows a bar chart of AD/DP compliance.

matplotlib is imported inside the functions, and only its object API is used (``Figure``,
no pyplot): no GUI backend is ever selected, no global figure list grows, and nothing leaks
between calls. The same code renders to files (``write_plots``) and to bytes for the HTML
report (``figure_pngs``).
"""

from __future__ import annotations

import io
import math
import os
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInputError
from ..verdict import AD_CRITICAL, DP_ALPHA
from .cells import row_label
from .model import Row

KINDS = ("qq", "ad", "dp", "norms")  # per-row plots, in this order
DETAIL_KINDS = ("spectrum", "projqq", "calibration")  # after KINDS, with --detail only
COMPARE_FILE = "compare.png"
DPI = 110
# The comparison chart spans the HTML report's content width (about 1,170 px) at 1:1, so its
# 9 pt labels stay 9 pt on screen, whatever the number of rows.
COMPARE_WIDTH = 10.6  # inches
AD_NULL_MEAN = 0.385  # mean of A*^2 for iid Gaussian data (large n)
MAX_QQ_COLUMNS = 6
MAX_QQ_POINTS = 1000

_WHAT = {
    "qq": "QQ plot against the normal",
    "ad": "Anderson-Darling A*² per coordinate",
    "dp": "D'Agostino-Pearson p-values",
    "norms": "Raw norms",
    "spectrum": "Eigen-spectrum of the centred L2 rows",
    "projqq": "QQ plot of random projections",
    "calibration": "Compliance against its null band",
}
_AD_COLOR, _DP_COLOR = "#4c72b0", "#dd8452"
_FAIL, _NULL = "#cf222e", "#57606a"
_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "savefig.dpi": DPI,
}


@dataclass(frozen=True)
class PlotImage:
    """One rendered plot: its stable file name, what it shows, and the PNG bytes."""

    filename: str
    kind: str  # qq | ad | dp | norms | compare
    row: int | None  # index into the rows given; None for the comparison chart
    title: str
    alt: str
    png: bytes


@dataclass(frozen=True)
class _Spec:
    filename: str
    kind: str
    row: int | None
    title: str
    alt: str
    draw: Callable[[Any], None]  # fills a matplotlib Figure
    width: float = 6.4  # inches


# -- names ---------------------------------------------------------------------------------


def slug(text: str) -> str:
    """Lowercase, ``[a-z0-9._-]`` only, no leading dots or dashes: safe as a file name part."""
    out = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower())
    out = re.sub(r"-{2,}", "-", out).strip("-.")
    return out or "row"


def row_stem(row: Row) -> str:
    """``{slug(model)}-{tower}-{view}``; missing parts are left out."""
    parts = (row.model, row.tower, row.protocol.get("view"))
    return "-".join(slug(p) for p in parts if p)


def _size(row: Row) -> str:
    p = row.protocol
    if "n" in p and "d" in p:
        return f"n={p['n']:,}, d={p['d']:,}"
    return ""


def _heading(row: Row, what: str) -> str:
    size = _size(row)
    return f"{row_label(row)}" + (f"  ·  {size}" if size else "") + f"\n{what}"


# -- per-row plots -------------------------------------------------------------------------


def _finite(values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def _share(values: Any, passes: Callable[[np.ndarray], np.ndarray]) -> float:
    a = np.asarray(values, dtype=np.float64).ravel()
    return float(np.mean(np.isfinite(a) & passes(a))) if a.size else 0.0


def _draw_qq(row: Row) -> Callable[[Any], None]:
    from scipy.stats import norm

    cols = np.asarray(row.arrays["columns"], dtype=np.float64)
    if cols.ndim == 1:
        cols = cols[:, None]
    index = row.arrays.get("column_index")
    index = list(range(cols.shape[1])) if index is None else [int(i) for i in index]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        lim = 0.0
        shown = 0
        for j in range(min(cols.shape[1], MAX_QQ_COLUMNS)):
            x = np.sort(_finite(cols[:, j]))
            sd = x.std(ddof=1) if x.size > 1 else 0.0
            if sd == 0 or not np.isfinite(sd):
                continue
            z = (x - x.mean()) / sd
            q = norm.ppf((np.arange(1, z.size + 1) - 0.375) / (z.size + 0.25))  # Blom
            keep = np.unique(np.linspace(0, z.size - 1, min(z.size, MAX_QQ_POINTS)).round())
            keep = keep.astype(int)
            ax.plot(q[keep], z[keep], ".", ms=3, alpha=0.75, label=f"coordinate {index[j]}")
            lim = max(lim, float(np.abs(q).max()), float(np.abs(z).max()))
            shown += 1
        lim = max(lim, 3.0) * 1.05
        ax.plot([-lim, lim], [-lim, lim], "-", color=_NULL, lw=1, label="y = x (Gaussian)")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("normal quantile")
        ax.set_ylabel("standardised coordinate")
        if not shown:
            ax.text(0, 0.5 * lim, "all shown coordinates are constant", ha="center")
        ax.legend(loc="upper left")
        ax.set_title(_heading(row, _WHAT["qq"]))

    return draw


def _draw_ad(row: Row) -> Callable[[Any], None]:
    raw = row.arrays["ad_statistic"]
    a = _finite(raw)
    compliance = row.metrics.get("ad_compliance")
    if compliance is None:
        compliance = _share(raw, lambda v: v < AD_CRITICAL)
    null_mean = row.null.get("ad_mean") or AD_NULL_MEAN

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        pos = a[a > 0]
        log = pos.size > 0 and pos.max() > 10 * AD_CRITICAL  # supervised models: 10-1000s
        if log:
            lo, hi = max(pos.min(), 1e-3), pos.max()
            edges = np.geomspace(min(lo, hi / 4), hi * 1.001, 31)  # bars wide enough to see
            ax.hist(pos, bins=edges, color=_AD_COLOR)
            ax.set_xscale("log")
            ax.set_xlim(min(lo, null_mean) / 1.5, hi * 1.5)  # both reference lines in view
        elif a.size:
            ax.hist(a, bins=np.linspace(0, max(a.max(), 1.0) * 1.05, 41), color=_AD_COLOR)
        ax.axvline(AD_CRITICAL, color=_FAIL, lw=1.5, label=f"5% critical value ({AD_CRITICAL})")
        ax.axvline(null_mean, color=_NULL, lw=1.2, ls="--", label=f"null mean ({null_mean:.3g})")
        ax.set_xlabel("A*² per coordinate" + (" (log scale)" if log else ""))
        ax.set_ylabel("coordinates")
        median = f" · median {np.median(a):.3g}" if a.size else ""
        ax.legend(loc="best", title=f"AD compliance {compliance:.1%}{median}")
        ax.set_title(_heading(row, _WHAT["ad"]))

    return draw


def _draw_dp(row: Row) -> Callable[[Any], None]:
    raw = row.arrays["dp_pvalue"]
    p = np.clip(_finite(raw), 0.0, 1.0)
    compliance = row.metrics.get("dp_compliance")
    if compliance is None:
        compliance = _share(raw, lambda v: v > DP_ALPHA)
    bins = 20

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        ax.hist(p, bins=np.linspace(0, 1, bins + 1), color=_DP_COLOR, alpha=0.9)
        expected = p.size / bins
        ax.axhline(
            expected, color=_NULL, lw=1.2, ls="--", label=f"uniform null ({expected:.3g}/bin)"
        )
        ax.axvline(DP_ALPHA, color=_FAIL, lw=1.5, label=f"p = {DP_ALPHA}")
        ax.set_xlim(0, 1)
        ax.set_xlabel("D'Agostino-Pearson p-value per coordinate")
        ax.set_ylabel("coordinates")
        ax.legend(loc="best", title=f"DP compliance {compliance:.1%}")
        ax.set_title(_heading(row, _WHAT["dp"]))

    return draw


def _draw_norms(row: Row) -> Callable[[Any], None]:
    x = _finite(row.arrays["norms"])
    mean = float(x.mean()) if x.size else math.nan
    cv = float(x.std() / mean) if x.size and mean > 0 else math.nan
    d = row.protocol.get("d")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        if x.size:
            ax.hist(x, bins=50, color="#8172b3", alpha=0.9)
        ax.axvline(mean, color=_NULL, lw=1.2, ls="--", label=f"mean {mean:.4g}")
        ax.set_xlabel("raw embedding norm ‖x‖")
        ax.set_ylabel("items")
        iso = f"; iid Gaussian ≈ {1 / math.sqrt(2 * d):.3f}" if d else ""
        ax.legend(loc="upper right")
        ax.set_title(_heading(row, f"{_WHAT['norms']}: CV = {cv:.3f}{iso}"))

    return draw


def _draw_spectrum(row: Row) -> Callable[[Any], None]:
    lam = _finite(row.arrays["eigenvalues"])
    lam = lam[lam > 0]
    m = row.metrics

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        if lam.size:
            share = lam / lam.sum()
            ax.loglog(np.arange(1, share.size + 1), share, "-", color=_AD_COLOR, label="data")
            ax.axhline(1 / share.size, color=_NULL, ls="--", lw=1.2, label="isotropic: 1/d")
        ax.set_xlabel("component (largest first)")
        ax.set_ylabel("share of variance")
        er, pr = m.get("effective_rank"), m.get("participation_ratio")
        title = f"effective rank {er:.0f}, PR {pr:.0f}" if er and pr else None
        ax.legend(loc="lower left", title=title)
        ax.set_title(_heading(row, _WHAT["spectrum"]))

    return draw


def _draw_projqq(row: Row) -> Callable[[Any], None]:
    proxy = Row(
        model=row.model,
        tower=row.tower,
        protocol=row.protocol,
        arrays={"columns": row.arrays["proj_columns"], "column_index": None},
    )
    inner = _draw_qq(proxy)

    def draw(fig: Any) -> None:
        inner(fig)
        ax = fig.axes[0]
        for line in ax.get_lines():
            if line.get_label().startswith("coordinate"):
                line.set_label(line.get_label().replace("coordinate", "projection"))
        ax.legend(loc="upper left")
        ax.set_ylabel("standardised projection √d⟨q, u⟩")
        ax.set_title(_heading(row, _WHAT["projqq"]))

    return draw


def _draw_calibration(row: Row) -> Callable[[Any], None]:
    m, null = row.metrics, row.null
    bars = [
        (
            "coord. AD",
            m.get("ad_compliance"),
            _band(null, "ad_compliance_band"),
            m.get("ad_compliance_ci"),
            _AD_COLOR,
        ),
        (
            "coord. DP",
            m.get("dp_compliance"),
            _band(null, "dp_compliance_band"),
            m.get("dp_compliance_ci"),
            _DP_COLOR,
        ),
        (
            "proj. AD",
            m.get("proj_ad_compliance"),
            _band(null, "proj_ad_compliance_band"),
            None,
            _AD_COLOR,
        ),
        (
            "proj. DP",
            m.get("proj_dp_compliance"),
            _band(null, "proj_dp_compliance_band"),
            None,
            _DP_COLOR,
        ),
    ]

    def draw(fig: Any) -> None:
        from matplotlib.ticker import PercentFormatter

        ax = fig.add_subplot()
        for i, (_, value, band, ci, color) in enumerate(bars):
            if band:
                ax.fill_between(
                    [i - 0.4, i + 0.4], *band, color="#000000", alpha=0.18, lw=0, zorder=3
                )
            if value is None:
                continue
            ax.bar(i, value, 0.6, color=color, zorder=2)
            if ci and all(c is not None for c in ci):
                ax.errorbar(
                    i,
                    value,
                    yerr=[[value - ci[0]], [ci[1] - value]],
                    color="black",
                    capsize=4,
                    zorder=4,
                )
            ax.text(i, value + 0.012, f"{value:.1%}", ha="center", va="bottom", fontsize=8)
        ax.axhline(0.95, color=_NULL, ls="--", lw=1.2, zorder=4, label="iid Gaussian: 95%")
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([b[0] for b in bars])
        ax.set_ylim(0, 1.1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("share that passes (shaded: null band)")
        ax.legend(loc="lower left")
        ax.set_title(_heading(row, _WHAT["calibration"]))

    return draw


_DRAW = {
    "qq": _draw_qq,
    "ad": _draw_ad,
    "dp": _draw_dp,
    "norms": _draw_norms,
    "spectrum": _draw_spectrum,
    "projqq": _draw_projqq,
    "calibration": _draw_calibration,
}
_NEEDS = {
    "qq": "columns",
    "ad": "ad_statistic",
    "dp": "dp_pvalue",
    "norms": "norms",
    "spectrum": "eigenvalues",
    "projqq": "proj_columns",
    "calibration": "proj_ad_statistic",
}
_ALT = {
    "qq": "QQ plot of a few standardised coordinates of {label} against normal quantiles",
    "ad": "Histogram of the per-coordinate Anderson-Darling A*² of {label}, "
    "with the 0.752 critical value",
    "dp": "Histogram of the per-coordinate D'Agostino-Pearson p-values of {label}, "
    "against the flat uniform null",
    "norms": "Histogram of the raw embedding norms of {label}",
    "spectrum": "Eigenvalue spectrum (share of variance per component) of {label}",
    "projqq": "QQ plot of a few random projections of {label} against normal quantiles",
    "calibration": "Coordinate and projection compliances of {label} with their null bands",
}


def _has(row: Row, key: str) -> bool:
    if not row.arrays or row.arrays.get(key) is None:
        return False
    return np.asarray(row.arrays[key]).size > 0


def _row_specs(row: Row, stem: str, index: int | None) -> list[_Spec]:
    if row.error:
        return []
    label = row_label(row)
    return [
        _Spec(
            filename=f"{stem}-{kind}.png",
            kind=kind,
            row=index,
            title=f"{label}: {_WHAT[kind]}",
            alt=_ALT[kind].format(label=label),
            draw=_DRAW[kind](row),
        )
        for kind in KINDS + DETAIL_KINDS
        if _has(row, _NEEDS[kind])
    ]


# -- comparison chart ----------------------------------------------------------------------


def _band(null: Any, key: str) -> tuple[float, float] | None:
    band = (null or {}).get(key)
    if band and len(band) == 2 and all(b is not None for b in band):
        return float(band[0]), float(band[1])
    return None


def _tick(row: Row) -> str:
    """A compact, wrapped x tick label: the model on top, ``[tower] (view)`` below."""
    rest = row_label(row)[len(row.model) :].strip()
    return "\n".join([*textwrap.wrap(row.model, 22, break_on_hyphens=True), rest]).strip()


def _draw_compare(rows: Sequence[Row]) -> Callable[[Any], None]:
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        w = 0.36
        banded = False
        for i, r in enumerate(rows):
            if r.error:
                ax.text(i, 0.03, "error", ha="center", color=_FAIL, fontweight="bold")
                continue
            for off, key, color in ((-w / 2, "ad", _AD_COLOR), (w / 2, "dp", _DP_COLOR)):
                band = _band(r.null, f"{key}_compliance_band")
                if band:  # the null's spread at this row's n and d, behind the bar's top
                    ax.fill_between(
                        [i + off - w / 2, i + off + w / 2],
                        *band,
                        color="#000000",
                        alpha=0.18,
                        lw=0,
                        zorder=3,
                    )
                    banded = True
                value = r.metrics.get(f"{key}_compliance")
                if value is None:
                    continue
                ax.bar(i + off, value, w * 0.94, color=color, zorder=2)
                near = band and band[0] - 0.04 <= value <= band[1]
                top = band[1] if near else value  # keep the label clear of the band
                ax.text(i + off, top + 0.012, f"{value:.0%}", ha="center", va="bottom", fontsize=8)
        ax.axhline(0.95, color=_NULL, ls="--", lw=1.2, zorder=4)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([_tick(r) for r in rows], rotation=30 if len(rows) > 6 else 0)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_ylim(0, 1.1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("share of coordinates that pass")
        ax.grid(axis="x", visible=False)
        handles = [
            Patch(color=_AD_COLOR, label=f"AD compliance (A*² < {AD_CRITICAL})"),
            Patch(color=_DP_COLOR, label=f"DP compliance (p > {DP_ALPHA})"),
            ax.get_lines()[-1],
        ]
        handles[-1].set_label("iid Gaussian: 95%")
        if banded:
            handles.append(Patch(color="#000000", alpha=0.18, label="null band"))
        fig.legend(handles=handles, loc="outside lower center", ncol=2)
        ax.set_title("Per-coordinate normality: AD and DP compliance per row")

    return draw


def _compare_spec(rows: Sequence[Row]) -> _Spec:
    return _Spec(
        filename=COMPARE_FILE,
        kind="compare",
        row=None,
        title="AD and DP compliance per row",
        alt="Bar chart of AD and DP compliance per row ("
        + ", ".join(row_label(r) for r in rows)
        + ") with the 95% null line",
        draw=_draw_compare(rows),
        width=COMPARE_WIDTH,
    )


def _comparable(rows: Sequence[Row]) -> bool:
    return any(
        not r.error and ("ad_compliance" in r.metrics or "dp_compliance" in r.metrics) for r in rows
    )


# -- rendering and writing -----------------------------------------------------------------


def _specs(rows: Sequence[Row], compare: bool) -> list[_Spec]:
    out: list[_Spec] = []
    if compare and _comparable(rows):
        out.append(_compare_spec(rows))
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        stem = row_stem(r)
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] > 1:  # the same model/tower/view twice: keep names unique and stable
            stem = f"{stem}-{seen[stem]}"
        out.extend(_row_specs(r, stem, i))
    return out


def _render(spec: _Spec) -> PlotImage:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(spec.width, 4.3), dpi=DPI, layout="constrained")
        spec.draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return PlotImage(spec.filename, spec.kind, spec.row, spec.title, spec.alt, buf.getvalue())


def figure_pngs(rows: Sequence[Row], *, compare: bool = True) -> list[PlotImage]:
    """Every plot as PNG bytes, not written anywhere (the HTML report embeds these).

    The comparison chart comes first (when ``compare`` and a row has compliances), then
    each row's plots in :data:`KINDS` order; rows with an error or no arrays give none.
    """
    from ..progress import track

    return [_render(s) for s in track(_specs(rows, compare), "report: plots")]


def _write(out_dir: Path, specs: Sequence[_Spec]) -> list[Path]:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot create the plots folder {out_dir}: {exc}") from None
    from ..progress import track

    paths = []
    for spec in track(specs, f"plots: {out_dir}"):
        path = out_dir / spec.filename
        data = _render(spec).png  # one figure at a time: memory stays flat
        tmp = out_dir / f".{spec.filename}.{os.getpid()}.tmp"  # atomic; umask respected
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BadInputError(f"cannot write the plot {path}: {exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        paths.append(path)
    return paths


def write_row_plots(row: Row, out_dir: str | Path) -> list[Path]:
    """``{stem}-qq.png``, ``-ad.png``, ``-dp.png``, ``-norms.png`` for one row (those its
    arrays allow; none for an error row); ``stem`` is :func:`row_stem`."""
    return _write(Path(out_dir), _row_specs(row, row_stem(row), None))


def write_compare_plot(rows: Sequence[Row], out_dir: str | Path) -> Path:
    """``compare.png``: AD and DP compliance per row, with the 0.95 null line (and band)."""
    if not rows:
        raise BadInputError("no rows to compare")
    return _write(Path(out_dir), [_compare_spec(rows)])[0]


def write_plots(rows: Sequence[Row], out_dir: str | Path, *, compare: bool = True) -> list[Path]:
    """All plots into ``out_dir`` (created if needed); returns the paths written, in the
    order of :func:`figure_pngs`."""
    return _write(Path(out_dir), _specs(rows, compare))
