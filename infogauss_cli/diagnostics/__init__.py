"""The statistical core: pure numpy/scipy on an (n, d) embedding matrix; no torch, no I/O.

:func:`diagnose` -> :class:`Diagnosis` (norms, per-coordinate Anderson-Darling and
D'Agostino-Pearson, the null and the view's :func:`reference`); :func:`detail` -> :class:`Detail`
(``--detail``: projections, sphere uniformity and isotropy, Mardia, calibration).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from infogauss_cli.diagnostics.diagnosis import Diagnosis, diagnose
from infogauss_cli.diagnostics.normality import (
    AD_CRITICAL_5PCT,
    DP_ALPHA,
    ADResult,
    DPResult,
    anderson_darling,
    dagostino_pearson,
)
from infogauss_cli.diagnostics.null import NullExpectation, null_expectation
from infogauss_cli.diagnostics.reference import Reference, reference
from infogauss_cli.diagnostics.reftable import gaussian_effect
from infogauss_cli.diagnostics.validate import (
    MIN_ROWS,
    InvalidEmbeddingsError,
    NormStats,
    apply_view,
    norm_stats,
    subsample,
    validate_matrix,
)

if TYPE_CHECKING:
    from infogauss_cli.diagnostics.projections import ProjectionTests, projection_tests
    from infogauss_cli.diagnostics.suite import Detail, detail

# imported on first use: a plain check (no --detail) needs none of them (start-up time)
_LAZY = {"Detail": "suite", "detail": "suite", "ProjectionTests": "projections"}
_LAZY["projection_tests"] = "projections"


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AD_CRITICAL_5PCT",
    "DP_ALPHA",
    "MIN_ROWS",
    "ADResult",
    "DPResult",
    "Detail",
    "Diagnosis",
    "InvalidEmbeddingsError",
    "NormStats",
    "NullExpectation",
    "ProjectionTests",
    "Reference",
    "anderson_darling",
    "apply_view",
    "dagostino_pearson",
    "detail",
    "diagnose",
    "gaussian_effect",
    "norm_stats",
    "null_expectation",
    "projection_tests",
    "reference",
    "subsample",
    "validate_matrix",
]
