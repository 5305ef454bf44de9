"""The paper's synthetic experiment end to end: presets, training runs, evaluation on fresh
held-out rows (epoch 0, chosen epochs, the end), and report rows like ``audit``'s.

Each (input, encoder) pair starts from one seeded initialisation, so its epoch-0 row is shared
by the runs that train it (InfoNCE and supervised). Every run evaluates on the same held-out
rows of its input, drawn once from the population; training never sees them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infogauss_cli.core.options import DiagnoseOptions, Protocol
from infogauss_cli.core.progress import steps
from infogauss_cli.judge.gates import Gates
from infogauss_cli.judge.model import Row
from infogauss_cli.pipelines.synthetic import data as data_mod
from infogauss_cli.pipelines.synthetic.augment import augment
from infogauss_cli.pipelines.synthetic.config import PRESETS, SETTINGS, Run, SyntheticConfig, preset  # noqa: F401 (re-exported)
from infogauss_cli.pipelines.synthetic.data import Population, population
from infogauss_cli.pipelines.synthetic.model import ENCODERS
from infogauss_cli.pipelines.synthetic.model import LABELS as ENCODER_LABELS
from infogauss_cli.pipelines.synthetic.paper import PAPER

if TYPE_CHECKING:
    from infogauss_cli.pipelines.synthetic.checkpoints import CheckpointSaver

Progress = Callable[[str], None]
UNIFORMITY_ROWS = 2000  # rows of the held-out set used for the uniformity (all pairs)


@dataclass(frozen=True, eq=False)
class HeldOut:
    """Fresh rows of one input (never trained on) and one positive pair per row."""

    x: np.ndarray = field(repr=False)
    view_a: np.ndarray = field(repr=False)
    view_b: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The encoder of ``run`` after ``epoch`` epochs, applied to the held-out rows.

    ``embeddings``: raw outputs (n_eval, d); ``alignment``: Wang-Isola alignment
    E||f(a) - f(b)||^2 of the L2-normalised held-out positive pairs (0 is perfect, 4 the
    maximum); ``uniformity``: log E exp(-2||u - v||^2) over pairs of held-out rows
    (:func:`~infogauss_cli.diagnostics.sphere.uniformity`) and ``uniformity_ideal`` its exact
    value for the uniform distribution on S^(d-1); ``train_s``: training time so far."""

    run: Run
    epoch: int
    embeddings: np.ndarray = field(repr=False)
    alignment: float
    uniformity: float
    uniformity_ideal: float
    train_s: float


def _index(value: str, choices: Sequence[str]) -> int:
    return list(choices).index(value)


def held_out(pop: Population, cfg: SyntheticConfig) -> HeldOut:
    spec = pop.spec
    rng = np.random.default_rng([cfg.seed, _index(spec.kind, data_mod.KINDS), 1])
    x = pop.sample(cfg.n_eval, rng).x
    kw = {"continuous": spec.continuous, "noise": cfg.noise_for(spec.kind), "rng": rng}
    return HeldOut(
        x, augment(x, density=spec.density, **kw), augment(x, density=spec.density, **kw)
    )


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def evaluate(encoder: Any, run: Run, epoch: int, ho: HeldOut, cfg: SyntheticConfig, t: float):
    """One :class:`Snapshot` (``t``: training seconds so far)."""
    import torch

    from infogauss_cli.diagnostics.sphere import uniformity

    with torch.no_grad():
        z, za, zb = (encoder(torch.from_numpy(a)).numpy() for a in (ho.x, ho.view_a, ho.view_b))
    z64 = z.astype(np.float64)
    align = float(np.mean(np.sum((_unit(za) - _unit(zb)) ** 2, axis=1, dtype=np.float64)))
    uni = uniformity(_unit(z64), max_rows=UNIFORMITY_ROWS, seed=cfg.seed)
    return Snapshot(run, epoch, z, align, float(uni.value), float(uni.ideal), round(t, 3))


