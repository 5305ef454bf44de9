"""The paper's synthetic inputs (Laplace, a Gaussian mixture, sparse bits), positive pairs and
encoders; the experiment's settings; training (InfoNCE, or a cosine classifier of the mixture)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from infogauss_cli.core.errors import BadInputError

if TYPE_CHECKING:
    import torch
    from torch import nn

KINDS = ("laplace", "gmm", "binary")
LABELS = {"laplace": "Laplace", "gmm": "GMM", "binary": "Binary"}
ENCODERS = ("linear", "mlp")
ENCODER_LABELS = {"linear": "Linear", "mlp": "MLP"}
OBJECTIVES = ("infonce", "supervised")


@dataclass(frozen=True)
class DataSpec:
    """gmm: ``components`` means at distance ``separation`` (std 1); binary: P(1) ``density``."""

    kind: str
    dim: int = 128
    components: int = 8
    separation: float = 3.0
    density: float = 0.05

    def __post_init__(self) -> None:
        if self.kind == "gmm" and (self.components < 2 or self.separation < 0):
            raise BadInputError("gmm needs components >= 2 and separation >= 0")
        if self.kind == "binary" and not 0 < self.density < 1:
            raise BadInputError(f"binary density must be in (0, 1), got {self.density}")


@dataclass(frozen=True, eq=False)
class Population:
    """A data distribution; :meth:`sample` draws fresh rows. gmm: its ``means`` (K, D)."""

    spec: DataSpec
    means: np.ndarray | None = field(default=None, repr=False)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """(n, D) float32 rows and (gmm only) their mixture components."""
        s = self.spec
        if s.kind == "laplace":  # unit variance: scale 1/sqrt(2)
            return rng.laplace(0.0, 2**-0.5, (n, s.dim)).astype(np.float32), None
        if s.kind == "gmm":
            labels = rng.integers(0, s.components, n)
            x = rng.standard_normal((n, s.dim), dtype=np.float32)
            return x + self.means[labels].astype(np.float32), labels
        return sparse_bits(n, s.dim, s.density, rng), None


def population(spec: DataSpec, seed: int = 0) -> Population:
    if spec.kind != "gmm":
        return Population(spec)
    g = np.random.default_rng([seed, 0x6A11]).standard_normal((spec.components, spec.dim))
    g *= spec.separation / np.linalg.norm(g, axis=1, keepdims=True)
    return Population(spec, g)


def sparse_bits(n: int, dim: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """iid Bernoulli(``density``) bits, (n, dim) float32; an all-zero row gets one random bit."""
    x = rng.random((n, dim), dtype=np.float32) < density
    empty = np.flatnonzero(~x.any(axis=1))
    x[empty, rng.integers(0, dim, empty.size)] = True
    return x.astype(np.float32)


def flip_bits(x: np.ndarray, drop: float, density: float, rng: np.random.Generator) -> np.ndarray:
    """1-bits drop with probability ``drop``, 0-bits switch on to keep the density on average."""
    on = x > 0.5
    u = rng.random(x.shape, dtype=np.float32)
    out = np.where(on, u >= drop, u < drop * density / (1.0 - density))
    empty = np.flatnonzero(~out.any(axis=1))
    if empty.size:
        keys = rng.random((empty.size, x.shape[1])) + on[empty]
        out[empty, keys.argmax(axis=1)] = True
    return out.astype(np.float32)


def augment(x: np.ndarray, spec: DataSpec, noise: float, rng: np.random.Generator) -> np.ndarray:
    """One view of ``x``: ``x + noise * N(0, I)`` (continuous) or :func:`flip_bits`."""
    if spec.kind != "binary":
        return x + np.float32(noise) * rng.standard_normal(x.shape, dtype=np.float32)
    return flip_bits(x, noise, spec.density, rng)


def build_encoder(kind: str, in_dim: int, out_dim: int, *, hidden: int = 256) -> nn.Module:
    """``linear``: ``x -> W x`` (no bias, the paper's); ``mlp``: Linear-ReLU-Linear."""
    from torch import nn

    if kind == "linear":
        return nn.Linear(in_dim, out_dim, bias=False)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
    raise BadInputError(f"unknown encoder {kind!r}; expected one of {', '.join(ENCODERS)}")


@dataclass(frozen=True)
class Run:
    data: str
    encoder: str
    objective: str = "infonce"


# the blocks of the paper's table; "supervised" plays the part of its CIFAR-10 ResNet-18 pair
SETTINGS = {k: Run(k, "linear") for k in KINDS} | {"supervised": Run("gmm", "linear", "supervised")}


@dataclass(frozen=True)
class SyntheticConfig:
    """A synthetic experiment; an epoch: ``steps_per_epoch`` Adam steps on ``batch_size`` (the
    paper's N) fresh rows; ``reg``: lambda_0 of lambda_t * mean ||z||^2, lambda_t -> 0."""

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

    def __post_init__(self) -> None:  # the command's options bound the numbers
        if unknown := [s for s in self.settings if s not in SETTINGS]:
            raise BadInputError(
                f"unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}"
            )
        if bad := [e for e in self.eval_epochs if not 0 <= e <= self.epochs]:
            raise BadInputError(f"evaluation epochs {bad} are outside 0..{self.epochs}")

    def runs(self) -> tuple[Run, ...]:
        named = (SETTINGS[name] for name in self.settings)
        return tuple(dict.fromkeys(replace(r, encoder=self.encoder or r.encoder) for r in named))

    def data_spec(self, kind: str) -> DataSpec:
        dim = self.bits if kind == "binary" else self.input_dim
        return DataSpec(kind, dim, self.components, self.separation, self.density)

    def noise_for(self, kind: str) -> float:
        return self.bit_noise if kind == "binary" else self.noise

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
    """Train ``encoder`` in place; ``on_epoch(epoch)`` (eval mode) at 0 and after each epoch."""
    import torch

    spec, noise = pop.spec, cfg.noise_for(run.data)
    k, e, o = KINDS.index(run.data), ENCODERS.index(run.encoder), OBJECTIVES.index(run.objective)
    rng = np.random.default_rng([cfg.seed, k, e, o])
    supervised = run.objective == "supervised"
    params = list(encoder.parameters())
    if supervised:
        head = torch.nn.Linear(cfg.d, spec.components, bias=False)
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
            x, labels = pop.sample(cfg.batch_size, rng)
            if supervised:
                z = encoder(view(x))
                loss = supervised_loss(z, head.weight, torch.from_numpy(labels), cfg.temperature)
                sq_norm = (z * z).sum(1).mean()
            else:
                z1, z2 = encoder(view(x)), encoder(view(x))
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
