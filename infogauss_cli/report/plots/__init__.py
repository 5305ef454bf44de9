"""Diagnostic plots (PNG): the :class:`PlotSpec` (``draw(fig)`` fills a matplotlib ``Figure``, no
pyplot), style, rendering and writing; the plots of one row (QQ, A*², p-values, norms; with
``--detail`` spectrum, projection QQ, calibration). Charts across rows: :mod:`.charts`."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.progress import track
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import AD_CRITICAL, DP_ALPHA
from infogauss_cli.report.cells import row_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    Draw = Callable[[Row, Axes], str | None]  # draws one plot; returns what to add to its title

DPI = 110
AD_COLOR, DP_COLOR = "#4c72b0", "#dd8452"
FAIL, NULL = "#cf222e", "#57606a"
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold", "axes.labelsize": 9}
STYLE |= {"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True}
STYLE |= {"grid.alpha": 0.25, "legend.fontsize": 8, "legend.frameon": False, "savefig.dpi": DPI}


@dataclass(frozen=True)
class PlotSpec:
    """One plot: ``draw(fig)`` fills a ``Figure``; ``row``: its row's index (None: across rows)."""

    filename: str
    kind: str
    row: int | None
    title: str
    alt: str
    draw: Callable[[Figure], None]
    width: float = 6.4  # inches


def slug(text: str) -> str:
    """Lowercase, ``[a-z0-9._-]`` only, no leading dots or dashes: safe as a file name part."""
    out = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9._-]+", "-", str(text).lower())).strip("-.")
    return out or "row"


def row_stem(row: Row) -> str:
    """``{slug(model)}-{tower}-{view}``; missing parts are left out."""
    return "-".join(slug(p) for p in (row.model, row.tower, row.protocol.get("view")) if p)


def compliance_bar(
    ax: Axes, x: float, width: float, row: Row, key: str, fmt: str
) -> tuple[float | None, Sequence[float] | None]:
    """A compliance's bar at ``x``, its null band shaded and its value above; (value, band)."""
    value, band = row.metrics.get(key), row.null.get(f"{key}_band")  # [low, high]
    band = band if band and None not in band else None
    if band:
        span = [x - width / 2, x + width / 2]
        ax.fill_between(span, *band, color="#000000", alpha=0.18, lw=0, zorder=3)
    if value is not None:
        ax.bar(x, value, width * 0.94, color=DP_COLOR if "dp_" in key else AD_COLOR, zorder=2)
        top = band[1] if band and band[0] - 0.04 <= value <= band[1] else value
        ax.text(x, top + 0.012, format(value, fmt), ha="center", va="bottom", fontsize=8)
    return value, band


def compliance_axes(ax: Axes, labels: list[str]) -> None:
    """The 95% line of iid Gaussian coordinates, a tick per bar and a percent axis to 110%."""
    from matplotlib.ticker import PercentFormatter

    ax.axhline(0.95, color=NULL, ls="--", lw=1.2, zorder=4, label="iid Gaussian: 95%")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 6 else 0)
    ax.set_ylim(0, 1.1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))


