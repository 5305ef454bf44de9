"""Charts across rows (``compare.png``; ``depth.png`` of ``--layers``; ``trajectory.png`` of
``track``) and every plot of a report, to files (:func:`write_plots`) or to bytes."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from infogauss_cli.core.progress import track
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import AD_CRITICAL, DP_ALPHA
from infogauss_cli.report import plots as P
from infogauss_cli.report.cells import row_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COMPARE_FILE, DEPTH_FILE, TRAJECTORY_FILE = "compare.png", "depth.png", "trajectory.png"
# The comparison chart spans the HTML report's content width (about 1,170 px at 110 dpi) at
# 1:1, so its 9 pt labels stay 9 pt on screen, whatever the number of rows.
COMPARE_WIDTH = 10.6  # inches


class Series(Protocol):
    """The rows of one model x tower x view over the checkpoints (``pipelines.track.Series``)."""

    name: str
    rows: Sequence[Row]


def _tick(row: Row) -> str:
    """A compact, wrapped x tick label: the model on top, ``[tower] (view)`` below."""
    rest = row_label(row)[len(row.model) :].strip()
    return "\n".join([*textwrap.wrap(row.model, 22, break_on_hyphens=True), rest]).strip()


def _draw_compare(rows: Sequence[Row], fig: Figure) -> None:
    from matplotlib.patches import Patch

    ax = fig.add_subplot()
    w, banded = 0.36, False
    for i, r in enumerate(rows):
        if r.error:
            ax.text(i, 0.03, "error", ha="center", color=P.FAIL, fontweight="bold")
            continue
        for off, key in ((-w / 2, "ad_compliance"), (w / 2, "dp_compliance")):
            banded |= P.compliance_bar(ax, i + off, w, r, key, ".0%")[1] is not None
    P.compliance_axes(ax, [_tick(r) for r in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("share of coordinates that pass")
    ax.grid(axis="x", visible=False)
    handles = [
        Patch(color=P.AD_COLOR, label=f"AD compliance (A*² < {AD_CRITICAL})"),
        Patch(color=P.DP_COLOR, label=f"DP compliance (p > {DP_ALPHA})"),
        ax.get_lines()[-1],
    ]
    if banded:
        handles.append(Patch(color="#000000", alpha=0.18, label="null band"))
    fig.legend(handles=handles, loc="outside lower center", ncol=2)
    ax.set_title("Per-coordinate normality: AD and DP compliance per row")


# ---- line charts: metrics against the layer or the training step ----------------------------
def panels(rows: Sequence[Row], uniformity: bool = True) -> list[tuple[str, str]]:
    """(metric, title) of each panel: compliance, effect size, norm CV, uniformity."""
    has = lambda key: any(r.metrics and r.metrics.get(key) is not None for r in rows)  # noqa: E731
    out = [("compliance", "Compliance (AD solid, DP dashed)")]
    out += [("effect_size", "Effect size")] if has("effect_size") else []
    out.append(("norm_cv", "Norm CV (raw rows)"))
    if uniformity and has("uniformity"):
        out.append(("uniformity", "Uniformity (dotted: uniform sphere)"))
    return out


def _lines(points: Mapping[str, Sequence[tuple[int, Row]]], depth: bool) -> P.PlotSpec:
    """One panel per metric, a line per series; against the layer (``depth``) or the step."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    xlabel = "layer (0 = embeddings)" if depth else "step"
    title = f"Gaussianity over {'depth' if depth else 'training'}"
    shown = panels([r for pts in points.values() for _, r in pts], not depth)

    def values(pts: Sequence[tuple[int, Row]], key: str) -> tuple[list[int], list[float]]:
        got = [(k, r.metrics.get(key)) for k, r in pts]
        return [k for k, v in got if v is not None], [float(v) for _, v in got if v is not None]

    def draw(fig: Figure) -> None:
        axes = fig.subplots(1, len(shown), squeeze=False)[0]
        for ax, (key, name) in zip(axes, shown, strict=True):
            for i, (label, pts) in enumerate(points.items()):
                color = f"C{i % 10}"
                first = "ad_compliance" if key == "compliance" else key
                ax.plot(*values(pts, first), "o-", color=color, label=label)
                if key == "compliance":
                    ax.plot(*values(pts, "dp_compliance"), "s--", color=color)
                if key == "uniformity":
                    ax.plot(*values(pts, "uniformity_ideal"), ":", color=color)
            if key == "compliance":
                ax.axhline(0.95, color=P.NULL, lw=0.8, ls=":")
                ax.set_ylim(-0.02, 1.02)
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            if depth:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(name)
            ax.set_xlabel(xlabel)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)))
        fig.suptitle(f"{title} (dotted grey: iid-Gaussian null, 95%)")

    what = "effect size and norm CV" if depth else "effect size, norm CV and uniformity"
    x = "layer" if depth else "training step"
    alt = f"Line charts of AD and DP compliance, {what} against the {x}, one line per model, "
    alt += "tower and view"
    name = DEPTH_FILE if depth else TRAJECTORY_FILE
    return P.PlotSpec(name, name[:-4], None, title, alt, draw, 3.6 * len(shown) + 0.6)


def depth_series(rows: Sequence[Row]) -> dict[str, list[tuple[int, Row]]]:
    """``{"model [tower] (view)": [(layer, row), ...]}`` of the rows with a ``layer``."""
    out: dict[str, list[tuple[int, Row]]] = {}
    for r in rows:
        digits = "".join(c for c in str(r.protocol.get("layer") or "") if c.isdigit())
        if not digits or r.error or not r.metrics:
            continue
        name = f"{r.model.rsplit(' ', 1)[0]} [{r.tower}] ({r.protocol.get('view')})"
        out.setdefault(name, []).append((int(digits), r))
    return {name: sorted(pts, key=lambda p: p[0]) for name, pts in out.items()}


def trajectory_spec(series: Sequence[Series]) -> P.PlotSpec:
    """The trajectory plot of ``track``: one line per series, against the training step."""
    points = {
        s.name: [(r.step, r) for r in s.rows if r.step is not None and r.metrics] for s in series
    }
    return _lines(points, False)


def _specs(rows: Sequence[Row]) -> list[P.PlotSpec]:
    shown = ({"ad_compliance", "dp_compliance"} & set(r.metrics) for r in rows if not r.error)
    out = []
    if any(shown):  # AD and DP compliance per row
        labels = ", ".join(row_label(r) for r in rows)
        alt = f"Bar chart of AD and DP compliance per row ({labels}) with the 95% null line"
        title, draw = "AD and DP compliance per row", partial(_draw_compare, rows)
        out.append(P.PlotSpec(COMPARE_FILE, "compare", None, title, alt, draw, COMPARE_WIDTH))
    series = {k: v for k, v in depth_series(rows).items() if len(v) > 1}
    if series:  # --layers: metrics against the layer
        out.append(_lines(series, True))
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        stem = P.row_stem(r)
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] > 1:  # the same model/tower/view twice: keep names unique and stable
            stem = f"{stem}-{seen[stem]}"
        out.extend(P.row_specs(r, stem, i))
    return out


def figure_pngs(rows: Sequence[Row]) -> list[tuple[P.PlotSpec, bytes]]:
    """Every plot and its PNG bytes: the charts across rows, then each row's (``PLOTS`` order)."""
    return [(s, P.render(s)) for s in track(_specs(rows), "report: plots")]


def write_plots(rows: Sequence[Row], out_dir: str | Path) -> list[Path]:
    """All plots into ``out_dir`` (created if needed), in the order of :func:`figure_pngs`."""
    return P.write_figures(out_dir, _specs(rows))
