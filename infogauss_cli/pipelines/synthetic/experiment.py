"""The paper's synthetic experiment end to end: training runs, evaluation on fresh held-out rows
and report rows like ``audit``'s; ``--sweep``'s rows (d varies at the preset's N, N at the
preset's d: a larger d and N should give a smaller norm CV and higher compliance) and plot; the
paper's table and the "paper vs infogauss" comparison of the rows that carry a ``data["paper"]``
reference (on the terminal and in the HTML report)."""

from __future__ import annotations

import dataclasses
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Protocol, Request
from infogauss_cli.core.progress import note, steps
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.rows import diagnose_rows
from infogauss_cli.pipelines.synthetic import train as S
from infogauss_cli.pipelines.synthetic.checkpoints import CheckpointSaver
from infogauss_cli.pipelines.synthetic.train import Run, SyntheticConfig, train
from infogauss_cli.report.cells import COLUMNS, call_symbols, metric_cells, row_label
from infogauss_cli.report.html import Section, cell, table
from infogauss_cli.report.plots import PlotSpec, write_figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.table import Table
    from torch import nn

UNIFORMITY_ROWS = 2000  # rows of the held-out set used for the uniformity (all pairs)
HeldOut = tuple[np.ndarray, np.ndarray, np.ndarray]  # fresh rows (never trained on), their pairs
SWEEP_D = (16, 32, 64, 128, 256)
SWEEP_N = (32, 64, 128, 256, 512)
SWEEP_SETTINGS = ("laplace", "binary")  # the default inputs of a sweep
FIELDS = ("setting", "norm_cv", "ad_mean", "ad_compliance", "dp_mean_p", "dp_compliance")
FIELDS += ("gaussian", "analogue")  # 1/0; analogue: a different setting that plays the part
PAPER: dict[str, dict[str, Any]] = {
    key: dict(zip(FIELDS, (*values[:6], *map(bool, values[6:])), strict=True))
    for key, values in {
        "laplace": ("Synthetic Laplace (Linear)", 0.08, 0.38, 1.0, 0.49, 1.0, 1, 0),
        "gmm": ("Synthetic GMM (Linear)", 0.08, 0.39, 1.0, 0.46, 1.0, 1, 0),
        "binary-initial": ("Synthetic Binary (Initial E0)", 0.36, 1.64, 0.3, 0.02, 0.15, 0, 0),
        "binary-trained": ("Synthetic Binary (Trained E100)", 0.09, 0.42, 0.97, 0.46, 0.98, 1, 0),
        "supervised": ("CIFAR-10 Supervised (ResNet-18)", 0.5, 3.3, 0.062, 0.041, 0.039, 0, 1),
        "contrastive": ("CIFAR-10 Contrastive (ResNet-18)", 0.09, 0.43, 0.961, 0.39, 0.945, 1, 1),
    }.items()
}

HEADER = ("Setting", *COLUMNS[5:])  # the results table's metric columns
NOTE = (
    "Each infogauss row is followed by the paper's line it corresponds to. The paper's protocol "
    "(n, d, N, temperature, epochs, augmentation) is not public; ours is in the protocol "
    "section. * an analogue, not the same setting: the paper's supervised CIFAR-10 ResNet-18 "
    "next to our supervised run on the Gaussian mixture."
)


def comparison_cells(rows: Sequence[Row]) -> list[tuple[list[str], list[str]]]:
    """For each row that carries ``data["paper"]``: (our cells, the paper's cells)."""
    body = []
    for r in rows:
        paper = (r.data or {}).get("paper")
        if not paper or r.error:
            continue
        mine = [row_label(r), *metric_cells(r.metrics, *call_symbols(r.verdict))]
        setting = "  paper: " + paper["setting"] + (" *" if paper.get("analogue") else "")
        body.append((mine, [setting, *metric_cells(paper, "–", "✓" if paper["gaussian"] else "✗")]))
    return body


