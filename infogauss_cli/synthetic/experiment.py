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
from typing import Any

import numpy as np

from ..errors import BadInputError
from ..options import DiagnoseOptions, Protocol
from ..report.model import Row
from ..verdict import Gates
from . import data as data_mod
from .augment import augment
from .data import DataSpec, Population, population
from .model import ENCODERS
from .model import LABELS as ENCODER_LABELS
from .paper import PAPER
from .train import TrainConfig

Progress = Callable[[str], None]
UNIFORMITY_ROWS = 2000  # rows of the held-out set used for the uniformity (all pairs)


@dataclass(frozen=True)
class Run:
    """One trained encoder: input kind, encoder kind, objective."""

    data: str
    encoder: str
    objective: str = "infonce"


# A "setting" is a block of the paper's table. "supervised" is the objective contrast (the part
# the paper's CIFAR-10 ResNet-18 pair plays): the encoder, initialisation and data of "gmm",
# trained with a cross-entropy classifier on the mixture components instead of InfoNCE.
SETTINGS: dict[str, tuple[Run, ...]] = {
    "laplace": (Run("laplace", "linear"),),
    "gmm": (Run("gmm", "linear"),),
    "binary": (Run("binary", "linear"),),
    "supervised": (Run("gmm", "linear", "supervised"),),
}


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic experiment (defaults: the ``default`` preset).

    ``d``: embedding dimension; ``batch_size``: the paper's N; ``eval_epochs``: epochs
    evaluated besides 0 and the last; ``n_eval``: fresh held-out rows the diagnostics see;
    ``noise``/``bit_noise``: augmentation of continuous / binary inputs; ``input_dim``: D of
    the continuous inputs, ``bits``/``density``: D and P(1) of the binary ones;
    ``components``/``separation``: the Gaussian mixture; ``hidden``: MLP width; ``encoder``
    overrides the encoder of every run."""

    preset: str = "default"
    settings: tuple[str, ...] = ("laplace", "gmm", "binary", "supervised")
    encoder: str | None = None
    d: int = 256
    batch_size: int = 256
    temperature: float = 0.1
    epochs: int = 100
    eval_epochs: tuple[int, ...] = ()
    steps_per_epoch: int = 16
    lr: float = 1e-2
    noise: float = 0.5
    bit_noise: float = 0.5
    reg: float = 0.0
    n_eval: int = 5000
    input_dim: int = 256
    bits: int = 1024
    density: float = 0.01
    components: int = 8
    separation: float = 3.0
    hidden: int = 256
    view: str = "l2"
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [s for s in self.settings if s not in SETTINGS]
        if unknown or not self.settings:
            raise BadInputError(
                f"unknown setting(s) {', '.join(unknown) or '(none)'}; "
                f"choose from {', '.join(SETTINGS)}"
            )
        if self.encoder is not None and self.encoder not in ENCODERS:
            raise BadInputError(f"unknown encoder {self.encoder!r}; expected one of {ENCODERS}")
        if self.d < 2 or self.n_eval < 20:
            raise BadInputError(f"need d >= 2 and n >= 20 (got d={self.d}, n={self.n_eval})")
        bad = [e for e in self.eval_epochs if not 0 <= e <= self.epochs]
        if bad:
            raise BadInputError(f"evaluation epochs {bad} are outside 0..{self.epochs}")
        self.train_config(Run("gmm", "linear"))  # validates the training options

    def runs(self) -> tuple[Run, ...]:
        out: list[Run] = []
        for name in self.settings:
            for r in SETTINGS[name]:
                r = dataclasses.replace(r, encoder=self.encoder or r.encoder)
                if r not in out:
                    out.append(r)
        return tuple(out)

    def data_spec(self, kind: str) -> DataSpec:
        dim = self.bits if kind == "binary" else self.input_dim
        return DataSpec(kind, dim, self.components, self.separation, self.density)

    def noise_for(self, kind: str) -> float:
        return self.bit_noise if kind == "binary" else self.noise

    def train_config(self, run: Run) -> TrainConfig:
        return TrainConfig(
            objective=run.objective,
            epochs=self.epochs,
            batch_size=self.batch_size,
            steps_per_epoch=self.steps_per_epoch,
            lr=self.lr,
            temperature=self.temperature,
            noise=self.noise_for(run.data),
            reg=self.reg,
        )

    def epochs_evaluated(self) -> tuple[int, ...]:
        return tuple(sorted({0, self.epochs, *self.eval_epochs}))

    def describe(self) -> str:
        """One line with the settings a reader needs to compare runs."""
        reg = f", norm regulariser {self.reg}" if self.reg else ""
        return (
            f"{self.preset} preset: d={self.d}, N={self.batch_size}, temperature "
            f"{self.temperature}, {self.epochs} epochs x {self.steps_per_epoch} Adam steps (lr "
            f"{self.lr}, cosine){reg}; noise {self.noise} (continuous), bit dropout "
            f"{self.bit_noise} (binary); n={self.n_eval:,} fresh held-out rows, {self.view} "
            f"view, seed {self.seed}"
        )


PRESETS: dict[str, SyntheticConfig] = {
    "default": SyntheticConfig(),
    # seconds, not minutes: smaller d, fewer epochs, fewer held-out rows
    "quick": SyntheticConfig(preset="quick", d=128, epochs=30, n_eval=2000),
}


def preset(name: str = "default", **overrides: Any) -> SyntheticConfig:
    """A preset with the given fields replaced (``None`` values are ignored)."""
    if name not in PRESETS:
        raise BadInputError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return dataclasses.replace(
        PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}
    )


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

    from ..diagnostics.sphere import uniformity

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
) -> list[Snapshot]:
    """Build the seeded encoder of ``run``, train it and evaluate it at
    :meth:`SyntheticConfig.epochs_evaluated` (without epoch 0 unless ``initial``)."""
    import torch

    from .model import build_encoder
    from .train import train

    k, e = _index(run.data, data_mod.KINDS), _index(run.encoder, ENCODERS)
    torch.manual_seed(cfg.seed * 1000 + 10 * k + e)  # one initialisation per (input, encoder)
    encoder = build_encoder(run.encoder, pop.spec.dim, cfg.d, hidden=cfg.hidden)
    rng = np.random.default_rng([cfg.seed, k, e, _index(run.objective, ("infonce", "supervised"))])
    epochs = [ep for ep in cfg.epochs_evaluated() if ep or initial]
    snaps: list[Snapshot] = []
    clock = {"train": 0.0, "since": time.perf_counter()}

    def on_eval(epoch: int) -> None:
        clock["train"] += time.perf_counter() - clock["since"]
        snaps.append(evaluate(encoder, run, epoch, ho, cfg, clock["train"]))
        if progress:
            progress(f"{row_name(run, epoch)}: {clock['train']:.1f} s training")
        clock["since"] = time.perf_counter()

    train(encoder, pop, cfg.train_config(run), rng, eval_at=epochs, on_eval=on_eval)
    return snaps


def run_experiment(cfg: SyntheticConfig, progress: Progress | None = None) -> list[Snapshot]:
    """Every run of ``cfg`` in order; epoch 0 once per (input, encoder)."""
    pops: dict[str, tuple[Population, HeldOut]] = {}
    seen: set[tuple[str, str]] = set()
    out: list[Snapshot] = []
    for run in cfg.runs():
        if run.data not in pops:
            pop = population(cfg.data_spec(run.data), cfg.seed)
            pops[run.data] = (pop, held_out(pop, cfg))
        first = (run.data, run.encoder) not in seen
        seen.add((run.data, run.encoder))
        out += train_run(run, cfg, *pops[run.data], initial=first, progress=progress)
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
    from ..audit import RowInfo, diagnose_rows

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
) -> list[Row]:
    """``infogauss synthetic``: train, evaluate and diagnose; one row per snapshot and view."""
    return snapshot_rows(run_experiment(cfg, progress), cfg, options=options, gates=gates)
