"""The statistical core: pure numpy/scipy on an (n, d) embedding matrix; no torch, no I/O.

- :func:`diagnose` -> :class:`Diagnosis`: everything below in one call.
- :func:`anderson_darling` (modified A*^2 per coordinate, 5% point 0.752) and
  :func:`dagostino_pearson` (K^2 and p per coordinate), vectorised and threaded over columns,
  equal to scipy.stats.anderson / normaltest (float64) to ~1e-11.
- :func:`norm_stats`: coefficient of variation of the raw row norms.
- :func:`null_expectation`: what iid Gaussian coordinates give at this n and d.
- :func:`validate_matrix`, :func:`apply_view`, :func:`subsample`: input handling.
"""

from __future__ import annotations

from .diagnose import Diagnosis, diagnose
from .normality import (
    AD_CRITICAL_5PCT,
    DP_ALPHA,
    ADResult,
    DPResult,
    anderson_darling,
    dagostino_pearson,
)
from .norms import NormStats, norm_stats
from .null import NullExpectation, null_expectation
from .validate import MIN_ROWS, InvalidEmbeddingsError, apply_view, subsample, validate_matrix

__all__ = [
    "AD_CRITICAL_5PCT",
    "DP_ALPHA",
    "MIN_ROWS",
    "ADResult",
    "DPResult",
    "Diagnosis",
    "InvalidEmbeddingsError",
    "NormStats",
    "NullExpectation",
    "anderson_darling",
    "apply_view",
    "dagostino_pearson",
    "diagnose",
    "norm_stats",
    "null_expectation",
    "subsample",
    "validate_matrix",
]
