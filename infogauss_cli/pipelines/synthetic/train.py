"""The synthetic experiment's settings (runs, presets) and training: symmetric InfoNCE, or a
cosine classifier of the mixture components, optionally with a vanishing norm regulariser."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.pipelines.synthetic.data import ENCODERS, KINDS, DataSpec, Population, augment

if TYPE_CHECKING:
    import torch
    from torch import nn

OBJECTIVES = ("infonce", "supervised")


@dataclass(frozen=True)
class Run:
    data: str
    encoder: str
    objective: str = "infonce"


# the blocks of the paper's table; "supervised" plays the part of its CIFAR-10 ResNet-18 pair
SETTINGS: dict[str, tuple[Run, ...]] = {
    "laplace": (Run("laplace", "linear"),),
    "gmm": (Run("gmm", "linear"),),
    "binary": (Run("binary", "linear"),),
    "supervised": (Run("gmm", "linear", "supervised"),),
}


@dataclass(frozen=True)
class SyntheticConfig:
    """A synthetic experiment (defaults: the ``default`` preset). An epoch: ``steps_per_epoch``
    Adam steps (cosine schedule to 0) on ``batch_size`` (the paper's N) fresh rows; ``reg``:
    lambda_0 of the regulariser lambda_t * mean ||z||^2, lambda_t decaying linearly to 0."""

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
        if self.epochs < 0 or self.batch_size < 2 or self.steps_per_epoch < 1:
            raise BadInputError(
                "need epochs >= 0, batch size N >= 2 and steps per epoch >= 1 "
                f"(got {self.epochs}, {self.batch_size}, {self.steps_per_epoch})"
            )
        if not (
            self.temperature > 0 and self.lr > 0 and min(self.noise, self.bit_noise, self.reg) >= 0
        ):
            raise BadInputError("temperature and lr must be > 0, noise and reg >= 0")

    def runs(self) -> tuple[Run, ...]:
        named = (r for name in self.settings for r in SETTINGS[name])
        return tuple(dict.fromkeys(replace(r, encoder=self.encoder or r.encoder) for r in named))

    def data_spec(self, kind: str) -> DataSpec:
        dim = self.bits if kind == "binary" else self.input_dim
        return DataSpec(kind, dim, self.components, self.separation, self.density)

    def noise_for(self, kind: str) -> float:
        return self.bit_noise if kind == "binary" else self.noise

    def epochs_evaluated(self) -> tuple[int, ...]:
        return tuple(sorted({0, self.epochs, *self.eval_epochs}))

    def describe(self) -> str:
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
    "quick": SyntheticConfig(preset="quick", d=128, epochs=30, n_eval=2000),
}


def preset(name: str = "default", **overrides: object) -> SyntheticConfig:
    if name not in PRESETS:
        raise BadInputError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


def infonce_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE (as in CLIP) on cosine logits: row i of ``z1`` against row i of ``z2``."""
    import torch
    from torch.nn import functional as F

    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def supervised_loss(
    z: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Cross-entropy of the cosine similarities to the class ``prototypes`` (K, d)."""
    from torch.nn import functional as F

    logits = F.normalize(z, dim=1) @ F.normalize(prototypes, dim=1).T
    return F.cross_entropy(logits / temperature, labels)


def train(
    encoder: nn.Module,
    pop: Population,
    cfg: SyntheticConfig,
    run: Run,
    on_epoch: Callable[[int], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Train ``encoder`` of ``run`` in place; ``on_epoch(epoch)`` runs (eval mode) before
    training and after every epoch, ``on_step()`` after every optimiser step."""
    import torch

    spec, noise = pop.spec, cfg.noise_for(run.data)
    k, e, o = KINDS.index(run.data), ENCODERS.index(run.encoder), OBJECTIVES.index(run.objective)
    rng = np.random.default_rng([cfg.seed, k, e, o])
    supervised = run.objective == "supervised"
    if supervised and spec.kind != "gmm":
        raise BadInputError(f"the supervised objective needs labels: use gmm, not {spec.kind}")
    params = list(encoder.parameters())
    if supervised:
        with torch.no_grad():
            out_dim = encoder(torch.zeros(1, spec.dim)).shape[1]
        head = torch.nn.Linear(out_dim, spec.components, bias=False)
        params += list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    total = max(cfg.epochs * cfg.steps_per_epoch, 1)

    def view(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(augment(x, spec, noise, rng))

    step = 0
    for epoch in range(cfg.epochs + 1):
        if on_epoch:
            encoder.eval()
            on_epoch(epoch)
        if epoch == cfg.epochs:
            break
        encoder.train()
        for _ in range(cfg.steps_per_epoch):
            batch = pop.sample(cfg.batch_size, rng)
            if supervised:
                z = encoder(view(batch.x))
                labels = torch.from_numpy(batch.labels)
                loss = supervised_loss(z, head.weight, labels, cfg.temperature)
                sq_norm = (z * z).sum(1).mean()
            else:
                z1, z2 = encoder(view(batch.x)), encoder(view(batch.x))
                loss = infonce_loss(z1, z2, cfg.temperature)
                sq_norm = 0.5 * ((z1 * z1).sum(1).mean() + (z2 * z2).sum(1).mean())
            if cfg.reg > 0:  # lambda_t vanishes at the end of training
                loss = loss + cfg.reg * (1.0 - step / total) * sq_norm
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if on_step:
                on_step()
            for group in opt.param_groups:  # cosine schedule, lr -> 0 at the last step
                group["lr"] = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
