"""The depth plot of ``--layers``: metrics against the layer, one line per model x tower x
view. Panels: AD and DP compliance (with the iid-Gaussian 95% line), the effect size when the
rows carry one, and the norm CV of the raw rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from infogauss_cli.judge.model import Row
from infogauss_cli.report.plots.figure import NULL, PlotSpec

DEPTH_FILE = "depth.png"
ALT = (
    "Line charts of AD and DP compliance, effect size and norm CV against the layer, one line "
    "per model, tower and view"
)


def _layer(row: Row) -> int | None:
    from infogauss_cli.pipelines.layers import layer_index

    name = (row.protocol or {}).get("layer")
    return layer_index(name) if name is not None else None


def depth_series(rows: Sequence[Row]) -> dict[str, list[tuple[int, Row]]]:
    """``{"model [tower] (view)": [(layer, row), ...]}`` sorted by layer, for rows that carry
    a ``layer`` and metrics."""
    out: dict[str, list[tuple[int, Row]]] = {}
    for r in rows:
        k = _layer(r)
        if k is None or r.error or not r.metrics:
            continue
        base = r.model.rsplit(" ", 1)[0]
        name = f"{base} [{r.tower}] ({r.protocol.get('view')})"
        out.setdefault(name, []).append((k, r))
    return {name: sorted(pts, key=lambda p: p[0]) for name, pts in out.items()}


def has_depth(rows: Sequence[Row]) -> bool:
    """At least one series with two layers or more."""
    return any(len(pts) > 1 for pts in depth_series(rows).values())


def _draw(series: dict[str, list[tuple[int, Row]]], panels: list[tuple[str, str]]) -> Callable:
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    def values(pts: list[tuple[int, Row]], key: str) -> tuple[list[int], list[float]]:
        got = [(k, r.metrics.get(key)) for k, r in pts]
        got = [(k, v) for k, v in got if v is not None]
        return [k for k, _ in got], [float(v) for _, v in got]

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (key, title) in zip(axes, panels, strict=True):
            for i, (name, pts) in enumerate(series.items()):
                color = f"C{i % 10}"
                if key == "compliance":
                    ax.plot(*values(pts, "ad_compliance"), "o-", color=color, label=name)
                    ax.plot(*values(pts, "dp_compliance"), "s--", color=color)
                else:
                    ax.plot(*values(pts, key), "o-", color=color, label=name)
            if key == "compliance":
                ax.axhline(0.95, color=NULL, lw=0.8, ls=":")
                ax.set_ylim(-0.02, 1.02)
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(title)
            ax.set_xlabel("layer (0 = embeddings)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)))
        fig.suptitle("Gaussianity over depth (dotted grey: iid-Gaussian null, 95%)")

    return draw


def depth_spec(rows: Sequence[Row]) -> PlotSpec:
    """The depth plot of the rows that carry a ``layer``."""
    series = {k: v for k, v in depth_series(rows).items() if len(v) > 1}
    all_rows = [r for pts in series.values() for _, r in pts]
    panels = [("compliance", "Compliance (AD solid, DP dashed)")]
    if any(r.metrics.get("effect_size") is not None for r in all_rows):
        panels.append(("effect_size", "Effect size"))
    panels.append(("norm_cv", "Norm CV (raw rows)"))
    return PlotSpec(
        filename=DEPTH_FILE,
        kind="depth",
        row=None,
        title="Gaussianity over depth",
        alt=ALT,
        draw=_draw(series, panels),
        width=3.6 * len(panels) + 0.6,
    )