def train_run(
    run: Run,
    cfg: SyntheticConfig,
    pop: Population,
    ho: HeldOut,
    *,
    initial: bool = True,
    progress: Progress | None = None,
    save_dir: str | Path | CheckpointSaver | None = None,
) -> list[Snapshot]:
    """Build the seeded encoder of ``run``, train it and evaluate it at
    :meth:`SyntheticConfig.epochs_evaluated` (without epoch 0 unless ``initial``); with
    ``save_dir`` (a folder or a :class:`~.checkpoints.CheckpointSaver`), write the encoder at
    every evaluated epoch, 0 included (a failed write stops the saving, not the run)."""
    import torch

    from infogauss_cli.pipelines.synthetic.checkpoints import as_saver

    saver = as_saver(save_dir)
    from infogauss_cli.pipelines.synthetic.model import build_encoder
    from infogauss_cli.pipelines.synthetic.train import train

    k, e = _index(run.data, data_mod.KINDS), _index(run.encoder, ENCODERS)
    torch.manual_seed(cfg.seed * 1000 + 10 * k + e)  # one initialisation per (input, encoder)
    encoder = build_encoder(run.encoder, pop.spec.dim, cfg.d, hidden=cfg.hidden)
    rng = np.random.default_rng([cfg.seed, k, e, _index(run.objective, ("infonce", "supervised"))])
    epochs = [ep for ep in cfg.epochs_evaluated() if ep or initial]
    snaps: list[Snapshot] = []
    clock = {"train": 0.0, "since": time.perf_counter()}

    def on_eval(epoch: int) -> None:
        clock["train"] += time.perf_counter() - clock["since"]
        if saver is not None:
            saver.save(encoder, run, epoch, cfg, clock["train"])
        if epoch in epochs:
            snaps.append(evaluate(encoder, run, epoch, ho, cfg, clock["train"]))
        if progress:
            progress(f"{row_name(run, epoch)}: {clock['train']:.1f} s training")
        clock["since"] = time.perf_counter()

    eval_at = cfg.epochs_evaluated() if saver is not None else epochs
    tc = cfg.train_config(run)
    label = f"train {row_name(run, tc.epochs).rsplit(' E', 1)[0]}: {tc.epochs} epochs"
    with steps(label, tc.epochs * tc.steps_per_epoch) as advance:
        train(encoder, pop, tc, rng, eval_at=eval_at, on_eval=on_eval, on_step=advance)
    return snaps


def run_experiment(
    cfg: SyntheticConfig,
    progress: Progress | None = None,
    save_dir: str | Path | CheckpointSaver | None = None,
) -> list[Snapshot]:
    """Every run of ``cfg`` in order; epoch 0 once per (input, encoder) (but saved, with
    ``save_dir``, for every run). A folder whose write failed raises that failure at the end;
    a :class:`~.checkpoints.CheckpointSaver` keeps it for the caller."""
    from infogauss_cli.pipelines.synthetic.checkpoints import as_saver

    saver = as_saver(save_dir)
    pops: dict[str, tuple[Population, HeldOut]] = {}
    seen: set[tuple[str, str]] = set()
    out: list[Snapshot] = []
    for run in cfg.runs():
        if run.data not in pops:
            pop = population(cfg.data_spec(run.data), cfg.seed)
            pops[run.data] = (pop, held_out(pop, cfg))
        first = (run.data, run.encoder) not in seen
        seen.add((run.data, run.encoder))
        out += train_run(
            run, cfg, *pops[run.data], initial=first, progress=progress, save_dir=saver
        )
    if saver is not None and saver is not save_dir:
        saver.raise_failure()
    return out


# ---- report rows ------------------------------------------------------------------------------
def row_name(run: Run, epoch: int) -> str:
    """``Synthetic Binary (Linear) E100``; ``Synthetic GMM (MLP, supervised) E100``."""
    what = ENCODER_LABELS[run.encoder]
    if run.objective == "supervised" and epoch > 0:
        what += ", supervised"
    return f"Synthetic {data_mod.LABELS[run.data]} ({what}) E{epoch}"