def render_comparison(rows: Sequence[Row]) -> Table | None:
    """The comparison as a rich table (None: no paper reference); the setting column folds."""
    from rich import box
    from rich.table import Table

    body = comparison_cells(rows)
    if not body:
        return None
    out = Table(
        title="infogauss next to the paper's table",
        title_justify="left",
        header_style="bold",
        caption=NOTE,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0),
    )
    out.add_column(HEADER[0], overflow="fold", min_width=8)
    for i, name in enumerate(HEADER[1:], 1):  # as wide as its widest cell or header word
        width = max(*(len(cells[i]) for pair in body for cells in pair), *map(len, name.split()))
        out.add_column("\n".join(textwrap.wrap(name, width)), justify="right", width=width)
    for mine, theirs in body:
        out.add_row(*mine)
        out.add_row(*theirs, style="dim", end_section=True)
    return out


def comparison_sections(rows: Sequence[Row]) -> list[Section]:
    """The comparison as an HTML report section (none without a paper reference)."""
    body = comparison_cells(rows)
    if not body:
        return []
    classes = ["model"] + ["num"] * (len(HEADER) - 1)
    lines = [
        {"cls": cls, "cells": [cell(x.strip(), c) for c, x in zip(classes, cells, strict=True)]}
        for mine, theirs in body
        for cells, cls in ((mine, ""), (theirs, "paper-ref"))
    ]
    html = table(list(zip(HEADER, classes, strict=True)), lines, notes=[("", NOTE)])
    return [Section("paper", "infogauss next to the paper", html)]


class Snapshot(NamedTuple):  # the encoder after ``epoch`` epochs on the held-out rows
    run: Run
    epoch: int
    embeddings: np.ndarray
    metrics: dict[str, float]
    train_s: float


def held_out(pop: S.Population, cfg: SyntheticConfig) -> HeldOut:
    spec, noise = pop.spec, cfg.noise_for(pop.spec.kind)
    rng = np.random.default_rng([cfg.seed, S.KINDS.index(spec.kind), 1])
    x = pop.sample(cfg.n_eval, rng)[0]
    return x, S.augment(x, spec, noise, rng), S.augment(x, spec, noise, rng)


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def evaluate(
    encoder: nn.Module, run: Run, epoch: int, ho: HeldOut, cfg: SyntheticConfig, t: float
) -> Snapshot:
    import torch

    from infogauss_cli.diagnostics.sphere import uniformity  # scipy

    with torch.no_grad():
        z, za, zb = (encoder(torch.from_numpy(a)).numpy() for a in ho)
    align = float(np.mean(np.sum((_unit(za) - _unit(zb)) ** 2, axis=1, dtype=np.float64)))
    uni = uniformity(_unit(z.astype(np.float64)), max_rows=UNIFORMITY_ROWS, seed=cfg.seed)
    metrics = dict(uniformity=float(uni.value), uniformity_ideal=float(uni.ideal), alignment=align)
    return Snapshot(run, epoch, z, metrics, round(t, 3))


def train_run(
    run: Run, cfg: SyntheticConfig, pop: S.Population, initial: bool, saver: CheckpointSaver | None
) -> list[Snapshot]:
    """Train the seeded encoder of ``run``; evaluate (epoch 0 if ``initial``) and save it."""
    import torch

    k, e = S.KINDS.index(run.data), S.ENCODERS.index(run.encoder)
    torch.manual_seed(cfg.seed * 1000 + 10 * k + e)  # one initialisation per (input, encoder)
    encoder = S.build_encoder(run.encoder, pop.spec.dim, cfg.d, hidden=cfg.hidden)
    ho, saved = held_out(pop, cfg), sorted({0, cfg.epochs, *cfg.eval_epochs})
    evaluated = [ep for ep in saved if ep or initial]
    snaps: list[Snapshot] = []
    clock = {"train": 0.0, "since": time.perf_counter()}

    def on_epoch(epoch: int) -> None:
        clock["train"] += time.perf_counter() - clock["since"]
        if saver is not None and epoch in saved:
            saver.save(encoder, run, epoch, cfg, clock["train"])
        if epoch in evaluated:
            snaps.append(evaluate(encoder, run, epoch, ho, cfg, clock["train"]))
        if epoch in evaluated or (saver is not None and epoch in saved):
            note(f"[dim]{row_name(run, epoch)}: {clock['train']:.1f} s training[/]")
        clock["since"] = time.perf_counter()

    label = f"train {row_name(run, cfg.epochs).rsplit(' E', 1)[0]}: {cfg.epochs} epochs"
    with steps(label, cfg.epochs * cfg.steps_per_epoch) as advance:
        train(encoder, pop, cfg, run, on_epoch, advance)
    return snaps


