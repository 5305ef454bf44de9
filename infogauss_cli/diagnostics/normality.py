"""Per-coordinate Anderson-Darling (modified A*^2) and D'Agostino-Pearson tests, vectorised over
columns (:func:`~.columns.column_tests`); equal to scipy.stats.anderson / normaltest on float64
to about 1e-11 relative."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.validate import InvalidEmbeddingsError, check_finite, check_numeric

AD_CRITICAL_5PCT = 0.752  # 5% point of A*^2 (mean and variance estimated)
DP_ALPHA = 0.05
MIN_ROWS_DP = 20
MIN_ROWS_AD = 3


@dataclass(frozen=True, eq=False)
class ADResult:
    """A*^2 per column (NaN: constant column); ``mean`` over testable columns; ``compliance``:
    share of ALL columns with A*^2 < ``critical`` (constant columns fail)."""

    statistic: np.ndarray
    mean: float
    compliance: float
    critical: float = AD_CRITICAL_5PCT


@dataclass(frozen=True, eq=False)
class DPResult:
    """K^2 and p per column (NaN: constant column); ``mean_p`` over testable columns;
    ``compliance``: share of ALL columns with p > ``alpha``."""

    statistic: np.ndarray
    pvalue: np.ndarray
    mean_p: float
    compliance: float
    alpha: float = DP_ALPHA


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def nanmean(a: np.ndarray) -> float:
    """Mean of the finite values (NaN if none)."""
    ok = a[np.isfinite(a)]
    return float(ok.mean()) if ok.size else float("nan")


def _columns(x: object, axis: int, min_rows: int, what: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """(n, m) float matrix with the tested axis first, and the shape of the result."""
    a = check_numeric(np.asarray(x))
    if a.ndim == 0:
        raise InvalidEmbeddingsError(f"{what} needs an array of samples, got a scalar")
    a = np.moveaxis(a, axis, 0)
    out_shape = a.shape[1:]
    a = a.reshape(a.shape[0], -1)
    if a.shape[0] < min_rows:
        raise InvalidEmbeddingsError(
            f"{what} needs at least {min_rows} samples per column; got {a.shape[0]}"
        )
    check_finite(a)
    return a, out_shape


def ad_result(a2star: np.ndarray, live: np.ndarray | None = None) -> ADResult:
    """Summaries of per-column A*^2 over the ``live`` columns (default all)."""
    a = a2star if live is None else a2star[live]
    comp = float(np.count_nonzero(a < AD_CRITICAL_5PCT) / a.size) if a.size else float("nan")
    return ADResult(_readonly(a2star), nanmean(a), comp)


def dp_result(k2: np.ndarray, pvalue: np.ndarray, live: np.ndarray | None = None) -> DPResult:
    """Summaries of per-column K^2 and p over the ``live`` columns (default all)."""
    p = pvalue if live is None else pvalue[live]
    comp = float(np.count_nonzero(p > DP_ALPHA) / p.size) if p.size else float("nan")
    return DPResult(_readonly(k2), _readonly(pvalue), nanmean(p), comp)


def anderson_darling(x: object, axis: int = 0, *, workers: int | None = None) -> ADResult:
    """Anderson-Darling test (mean and variance estimated) of every column: the modified
    A*^2 = A^2 (1 + 0.75/n + 2.25/n^2) in float64; constant columns get NaN."""
    a, shape = _columns(x, axis, MIN_ROWS_AD, "the Anderson-Darling test")
    out = ad_result(column_tests(a, ad=True, dp=False, workers=workers).a2star)
    if shape == out.statistic.shape:
        return out
    return ADResult(_readonly(out.statistic.reshape(shape)), out.mean, out.compliance)


def dagostino_pearson(x: object, axis: int = 0, *, workers: int | None = None) -> DPResult:
    """D'Agostino-Pearson K^2 test of every column (n >= 20), as ``scipy.stats.normaltest``;
    constant columns get NaN."""
    a, shape = _columns(x, axis, MIN_ROWS_DP, "the D'Agostino-Pearson test")
    res = column_tests(a, ad=False, dp=True, workers=workers)
    out = dp_result(res.k2, res.pvalue)  # type: ignore[arg-type]
    if shape == out.statistic.shape:
        return out
    k2 = _readonly(out.statistic.reshape(shape))
    return DPResult(k2, _readonly(out.pvalue.reshape(shape)), out.mean_p, out.compliance)