def render(spec: PlotSpec) -> bytes:
    """The plot as PNG bytes."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(spec.width, 4.3), dpi=DPI, layout="constrained")
        spec.draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return buf.getvalue()


def write_figures(out_dir: str | Path, specs: Sequence[PlotSpec]) -> list[Path]:
    """Render ``specs`` one at a time and write each atomically into ``out_dir`` (created)."""
    paths = [Path(out_dir) / spec.filename for spec in specs]
    for spec, path in zip(track(specs, f"plots: {out_dir}"), paths, strict=True):
        atomic_write_bytes(path, render(spec), parents=True)
    return paths


WHERE = (("coord", ""), ("proj", "proj_"))  # the calibration chart's bars
ADNULL_MEAN = 0.385  # mean of A*^2 for iid Gaussian data (large n)
MAX_QQ_POINTS = 1000
# kind: (the array it needs, what it shows, its alt text)
PLOTS = {
    "qq": ("columns", "QQ plot against the normal",
           "QQ plot of a few standardised coordinates of {label} against normal quantiles"),
    "ad": ("ad_statistic", "Anderson-Darling A*² per coordinate", "Histogram of the "
           "per-coordinate Anderson-Darling A*² of {label}, with the 0.752 critical value"),
    "dp": ("dp_pvalue", "D'Agostino-Pearson p-values", "Histogram of the per-coordinate "
           "D'Agostino-Pearson p-values of {label}, against the flat uniform null"),
    "norms": ("norms", "Raw norms", "Histogram of the raw embedding norms of {label}"),
    "spectrum": ("eigenvalues", "Eigen-spectrum of the centred L2 rows",
                 "Eigenvalue spectrum (share of variance per component) of {label}"),
    "projqq": ("proj_columns", "QQ plot of random projections",
               "QQ plot of a few random projections of {label} against normal quantiles"),
    "calibration": ("proj_ad_statistic", "Compliance against its null band",
                    "Coordinate and projection compliances of {label} with their null bands"),
}  # fmt: skip


def _finite(values: object) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def _qq(row: Row, ax: Axes, kind: str) -> None:
    """Standardised columns (``qq``: coordinates, ``projqq``: projections) against the normal."""
    from scipy.stats import norm

    cols = np.asarray(row.arrays[PLOTS[kind][0]], dtype=np.float64)  # (n, the first six)
    noun = "coordinate" if kind == "qq" else "projection"
    lim, shown = 0.0, 0
    for j in range(cols.shape[1]):
        x = np.sort(_finite(cols[:, j]))
        sd = x.std(ddof=1) if x.size > 1 else 0.0
        if sd == 0 or not np.isfinite(sd):
            continue
        z = (x - x.mean()) / sd
        q = norm.ppf((np.arange(1, z.size + 1) - 0.375) / (z.size + 0.25))  # Blom
        keep = np.unique(np.linspace(0, z.size - 1, min(z.size, MAX_QQ_POINTS)).round().astype(int))
        ax.plot(q[keep], z[keep], ".", ms=3, alpha=0.75, label=f"{noun} {j}")
        lim = max(lim, float(np.abs(q).max()), float(np.abs(z).max()))
        shown += 1
    lim = max(lim, 3.0) * 1.05
    ax.plot([-lim, lim], [-lim, lim], "-", color=NULL, lw=1, label="y = x (Gaussian)")
    ax.axis((-lim, lim, -lim, lim))
    ax.set_xlabel("normal quantile")
    ax.set_ylabel(f"standardised {noun}" + (" √d⟨q, u⟩" if kind == "projqq" else ""))
    if not shown:
        ax.text(0, 0.5 * lim, "all shown coordinates are constant", ha="center")
    ax.legend(loc="upper left")


def _ad(row: Row, ax: Axes) -> None:
    raw = row.arrays["ad_statistic"]
    a = _finite(raw)
    compliance = row.metrics.get("ad_compliance") or np.mean(np.asarray(raw, float) < AD_CRITICAL)
    null_mean = row.null.get("ad_mean") or ADNULL_MEAN
    pos = a[a > 0]
    log = pos.size > 0 and pos.max() > 10 * AD_CRITICAL  # supervised models: 10-1000s
    if log:
        lo, hi = max(pos.min(), 1e-3), pos.max()
        edges = np.geomspace(min(lo, hi / 4), hi * 1.001, 31)  # bars wide enough to see
        ax.hist(pos, bins=edges, color=AD_COLOR)
        ax.set_xscale("log")
        ax.set_xlim(min(lo, null_mean) / 1.5, hi * 1.5)  # both reference lines in view
    elif a.size:
        ax.hist(a, bins=np.linspace(0, max(a.max(), 1.0) * 1.05, 41), color=AD_COLOR)
    ax.axvline(AD_CRITICAL, color=FAIL, lw=1.5, label=f"5% critical value ({AD_CRITICAL})")
    ax.axvline(null_mean, color=NULL, lw=1.2, ls="--", label=f"null mean ({null_mean:.3g})")
    ax.set_xlabel("A*² per coordinate" + (" (log scale)" if log else ""))
    ax.set_ylabel("coordinates")
    median = f" · median {np.median(a):.3g}" if a.size else ""
    ax.legend(loc="best", title=f"AD compliance {compliance:.1%}{median}")


def _dp(row: Row, ax: Axes) -> None:
    raw = row.arrays["dp_pvalue"]
    p = np.clip(_finite(raw), 0.0, 1.0)
    compliance = row.metrics.get("dp_compliance") or np.mean(np.asarray(raw, float) > DP_ALPHA)
    ax.hist(p, bins=np.linspace(0, 1, 21), color=DP_COLOR, alpha=0.9)
    expected = p.size / 20
    ax.axhline(expected, color=NULL, lw=1.2, ls="--", label=f"uniform null ({expected:.3g}/bin)")
    ax.axvline(DP_ALPHA, color=FAIL, lw=1.5, label=f"p = {DP_ALPHA}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("D'Agostino-Pearson p-value per coordinate")
    ax.set_ylabel("coordinates")
    ax.legend(loc="best", title=f"DP compliance {compliance:.1%}")


def _norms(row: Row, ax: Axes) -> str:
    x = _finite(row.arrays["norms"])
    mean = float(x.mean()) if x.size else math.nan
    cv = float(x.std() / mean) if x.size and mean > 0 else math.nan
    if x.size:
        ax.hist(x, bins=50, color="#8172b3", alpha=0.9)
    ax.axvline(mean, color=NULL, lw=1.2, ls="--", label=f"mean {mean:.4g}")
    ax.set_xlabel("raw embedding norm ‖x‖")
    ax.set_ylabel("items")
    iso = f"; iid Gaussian ≈ {1 / math.sqrt(2 * d):.3f}" if (d := row.protocol.get("d")) else ""
    ax.legend(loc="upper right")
    return f": CV = {cv:.3f}{iso}"


def _spectrum(row: Row, ax: Axes) -> None:
    lam = _finite(row.arrays["eigenvalues"])
    lam = lam[lam > 0]
    er, pr = row.metrics.get("effective_rank"), row.metrics.get("participation_ratio")
    if lam.size:
        share = lam / lam.sum()
        ax.loglog(np.arange(1, share.size + 1), share, "-", color=AD_COLOR, label="data")
        ax.axhline(1 / share.size, color=NULL, ls="--", lw=1.2, label="isotropic: 1/d")
    ax.set_xlabel("component (largest first)")
    ax.set_ylabel("share of variance")
    title = f"effective rank {er:.0f}, PR {pr:.0f}" if er and pr else None
    ax.legend(loc="lower left", title=title)


def _calibration(row: Row, ax: Axes) -> None:
    bars = [(f"{where}. {k.upper()}", f"{pre}{k}") for where, pre in WHERE for k in ("ad", "dp")]
    for i, (_, key) in enumerate(bars):
        value = compliance_bar(ax, i, 0.64, row, f"{key}_compliance", ".1%")[0]
        ci = row.metrics.get(f"{key}_compliance_ci")  # the bootstrap's, of the coordinates
        if value is not None and ci and all(c is not None for c in ci):
            err = [[value - ci[0]], [ci[1] - value]]
            ax.errorbar(i, value, yerr=err, color="black", capsize=4, zorder=4)
    compliance_axes(ax, [label for label, _ in bars])
    ax.set_ylabel("share that passes (shaded: null band)")
    ax.legend(loc="lower left")


DRAW: dict[str, Draw] = {"qq": partial(_qq, kind="qq"), "ad": _ad, "dp": _dp, "norms": _norms}
DRAW |= {"spectrum": _spectrum, "projqq": partial(_qq, kind="projqq"), "calibration": _calibration}


def _titled(row: Row, kind: str) -> Callable[[Figure], None]:
    p = row.protocol
    size = f"  ·  n={p['n']:,}, d={p['d']:,}" if "n" in p and "d" in p else ""

    def fill(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.set_title(f"{row_label(row)}{size}\n{PLOTS[kind][1]}{DRAW[kind](row, ax) or ''}")

    return fill


def row_specs(row: Row, stem: str, index: int | None) -> list[PlotSpec]:
    """The plots of one row that its arrays allow (an error row has none)."""
    label, arrays = row_label(row), row.arrays or {}
    return [
        PlotSpec(f"{stem}-{kind}.png", kind, index, f"{label}: {what}", alt.format(label=label),
                 _titled(row, kind))
        for kind, (needs, what, alt) in PLOTS.items()
        if arrays.get(needs) is not None and np.size(arrays[needs]) > 0
    ]  # fmt: skip
