"""The trajectory plot of ``infogauss track``: metrics against the training step, one line per
series (model x tower x view). Panels: AD and DP compliance (with the iid-Gaussian null line),
the effect size when the rows carry one, the norm CV, the Wang-Isola uniformity (dotted: its
value for the uniform sphere). matplotlib is imported inside the functions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

TRAJECTORY_FILE = "trajectory.png"
ALT = (
    "Line charts of AD and DP compliance, effect size, norm CV and uniformity against the "
    "training step, one line per model, tower and view"
)


def _values(rows: Sequence[Any], key: str) -> tuple[list[int], list[float]]:
    pts = [(r.step, r.metrics.get(key)) for r in rows if r.step is not None and r.metrics]
    pts = [(s, v) for s, v in pts if v is not None]
    return [s for s, _ in pts], [float(v) for _, v in pts]


def _panels(series: Sequence[Any]) -> list[tuple[str, str]]:
    rows = [r for s in series for r in s.rows]
    out = [("compliance", "Compliance (AD solid, DP dashed)")]
    if any(r.metrics and r.metrics.get("effect_size") is not None for r in rows):
        out.append(("effect_size", "Effect size"))
    out.append(("norm_cv", "Norm CV (raw rows)"))
    if any(r.metrics and r.metrics.get("uniformity") is not None for r in rows):
        out.append(("uniformity", "Uniformity (dotted: uniform sphere)"))
    return out


def _draw(series: Sequence[Any]) -> Any:
    from matplotlib.ticker import PercentFormatter

    panels = _panels(series)

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        colors = [f"C{i % 10}" for i in range(len(series))]
        for ax, (key, title) in zip(axes, panels, strict=True):
            for s, color in zip(series, colors, strict=True):
                if key == "compliance":
                    x, y = _values(s.rows, "ad_compliance")
                    ax.plot(x, y, "o-", color=color, label=s.name)
                    x, y = _values(s.rows, "dp_compliance")
                    ax.plot(x, y, "s--", color=color)
                else:
                    x, y = _values(s.rows, key)
                    ax.plot(x, y, "o-", color=color, label=s.name)
                if key == "uniformity":
                    x, y = _values(s.rows, "uniformity_ideal")
                    ax.plot(x, y, ":", color=color)
            if key == "compliance":
                ax.axhline(0.95, color="#57606a", lw=0.8, ls=":")
                ax.set_ylim(-0.02, 1.02)
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_title(title)
            ax.set_xlabel("step")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)))
        fig.suptitle("Gaussianity over training (dotted grey: iid-Gaussian null, 95%)")

    return draw, len(panels)


def _spec(series: Sequence[Any]) -> Any:
    from infogauss_cli.report.plots import PlotSpec

    draw, k = _draw(series)
    return PlotSpec(
        filename=TRAJECTORY_FILE,
        kind="trajectory",
        row=None,
        title="Gaussianity over training",
        alt=ALT,
        draw=draw,
        width=3.6 * k + 0.6,
    )


def trajectory_png(series: Sequence[Any]) -> bytes:
    """The plot as PNG bytes."""
    from infogauss_cli.report.plots import render

    return render(_spec(series)).png


def write_trajectory_plot(series: Sequence[Any], out_dir: str | Path) -> Path:
    """``trajectory.png`` in ``out_dir`` (created if needed)."""
    from infogauss_cli.report.plots import write_figures

    return write_figures(out_dir, [_spec(series)])[0]


def trajectory_section(series: Sequence[Any]) -> Any:
    """The plot as an HTML report section (:class:`~.templating.Section`)."""
    from infogauss_cli.report.templating import Section, figure

    caption = (
        "One row of the table per checkpoint; the gates apply to the last checkpoint of each line."
    )
    body = figure(trajectory_png(series), ALT, caption, wide=True)
    return Section("trajectory", "Trajectory", body)
