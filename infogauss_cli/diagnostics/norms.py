"""Row-norm statistics of the raw embeddings (the paper's norm concentration diagnostic)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from infogauss_cli.diagnostics.validate import (
    InvalidEmbeddingsError,
    check_finite,
    check_numeric,
    row_norms,
)


@dataclass(frozen=True, eq=False)
class NormStats:
    """Statistics of the row norms ||z||. ``cv`` = std/mean with std over rows, ddof=1 (NaN if
    undefined). For an isotropic Gaussian in d dimensions cv is about 1/sqrt(2d); after L2
    normalisation it is 0, so compute it on raw embeddings. ``norms`` holds the per-row values."""

    cv: float
    mean: float
    std: float
    min: float
    max: float
    norms: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)


def stats_from_norms(norms: np.ndarray) -> NormStats:
    """:class:`NormStats` of precomputed row norms (float64, read-only afterwards)."""
    norms = np.asarray(norms, dtype=np.float64)
    norms.setflags(write=False)
    nan = float("nan")
    if norms.size == 0:
        return NormStats(nan, nan, nan, nan, nan, norms)
    top = float(norms.max())
    e = int(np.frexp(top)[1]) if np.isfinite(top) and top > 0 else 0
    scaled = np.ldexp(norms, -e)  # exact: mean and std neither overflow nor underflow
    mean = float(np.ldexp(scaled.mean(), e))
    std = float(np.ldexp(scaled.std(ddof=1), e)) if norms.size > 1 else nan
    cv = float(scaled.std(ddof=1) / scaled.mean()) if norms.size > 1 and mean > 0 else nan
    return NormStats(cv, mean, std, float(norms.min()), top, norms)


def norm_stats(x: object) -> NormStats:
    """Norm statistics of the rows of a finite real (n, d) matrix (norms accumulated in float64)."""
    a = check_numeric(np.asarray(x))
    if a.ndim != 2:
        raise InvalidEmbeddingsError(f"expected a 2-D (n, d) matrix, got shape {a.shape}")
    check_finite(a)
    return stats_from_norms(row_norms(a))