def row_name(run: Run, epoch: int) -> str:
    """``Synthetic Binary (Linear) E100``; ``Synthetic GMM (MLP, supervised) E100``."""
    sup = ", supervised" if run.objective == "supervised" and epoch > 0 else ""
    return f"Synthetic {S.LABELS[run.data]} ({S.ENCODER_LABELS[run.encoder]}{sup}) E{epoch}"


def _data_section(run: Run, epoch: int, cfg: SyntheticConfig, reference: bool) -> dict[str, Any]:
    """The row's data section; ``reference``: the paper's line it stands next to, if any."""
    final, key = epoch == cfg.epochs and epoch > 0, None
    if run.objective == "supervised":
        key = "supervised" if final else None
    elif run.encoder == "linear" and run.data == "binary":
        key = "binary-trained" if final else "binary-initial" if epoch == 0 else None
    elif run.encoder == "linear" and final:
        key = run.data
    s = cfg.data_spec(run.data)
    out: dict[str, Any] = dict(source=f"synthetic:{run.data}", items=cfg.n_eval, skipped=0)
    out |= dict(held_out=True, input_dim=s.dim)
    if run.data == "gmm":
        out |= {"components": s.components, "separation": s.separation}
        if run.objective == "supervised":
            out["labels"] = "mixture component"
    if run.data == "binary":
        out["density"] = s.density
    return out | ({"paper": dict(PAPER[key])} if key and reference else {})


def _protocol(run: Run, epoch: int, cfg: SyntheticConfig) -> dict[str, Any]:
    augment = f"additive Gaussian noise, std {cfg.noise}"
    if run.data == "binary":
        augment = f"bit dropout p={cfg.bit_noise} with matching switch-ons (density kept)"
    out = dict(preset=cfg.preset, encoder=run.encoder, objective=run.objective, epoch=epoch)
    out |= dict(epochs=cfg.epochs, N=cfg.batch_size, temperature=cfg.temperature)
    out |= dict(noise=cfg.noise_for(run.data), augment=augment, lr=cfg.lr)
    out |= dict(optimizer="adam, cosine schedule to 0", steps_per_epoch=cfg.steps_per_epoch)
    out |= dict(reg=cfg.reg, precision="fp32", device="cpu")
    return out | ({"hidden": cfg.hidden} if run.encoder == "mlp" else {})


def snapshot_rows(
    snaps: Sequence[Snapshot], cfg: SyntheticConfig, request: Request, reference: bool = True
) -> list[Row]:
    """Diagnose every snapshot as ``audit`` does; ``reference``: add ``data["paper"]``."""
    protocol = Protocol(view=cfg.view, seed=cfg.seed)
    rows: list[Row] = []
    for s in snaps:
        info = Row(
            model=row_name(s.run, s.epoch),
            objective="random-init" if s.epoch == 0 else s.run.objective,
            backend="torch",
            data=_data_section(s.run, s.epoch, cfg, reference),
            protocol=_protocol(s.run, s.epoch, cfg),
            timing={"train_s": s.train_s},
            metrics=s.metrics,
        )
        for row in diagnose_rows(s.embeddings, info, protocol, request.diagnose, request.gates):
            null = {**row.null, "uniformity": s.metrics["uniformity_ideal"]}
            rows.append(dataclasses.replace(row, null=null))
    return rows


