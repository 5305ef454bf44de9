"""The statistical core: pure numpy/scipy on an (n, d) embedding matrix; no torch, no I/O.

- :func:`diagnose` -> :class:`Diagnosis`: everything below in one call.
- :func:`anderson_darling` (modified A*^2 per coordinate, 5% point 0.752) and
  :func:`dagostino_pearson` (K^2 and p per coordinate), vectorised and threaded over columns,
  equal to scipy.stats.anderson / normaltest (float64) to ~1e-11.
- :func:`norm_stats`: coefficient of variation of the raw row norms.
- :func:`null_expectation`: what iid Gaussian coordinates give at this n and d.
- :func:`reference` -> :class:`Reference`: the reference of a view (raw: iid Gaussian; l2: the
  uniform sphere; from the precomputed table of ``reftable``), its pass rates, effect size
  and the calibrated minimums; :func:`gaussian_effect`: the iid-Gaussian QQ distance at n.
- :func:`validate_matrix`, :func:`apply_view`, :func:`subsample`: input handling.
- :func:`detail` -> :class:`Detail` (``--detail``): random projections (:func:`projection_tests`),
  sphere uniformity and isotropy (``sphere``), Mardia (``mardia``), calibration, paired towers.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from infogauss_cli.diagnostics.diagnose import Diagnosis, diagnose
from infogauss_cli.diagnostics.normality import (
    AD_CRITICAL_5PCT,
    DP_ALPHA,
    ADResult,
    DPResult,
    anderson_darling,
    dagostino_pearson,
)
from infogauss_cli.diagnostics.norms import NormStats, norm_stats
from infogauss_cli.diagnostics.null import NullExpectation, null_expectation
from infogauss_cli.diagnostics.reference import Reference, reference
from infogauss_cli.diagnostics.reftable import gaussian_effect
from infogauss_cli.diagnostics.validate import (
    MIN_ROWS,
    InvalidEmbeddingsError,
    apply_view,
    subsample,
    validate_matrix,
)

if TYPE_CHECKING:
    from infogauss_cli.diagnostics.detail import Detail, detail
    from infogauss_cli.diagnostics.projections import ProjectionTests, projection_tests

# imported on first use: a plain check (no --detail) needs none of them (start-up time)
_LAZY = {
    "Detail": "detail",
    "detail": "detail",
    "ProjectionTests": "projections",
    "projection_tests": "projections",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


class _Package(ModuleType):
    """``diagnostics.detail`` stays the function when the submodule of that name is imported
    later (the import system would bind the module to the package's attribute)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
