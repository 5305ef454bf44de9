"""Diagnostic plots (PNG): per row (:mod:`.rows`) and across rows (:mod:`.charts`), rendered
with :mod:`.figure` to files (:func:`write_plots`) or to bytes for the HTML report
(:func:`figure_pngs`). matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.progress import track
from infogauss_cli.judge.model import Row
from infogauss_cli.report.plots.charts import (
    COMPARE_FILE,
    DEPTH_FILE,
    comparable,
    compare_spec,
    depth_spec,
    has_depth,
)
from infogauss_cli.report.plots.figure import (
    DPI,
    PlotImage,
    PlotSpec,
    render,
    row_stem,
    slug,
    write_figures,
)
from infogauss_cli.report.plots.rows import DETAIL_KINDS, KINDS, row_specs

__all__ = ["COMPARE_FILE", "DEPTH_FILE", "DETAIL_KINDS", "DPI", "KINDS", "PlotImage", "PlotSpec"]
__all__ += ["figure_pngs", "render", "row_stem", "slug", "write_compare_plot", "write_figures"]
__all__ += ["write_plots", "write_row_plots"]


def _specs(rows: Sequence[Row], compare: bool) -> list[PlotSpec]:
    out = [compare_spec(rows)] if compare and comparable(rows) else []
    if has_depth(rows):  # --layers: metrics against the layer
        out.append(depth_spec(rows))
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        stem = row_stem(r)
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] > 1:  # the same model/tower/view twice: keep names unique and stable
            stem = f"{stem}-{seen[stem]}"
        out.extend(row_specs(r, stem, i))
    return out


def figure_pngs(rows: Sequence[Row], *, compare: bool = True) -> list[PlotImage]:
    """Every plot as PNG bytes: the charts across rows first, then each row's plots in
    :data:`KINDS` order; rows with an error or no arrays give none."""
    return [render(s) for s in track(_specs(rows, compare), "report: plots")]


def write_row_plots(row: Row, out_dir: str | Path) -> list[Path]:
    """``{stem}-qq.png``, ``-ad.png``, ... for one row (those its arrays allow)."""
    return write_figures(out_dir, row_specs(row, row_stem(row), None))


def write_compare_plot(rows: Sequence[Row], out_dir: str | Path) -> Path:
    """``compare.png``: AD and DP compliance per row, with the 0.95 null line (and band)."""
    if not rows:
        raise BadInputError("no rows to compare")
    return write_figures(out_dir, [compare_spec(rows)])[0]


def write_plots(rows: Sequence[Row], out_dir: str | Path, *, compare: bool = True) -> list[Path]:
    """All plots into ``out_dir`` (created if needed), in the order of :func:`figure_pngs`."""
    return write_figures(out_dir, _specs(rows, compare))