def synthetic_rows(
    cfg: SyntheticConfig, request: Request = Request(), saver: CheckpointSaver | None = None
) -> list[Row]:
    """``infogauss synthetic``: one row per snapshot and view; epoch 0 once per (input,
    encoder), whose runs share one seeded initialisation; ``saver`` also writes the encoders."""
    snaps: list[Snapshot] = []
    for run in cfg.runs():
        pop = S.population(cfg.data_spec(run.data), cfg.seed)
        initial = all((s.run.data, s.run.encoder) != (run.data, run.encoder) for s in snaps)
        snaps += train_run(run, cfg, pop, initial, saver)
    return snapshot_rows(snaps, cfg, request)


def sweep_rows(
    cfg: SyntheticConfig, ds: Sequence[int], ns: Sequence[int], request: Request
) -> list[Row]:
    """One row per InfoNCE run and (d, N) point at the last epoch (``... E100 d=64 N=256``)."""
    runs = [r for r in cfg.runs() if r.objective == "infonce"]
    if not runs:
        raise BadInputError("the sweep trains with InfoNCE: choose laplace, gmm or binary")
    points = dict.fromkeys([(d, cfg.batch_size) for d in ds] + [(cfg.d, n) for n in ns])
    rows: list[Row] = []
    for run in runs:
        pop = S.population(cfg.data_spec(run.data), cfg.seed)
        for d, n in points:
            c = dataclasses.replace(cfg, d=d, batch_size=n, eval_epochs=())
            snaps = train_run(run, c, pop, initial=False, saver=None)
            for row in snapshot_rows(snaps, c, request, reference=False):
                rows.append(dataclasses.replace(row, model=f"{row.model} d={d} N={n}"))
    return rows


def _draw(rows: Sequence[Row], cfg: SyntheticConfig) -> Callable[[Figure], None]:
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    view = "l2" if cfg.view == "both" else cfg.view  # CV is the same in both views
    shown = [r for r in rows if r.error is None and r.protocol.get("view") == view]
    kinds = dict.fromkeys(str(r.data.get("source", "")).removeprefix("synthetic:") for r in rows)
    color = dict(zip(kinds, ("#4c72b0", "#dd8452", "#55a868") * len(kinds), strict=False))

    def draw(fig: Figure) -> None:
        panels = (
            ("d", "N", cfg.batch_size, f"embedding dimension d (N = {cfg.batch_size})"),
            ("N", "d", cfg.d, f"batch size N (d = {cfg.d})"),
        )
        for ax, (axis, other, fixed, label) in zip(fig.subplots(1, 2), panels, strict=True):
            cv_ax, xs = ax.twinx(), []
            for kind, c in color.items():
                mine = [r for r in shown if r.data.get("source") == f"synthetic:{kind}"]
                pts = sorted(
                    (r for r in mine if r.protocol.get(other) == fixed),
                    key=lambda r: r.protocol[axis],
                )
                x = [int(r.protocol[axis]) for r in pts]
                for key, style in (("ad_compliance", "-o"), ("dp_compliance", "--s")):
                    ax.plot(x, [r.metrics.get(key) for r in pts], style, color=c, ms=4)
                cv_ax.plot(x, [r.metrics.get("norm_cv") for r in pts], ":^", color=c, ms=4)
                xs += x
            if axis == "d" and xs:
                grid = np.geomspace(min(xs), max(xs), 50)
                cv_ax.plot(grid, 1 / np.sqrt(2 * grid), color="#57606a", lw=0.8, alpha=0.6)
            ax.axhline(0.95, color="#57606a", ls="--", lw=1)
            ax.set_xscale("log", base=2)
            ax.set(ylim=(0, 1.05), xlabel=label, ylabel="share of coordinates that pass")
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            cv_ax.set(ylabel="norm CV", ylim=(0, None))
            cv_ax.grid(False)
        handles = [Line2D([], [], color=color[k], lw=2, label=S.LABELS.get(k, k)) for k in kinds]
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
    title, draw = "Compliance and norm CV against d and N", _draw(rows, cfg)
    alt = "Line charts of AD and DP compliance and norm CV against the embedding dimension d "
    alt += "and the batch size N"
    spec = PlotSpec("sweep.png", "sweep", None, title, alt, draw, width=11.0)
    return write_figures(out_dir, [spec])[0]
