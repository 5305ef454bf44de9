"""Per-coordinate normality tests, vectorised over columns: Anderson-Darling and D'Agostino-Pearson.

Both tests share one pass over the data (:func:`column_tests`). Per block of columns: transpose
in cache-sized tiles, sort in the input's own dtype (exact: conversion to float64 is monotone,
and float32 sorts 2x faster), upcast to float64, standardise (mean, std with ddof=1), then

- AD: A^2 = -N - (1/N) sum_i (2i-1) [log Phi(z_i) + log Phi(-z_(N+1-i))], modified
  A*^2 = A^2 (1 + 0.75/N + 2.25/N^2) (D'Agostino & Stephens 1986, Table 4.7: 5% point 0.752).
  Re-indexed: -N - (1/N) sum_i [c_i log Phi(z_i) + (2N - c_i) log Phi(-z_i)], c_i = 2i-1.
  One ``ndtr`` call gives p = Phi(-|z|); log p is log Phi of the negative side and log1p(-p) of
  the positive side (``log p`` is exactly how scipy's ``log_ndtr`` computes |z| < 20; beyond
  that we call ``log_ndtr``). The values are sorted, so z < 0 for the first k of each column:
  four weighted slices, every term <= 0, summed pairwise. The unavoidable cancellation is in
  -N - S/N; we stay within ~1 ulp of N there, like scipy (~1e-11 relative at N = 25,000).
- DP: K^2 = Z_skew^2 + Z_kurt^2 from the biased sample skewness and kurtosis, with the
  transforms of scipy.stats.skewtest/kurtosistest reproduced line by line (one deliberate
  difference, see :func:`~.dagostino.k2_statistic`); p = chi2(2).sf(K^2).

The pass itself (blocks of columns in threads, passes within a memory budget, the l2 view
computed per block, memory-mapped input) is :mod:`.columns`. Results equal
scipy.stats.anderson (A^2) and scipy.stats.normaltest on float64 to about 1e-11 relative;
see tests/test_diagnostics.py and benchmarks/stats.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infogauss_cli.diagnostics.columns import (
    ColumnTests,
    column_tests,
    default_workers,
    normal_scores,
)
from infogauss_cli.diagnostics.dagostino import k2_statistic
from infogauss_cli.diagnostics.validate import InvalidEmbeddingsError, check_finite, check_numeric

AD_CRITICAL_5PCT = 0.752
"""5% critical value of the modified statistic A*^2 (case 3: mean and variance estimated)."""

DP_ALPHA = 0.05
MIN_ROWS_DP = 20
MIN_ROWS_AD = 3


@dataclass(frozen=True, eq=False)
class ADResult:
    """Anderson-Darling per column. ``statistic`` is the modified A*^2 (NaN: constant column);
    ``mean`` is over testable columns; ``compliance`` is the share of ALL columns with
    A*^2 < ``critical`` (constant columns count as failures)."""

    statistic: np.ndarray
    mean: float
    compliance: float
    critical: float = AD_CRITICAL_5PCT


@dataclass(frozen=True, eq=False)
class DPResult:
    """D'Agostino-Pearson per column: K^2 and its p-value (NaN: constant column). ``mean_p`` is
    over testable columns; ``compliance`` is the share of ALL columns with p > ``alpha``."""

    statistic: np.ndarray
    pvalue: np.ndarray
    mean_p: float
    compliance: float
    alpha: float = DP_ALPHA


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _nanmean(a: np.ndarray) -> float:
    ok = a[~np.isnan(a)]
    return float(ok.mean()) if ok.size else float("nan")


# ---- public functions --------------------------------------------------------------------------
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
    """Summaries of per-column A*^2 (NaN = constant column) over the ``live`` columns (all by
    default; the others are left out of the mean and of the compliance)."""
    a = a2star if live is None else a2star[live]
    d = a.size
    comp = float(np.count_nonzero(a < AD_CRITICAL_5PCT) / d) if d else float("nan")
    return ADResult(_readonly(a2star), _nanmean(a), comp)


def dp_result(k2: np.ndarray, pvalue: np.ndarray, live: np.ndarray | None = None) -> DPResult:
    """Summaries of per-column K^2 and p (NaN = constant column) over the ``live`` columns."""
    p = pvalue if live is None else pvalue[live]
    d = p.size
    comp = float(np.count_nonzero(p > DP_ALPHA) / d) if d else float("nan")
    return DPResult(_readonly(k2), _readonly(pvalue), _nanmean(p), comp)


def anderson_darling(x: object, axis: int = 0, *, workers: int | None = None) -> ADResult:
    """Anderson-Darling test for normality (mean and variance estimated) of every column.

    ``statistic`` is the modified A*^2 = A^2 (1 + 0.75/n + 2.25/n^2), float64 whatever the input
    dtype, equal to ``scipy.stats.anderson(col, 'norm', method='interpolate').statistic`` times
    that factor. Constant columns get NaN, are left out of ``mean`` and count as failures in
    ``compliance`` (share of columns with A*^2 < 0.752, the 5% point).
    """
    a, shape = _columns(x, axis, MIN_ROWS_AD, "the Anderson-Darling test")
    res = column_tests(a, ad=True, dp=False, workers=workers)
    out = ad_result(res.a2star)
    return out if shape == out.statistic.shape else _reshape_ad(out, shape)


def dagostino_pearson(x: object, axis: int = 0, *, workers: int | None = None) -> DPResult:
    """D'Agostino-Pearson K^2 test of every column, as ``scipy.stats.normaltest`` on float64.

    Needs n >= 20. Constant columns get NaN statistic and p, are left out of ``mean_p`` and count
    as failures in ``compliance`` (share of columns with p > 0.05).
    """
    a, shape = _columns(x, axis, MIN_ROWS_DP, "the D'Agostino-Pearson test")
    res = column_tests(a, ad=False, dp=True, workers=workers)
    out = dp_result(res.k2, res.pvalue)
    if shape == out.statistic.shape:
        return out
    k2 = _readonly(out.statistic.reshape(shape))
    p = _readonly(out.pvalue.reshape(shape))
    return DPResult(k2, p, out.mean_p, out.compliance, out.alpha)


def _reshape_ad(res: ADResult, shape: tuple[int, ...]) -> ADResult:
    return ADResult(_readonly(res.statistic.reshape(shape)), res.mean, res.compliance)


__all__ = [
    "AD_CRITICAL_5PCT",
    "DP_ALPHA",
    "ADResult",
    "ColumnTests",
    "DPResult",
    "ad_result",
    "anderson_darling",
    "column_tests",
    "dagostino_pearson",
    "default_workers",
    "dp_result",
    "k2_statistic",
    "normal_scores",
]