def paper_row(run: Run, epoch: int, cfg: SyntheticConfig) -> dict[str, Any] | None:
    """The paper's line this snapshot stands next to, if any: the final epoch of a linear
    InfoNCE run, the binary initialisation, and (as an analogue) the supervised run."""
    final = epoch == cfg.epochs and epoch > 0
    key = None
    if run.objective == "supervised":
        key = "supervised" if final else None
    elif run.encoder == "linear" and run.data == "binary":
        key = "binary-trained" if final else "binary-initial" if epoch == 0 else None
    elif run.encoder == "linear" and final:
        key = run.data
    return PAPER[key].to_dict() if key else None


def _augment_text(kind: str, cfg: SyntheticConfig) -> str:
    if kind == "binary":
        return f"bit dropout p={cfg.bit_noise} with matching switch-ons (density kept)"
    return f"additive Gaussian noise, std {cfg.noise}"


def _data_section(run: Run, epoch: int, cfg: SyntheticConfig, reference: bool) -> dict[str, Any]:
    s = cfg.data_spec(run.data)
    out: dict[str, Any] = {
        "source": f"synthetic:{run.data}",
        "items": cfg.n_eval,
        "skipped": 0,
        "held_out": True,
        "input_dim": s.dim,
    }
    if run.data == "gmm":
        out |= {"components": s.components, "separation": s.separation}
        if run.objective == "supervised":
            out["labels"] = "mixture component"
    if run.data == "binary":
        out["density"] = s.density
    paper = paper_row(run, epoch, cfg) if reference else None
    if paper:
        out["paper"] = paper
    return out


def _protocol(run: Run, epoch: int, cfg: SyntheticConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "preset": cfg.preset,
        "encoder": run.encoder,
        "objective": run.objective,
        "epoch": epoch,
        "epochs": cfg.epochs,
        "N": cfg.batch_size,
        "temperature": cfg.temperature,
        "noise": cfg.noise_for(run.data),
        "augment": _augment_text(run.data, cfg),
        "lr": cfg.lr,
        "optimizer": "adam, cosine schedule to 0",
        "steps_per_epoch": cfg.steps_per_epoch,
        "reg": cfg.reg,
        "precision": "fp32",
        "device": "cpu",
    }
    if run.encoder == "mlp":
        out["hidden"] = cfg.hidden
    return out


def snapshot_rows(
    snaps: Sequence[Snapshot],
    cfg: SyntheticConfig,
    *,
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
    reference: bool = True,
) -> list[Row]:
    """Diagnose every snapshot (the same diagnostics, views and report as ``audit``);
    ``reference``: attach the paper's line (``data["paper"]``) where one corresponds."""
    from infogauss_cli.judge.rows import RowInfo, diagnose_rows

    protocol = Protocol(view=cfg.view, seed=cfg.seed)
    rows: list[Row] = []
    for s in snaps:
        info = RowInfo(
            model=row_name(s.run, s.epoch),
            objective="random-init" if s.epoch == 0 else s.run.objective,
            backend="torch",
            data=_data_section(s.run, s.epoch, cfg, reference),
            protocol=_protocol(s.run, s.epoch, cfg),
            timing={"train_s": s.train_s},
            extra_metrics={
                "uniformity": s.uniformity,
                "uniformity_ideal": s.uniformity_ideal,
                "alignment": s.alignment,
            },
        )
        for row in diagnose_rows(s.embeddings, info, protocol, options, gates):
            rows.append(
                dataclasses.replace(row, null={**row.null, "uniformity": s.uniformity_ideal})
            )
    return rows


def synthetic_rows(
    cfg: SyntheticConfig,
    *,
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
    progress: Progress | None = None,
    save_dir: str | Path | CheckpointSaver | None = None,
) -> list[Row]:
    """``infogauss synthetic``: train, evaluate and diagnose; one row per snapshot and view;
    ``save_dir``: also write the encoders (``--save-checkpoints``, :mod:`.checkpoints`)."""
    snaps = run_experiment(cfg, progress, save_dir)
    return snapshot_rows(snaps, cfg, options=options, gates=gates)
