"""Diagnostic plots (PNG): per row (:mod:`.rows`), across rows and the entry points
(:mod:`.charts`). Here what every plot shares: the :class:`PlotSpec` (``draw(fig)`` fills a
matplotlib ``Figure``: the object API, no pyplot), the style, :func:`render` and writing."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.progress import track
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import Metrics
from infogauss_cli.report.cells import row_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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


@dataclass(frozen=True)
class PlotImage(PlotSpec):
    """One rendered plot: its spec and the PNG bytes."""

    png: bytes = b""


def slug(text: str) -> str:
    """Lowercase, ``[a-z0-9._-]`` only, no leading dots or dashes: safe as a file name part."""
    out = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9._-]+", "-", str(text).lower())).strip("-.")
    return out or "row"


def row_stem(row: Row) -> str:
    """``{slug(model)}-{tower}-{view}``; missing parts are left out."""
    return "-".join(slug(p) for p in (row.model, row.tower, row.protocol.get("view")) if p)


def heading(row: Row, what: str) -> str:
    p = row.protocol
    size = f"  ·  n={p['n']:,}, d={p['d']:,}" if "n" in p and "d" in p else ""
    return f"{row_label(row)}{size}\n{what}"


def null_band(null: Metrics | None, key: str) -> tuple[float, float] | None:
    """The ``[low, high]`` null band stored under ``key``, or None."""
    band = (null or {}).get(key)
    if band and len(band) == 2 and all(b is not None for b in band):
        return float(band[0]), float(band[1])
    return None


def compliance_bar(
    ax: Axes, x: float, width: float, row: Row, key: str, fmt: str
) -> tuple[float | None, tuple[float, float] | None]:
    """The bar of ``metrics[key]`` (a compliance) at ``x``, the null band of ``key`` shaded
    behind its top and its value above both; returns (value, band)."""
    value, band = row.metrics.get(key), null_band(row.null, f"{key}_band")
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


def render(spec: PlotSpec) -> PlotImage:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(spec.width, 4.3), dpi=DPI, layout="constrained")
        spec.draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return PlotImage(**vars(spec), png=buf.getvalue())


def write_figures(out_dir: str | Path, specs: Sequence[PlotSpec]) -> list[Path]:
    """Render ``specs`` one at a time and write each atomically into ``out_dir``."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot create the plots folder {out_dir}: {exc}") from None
    paths = []
    for spec in track(specs, f"plots: {out_dir}"):
        path = out_dir / spec.filename
        try:
            atomic_write_bytes(path, render(spec).png)
        except OSError as exc:
            raise BadInputError(f"cannot write the plot {path}: {exc}") from None
        paths.append(path)
    return paths
