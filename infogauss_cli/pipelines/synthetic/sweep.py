"""``infogauss synthetic --sweep``: the paper's claim that a larger d and N give a smaller norm CV
and higher compliance; d varies at the preset's N, N at the preset's d."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DiagnoseOptions
from infogauss_cli.judge.gates import Gates
from infogauss_cli.judge.model import Row
from infogauss_cli.pipelines.synthetic.data import LABELS, population
from infogauss_cli.pipelines.synthetic.experiment import (
    SyntheticConfig,
    held_out,
    snapshot_rows,
    train_run,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SWEEP_D = (16, 32, 64, 128, 256)
SWEEP_N = (32, 64, 128, 256, 512)
SWEEP_SETTINGS = ("laplace", "binary")  # the default inputs of a sweep


def sweep_rows(
    cfg: SyntheticConfig,
    ds: Sequence[int] = SWEEP_D,
    ns: Sequence[int] = SWEEP_N,
    *,
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
) -> list[Row]:
    """One row per InfoNCE run of ``cfg``'s settings and (d, N) point, evaluated at the last
    epoch, named ``... E100 d=64 N=256``."""
    runs = [r for r in cfg.runs() if r.objective == "infonce"]
    if not runs:
        raise BadInputError("the sweep trains with InfoNCE: choose laplace, gmm or binary")
    points = dict.fromkeys([(d, cfg.batch_size) for d in ds] + [(cfg.d, n) for n in ns])
    rows: list[Row] = []
    for run in runs:
        pop = population(cfg.data_spec(run.data), cfg.seed)
        for d, n in points:
            c = dataclasses.replace(cfg, d=d, batch_size=n, eval_epochs=())
            snaps = train_run(run, c, pop, held_out(pop, c), initial=False)
            for row in snapshot_rows(snaps, c, options=options, gates=gates, reference=False):
                rows.append(dataclasses.replace(row, model=f"{row.model} d={d} N={n}"))
    return rows


def _series(
    rows: Sequence[Row], axis: str, fixed: int, view: str
) -> dict[str, list[tuple[int, Row]]]:
    out: dict[str, list[tuple[int, Row]]] = {}
    other = "N" if axis == "d" else "d"
    for r in rows:
        if r.error or r.protocol.get(other) != fixed or r.protocol.get("view") != view:
            continue
        kind = str(r.data.get("source", "")).removeprefix("synthetic:")
        out.setdefault(kind, []).append((int(r.protocol[axis]), r))
    return {k: sorted(v, key=lambda t: t[0]) for k, v in out.items()}


def _draw(rows: Sequence[Row], cfg: SyntheticConfig) -> Callable[[Figure], None]:
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    view = "l2" if cfg.view == "both" else cfg.view  # CV is the same in both views
    palette = ("#4c72b0", "#dd8452", "#55a868")
    kinds = list(
        dict.fromkeys(str(r.data.get("source", "")).removeprefix("synthetic:") for r in rows)
    )
    color = dict(zip(kinds, palette * len(kinds), strict=False))

    def draw(fig: Figure) -> None:
        axes = fig.subplots(1, 2)
        panels = (
            ("d", cfg.batch_size, f"embedding dimension d (N = {cfg.batch_size})"),
            ("N", cfg.d, f"batch size N (d = {cfg.d})"),
        )
        for ax, (axis, fixed, label) in zip(axes, panels, strict=True):
            cv_ax = ax.twinx()
            for kind, pts in _series(rows, axis, fixed, view).items():
                x, c = [p for p, _ in pts], color[kind]
                for key, style in (("ad_compliance", "-o"), ("dp_compliance", "--s")):
                    ax.plot(x, [r.metrics.get(key) for _, r in pts], style, color=c, ms=4)
                cv_ax.plot(x, [r.metrics.get("norm_cv") for _, r in pts], ":^", color=c, ms=4)
            ds = sorted({p for pts in _series(rows, "d", fixed, view).values() for p, _ in pts})
            if axis == "d" and ds:
                grid = np.geomspace(ds[0], ds[-1], 50)
                cv_ax.plot(grid, 1 / np.sqrt(2 * grid), color="#57606a", lw=0.8, alpha=0.6)
            ax.axhline(0.95, color="#57606a", ls="--", lw=1)
            ax.set_xscale("log", base=2)
            ax.set(ylim=(0, 1.05), xlabel=label, ylabel="share of coordinates that pass")
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            cv_ax.set(ylabel="norm CV", ylim=(0, None))
            cv_ax.grid(False)
        handles = [Line2D([], [], color=color[k], lw=2, label=LABELS.get(k, k)) for k in kinds]
        keys = (("-o", "AD compliance"), ("--s", "DP compliance"), (":^", "norm CV (right axis)"))
        handles += [
            Line2D([], [], color="k", ls=s[:-1], marker=s[-1], ms=4, label=t) for s, t in keys
        ]
        handles += [
            Line2D([], [], color="#57606a", ls="--", label="iid Gaussian: 95%"),
            Line2D([], [], color="#57606a", lw=0.8, label="CV of a Gaussian: 1/√(2d)"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=4)
        fig.suptitle(
            f"InfoNCE-trained encoders after {cfg.epochs} epochs: trends in d and N "
            f"(n = {cfg.n_eval:,} held-out rows, {view} view)"
        )

    return draw


def write_sweep_plot(rows: Sequence[Row], cfg: SyntheticConfig, out_dir: str | Path) -> Path:
    """``sweep.png`` in ``out_dir``: AD/DP compliance and norm CV against d and against N."""
    from infogauss_cli.report.plots import PlotSpec, write_figures

    title, draw = "Compliance and norm CV against d and N", _draw(rows, cfg)
    alt = "Line charts of AD and DP compliance and norm CV against the embedding dimension d "
    alt += "and the batch size N"
    spec = PlotSpec("sweep.png", "sweep", None, title, alt, draw, width=11.0)
    return write_figures(out_dir, [spec])[0]
