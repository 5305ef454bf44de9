"""The statistical core: pure numpy/scipy on an (n, d) embedding matrix; no torch, no I/O."""

from __future__ import annotations

from infogauss_cli.diagnostics.diagnosis import Diagnosis, diagnose
from infogauss_cli.diagnostics.normality import (
    AD_CRITICAL_5PCT,
    DP_ALPHA,
    ADResult,
    DPResult,
    NullExpectation,
    anderson_darling,
    dagostino_pearson,
    null_expectation,
)
from infogauss_cli.diagnostics.reference import Reference, gaussian_effect, reference
from infogauss_cli.diagnostics.validate import (
    MIN_ROWS,
    InvalidEmbeddingsError,
    NormStats,
    apply_view,
    norm_stats,
    subsample,
    validate_matrix,
)

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
    "Reference",
    "anderson_darling",
    "apply_view",
    "dagostino_pearson",
    "diagnose",
    "gaussian_effect",
    "norm_stats",
    "null_expectation",
    "reference",
    "subsample",
    "validate_matrix",
]
