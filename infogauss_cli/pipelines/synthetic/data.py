"""Synthetic inputs of the paper's first table: iid Laplace, a Gaussian mixture, sparse bits.

A :class:`Population` fixes everything that defines the distribution (the mixture means); its
:meth:`~Population.sample` draws fresh rows from a numpy ``Generator``, so training and held-out
evaluation data come from the same distribution but never share rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from infogauss_cli.core.errors import BadInputError

KINDS = ("laplace", "gmm", "binary")
LABELS = {"laplace": "Laplace", "gmm": "GMM", "binary": "Binary"}


@dataclass(frozen=True)
class DataSpec:
    """What to sample. ``dim``: input dimension D. ``components``/``separation`` (gmm): K
    components with means at distance ``separation`` from the origin (in units of the
    within-component standard deviation, which is 1). ``density`` (binary): P(bit = 1)."""

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

    @property
    def continuous(self) -> bool:
        return self.kind != "binary"


@dataclass(frozen=True)
class Sample:
    """``x`` (n, D) float32 inputs; ``labels`` (n,) mixture components (gmm only)."""

    x: np.ndarray = field(repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class Population:
    """A data distribution: the spec and, for gmm, its ``means`` (K, D)."""

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
            x += self.means[labels].astype(np.float32)
            return Sample(x, labels)
        return Sample(sparse_bits(n, s.dim, s.density, rng))


def population(spec: DataSpec, seed: int = 0) -> Population:
    """The distribution ``spec`` describes; gmm means are random directions scaled to
    ``separation`` (drawn from ``seed``, so one seed is one population)."""
    if spec.kind != "gmm":
        return Population(spec)
    g = np.random.default_rng([seed, 0x6A11]).standard_normal((spec.components, spec.dim))
    g *= spec.separation / np.linalg.norm(g, axis=1, keepdims=True)
    return Population(spec, g)


def sparse_bits(n: int, dim: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """iid Bernoulli(``density``) bits, (n, dim) float32; a row that came out all zero gets
    one random bit set (a linear encoder maps the zero row to the zero vector)."""
    x = rng.random((n, dim), dtype=np.float32) < density
    empty = np.flatnonzero(~x.any(axis=1))
    x[empty, rng.integers(0, dim, empty.size)] = True
    return x.astype(np.float32)
