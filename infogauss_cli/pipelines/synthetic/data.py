"""The paper's synthetic inputs (iid Laplace, a Gaussian mixture, sparse bits), the augmentations
that make positive pairs, and the encoders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from infogauss_cli.core.errors import BadInputError

if TYPE_CHECKING:
    from torch import nn

KINDS = ("laplace", "gmm", "binary")
LABELS = {"laplace": "Laplace", "gmm": "GMM", "binary": "Binary"}
ENCODERS = ("linear", "mlp")
ENCODER_LABELS = {"linear": "Linear", "mlp": "MLP"}


@dataclass(frozen=True)
class DataSpec:
    """``dim``: input dimension D; gmm: ``components`` means at distance ``separation`` from
    the origin (within-component std 1); binary: ``density`` = P(bit = 1)."""

    kind: str
    dim: int = 128
    components: int = 8
    separation: float = 3.0
    density: float = 0.05

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadInputError(f"unknown synthetic input {self.kind!r}; expected one of {KINDS}")
        if self.dim < 1:
            raise BadInputError(f"input dimension must be >= 1, got {self.dim}")
        if self.kind == "gmm" and (self.components < 2 or self.separation < 0):
            raise BadInputError("gmm needs components >= 2 and separation >= 0")
        if self.kind == "binary" and not 0 < self.density < 1:
            raise BadInputError(f"binary density must be in (0, 1), got {self.density}")


class Sample(NamedTuple):
    x: np.ndarray  # (n, D) float32
    labels: np.ndarray | None = None  # (n,) mixture components (gmm only)


@dataclass(frozen=True, eq=False)
class Population:
    """A data distribution; :meth:`sample` draws fresh rows. gmm: its ``means`` (K, D)."""

    spec: DataSpec
    means: np.ndarray | None = field(default=None, repr=False)

    def sample(self, n: int, rng: np.random.Generator) -> Sample:
        s = self.spec
        if s.kind == "laplace":  # unit variance: scale 1/sqrt(2)
            return Sample(rng.laplace(0.0, 2**-0.5, (n, s.dim)).astype(np.float32))
        if s.kind == "gmm":
            assert self.means is not None
            labels = rng.integers(0, s.components, n)
            x = rng.standard_normal((n, s.dim), dtype=np.float32)
            return Sample(x + self.means[labels].astype(np.float32), labels)
        return Sample(sparse_bits(n, s.dim, s.density, rng))


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
    """1-bits drop with probability ``drop``, 0-bits switch on so the density is kept on
    average; a row left all zero keeps one of its original bits."""
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
