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
  difference, see :func:`_k2`); p = chi2(2).sf(K^2).

Blocks run in threads (numpy's sort and scipy.special's ufuncs release the GIL), each reusing
its own work arrays. Results equal scipy.stats.anderson (A^2) and scipy.stats.normaltest on
float64 to about 1e-11 relative; see tests/test_diagnostics.py and benchmarks/stats.py.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import special

from .validate import InvalidEmbeddingsError, check_finite, check_numeric

AD_CRITICAL_5PCT = 0.752
"""5% critical value of the modified statistic A*^2 (case 3: mean and variance estimated)."""

DP_ALPHA = 0.05
MIN_ROWS_DP = 20
MIN_ROWS_AD = 3

# A column is constant when std <= CONSTANT_RTOL * max|x| (scale-free; std == 0 included).
CONSTANT_RTOL = 1e-12

# Blocks of columns: ~8 MB of float64 each, 8..128 columns, at least 4 blocks per worker.
_BLOCK_BYTES = 8 << 20
_MIN_BLOCK, _MAX_BLOCK = 8, 128
_TILE_ROWS = 512  # rows per tile of the transpose
_TAIL_Z = 19.0  # beyond, log Phi(-|z|) comes from log_ndtr instead of log(ndtr)
_SERIAL_BELOW = 1 << 18  # elements: below this, threads cost more than they save


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


@dataclass(frozen=True, eq=False)
class ColumnTests:
    """Raw per-column output of :func:`column_tests` (float64, shape (d,))."""

    a2star: np.ndarray | None
    k2: np.ndarray | None
    pvalue: np.ndarray | None
    constant: np.ndarray  # bool
    std: np.ndarray | None = None  # column std (ddof=1), in the input's units
    w1: np.ndarray | None = None  # mean |z_(i) - q_i|: QQ distance to N(0, 1) (with ``ad``)


def default_workers() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _nanmean(a: np.ndarray) -> float:
    ok = a[~np.isnan(a)]
    return float(ok.mean()) if ok.size else float("nan")


# ---- the shared pass ---------------------------------------------------------------------------
def column_tests(
    x: np.ndarray, *, ad: bool = True, dp: bool = True, workers: int | None = None
) -> ColumnTests:
    """AD and/or DP statistics of every column of a finite real (n, d) matrix (no validation)."""
    n, d = x.shape
    if x.dtype not in (np.float16, np.float32, np.float64):
        x = x.astype(np.float64)
    a2star = np.empty(d) if ad else None
    g1 = np.empty(d) if dp else None
    b2 = np.empty(d) if dp else None
    constant = np.empty(d, dtype=bool)
    std = np.empty(d)
    w1 = np.empty(d) if ad else None
    fn = float(n)
    if ad:  # weights c_i = 2i - 1 and 2N - c_i, i = 1..N
        c = np.arange(1.0, 2.0 * n, 2.0)
        cc = 2.0 * fn - c
        corr = 1.0 + 0.75 / fn + 2.25 / (fn * fn)
        qn = normal_scores(n)

    local = threading.local()  # per-thread work arrays, reused across blocks: fresh large
    # arrays would be page-faulted and zeroed by the kernel for every block

    def buffers(b: int) -> tuple[np.ndarray, ...]:
        if not hasattr(local, "bufs"):
            native = np.empty((bsize, n), x.dtype) if x.dtype != np.float64 else None
            tile = np.empty((_TILE_ROWS, bsize), x.dtype)
            f64 = [np.empty((bsize, n)) for _ in range(3)]
            local.bufs = (tile, f64[0] if native is None else native, *f64)
        tile, native, y, t, la = local.bufs
        return tile[:, :b], native[:b], y[:b], t[:b], la[:b]

    def block(j0: int, j1: int) -> None:
        with np.errstate(all="ignore"):  # thread-local: constant columns are overwritten below
            _block(j0, j1)

    def _block(j0: int, j1: int) -> None:
        tile, xs, y, t, la = buffers(j1 - j0)
        for i in range(0, n, _TILE_ROWS):  # transpose to (B, n) through a small contiguous tile:
            m = min(_TILE_ROWS, n - i)  # 2x faster than numpy's strided copy, 4x than x.T copy
            np.copyto(tile[:m], x[i : i + m, j0:j1])
            xs[:, i : i + m] = tile[:m].T
        xs.sort(axis=1)  # in the input dtype: exact, and float32 sorts 2x faster
        if xs is not y:
            np.copyto(y, xs)
        scale = np.maximum(np.abs(y[:, 0]), np.abs(y[:, -1]))
        # scale every column by a power of two (exact) so that squares neither overflow
        # (values near 1e300) nor underflow (near 1e-300): same results at any scale
        p2 = np.ldexp(1.0, -np.frexp(np.where(scale > 0, scale, 1.0))[1])
        y *= p2[:, None]
        scale *= p2
        y -= y.mean(axis=1, keepdims=True)  # centred
        np.multiply(y, y, out=t)
        ss = t.sum(axis=1)  # pairwise summation, as np.std
        s = np.sqrt(ss / (n - 1))
        std[j0:j1] = s / p2
        const = s <= CONSTANT_RTOL * scale
        constant[j0:j1] = const
        s[const] = 1.0
        y /= s[:, None]  # z, sorted ascending
        if dp:  # biased moments of z (scale-free skewness and kurtosis)
            t /= (s * s)[:, None]  # z^2
            m2 = ss / (s * s) / fn
            m3 = np.einsum("ij,ij->i", t, y) / fn
            m4 = np.einsum("ij,ij->i", t, t) / fn
            g1[j0:j1] = m3 / m2**1.5
            b2[j0:j1] = m4 / (m2 * m2)
        if ad:
            np.subtract(y, qn, out=la)  # QQ deviations (la is free until the log below)
            np.abs(la, out=la)
            w1[j0:j1] = la.mean(axis=1)
            p = t
            np.abs(y, out=p)
            np.negative(p, out=p)
            special.ndtr(p, out=p)  # p = Phi(-|z|) <= 1/2
            np.log(p, out=la)  # log Phi(-|z|), the small tail
            # |z| > 19: ndtr heads for underflow; use log_ndtr (z is sorted: look at the ends)
            for r in np.flatnonzero((y[:, 0] < -_TAIL_Z) | (y[:, -1] > _TAIL_Z)):
                far = np.abs(y[r]) > _TAIL_Z
                la[r, far] = special.log_ndtr(-np.abs(y[r, far]))
            np.negative(p, out=p)
            lb = np.log1p(p, out=p)  # log Phi(|z|)
            # sum_i c_i log Phi(z_i) + (2N - c_i) log Phi(-z_i). Sorted: z < 0 for the first k,
            # where log Phi(z) = la, else lb. All terms are <= 0: no cancellation, and numpy's
            # pairwise sums keep the total within ~1 ulp of N^2, like scipy.
            for r in range(j1 - j0):
                k = int(np.searchsorted(y[r], 0.0))
                la[r, :k] *= c[:k]
                la[r, k:] *= cc[k:]
                lb[r, :k] *= cc[:k]
                lb[r, k:] *= c[k:]
            total = la.sum(axis=1) + lb.sum(axis=1)
            a2star[j0:j1] = (-fn - total / fn) * corr

    nworkers = workers or default_workers()
    bsize = int(np.clip(_BLOCK_BYTES // (8 * n), _MIN_BLOCK, _MAX_BLOCK))
    bsize = max(1, min(bsize, -(-d // (4 * nworkers))))
    spans = [(j, min(j + bsize, d)) for j in range(0, d, bsize)]
    nworkers = min(nworkers, len(spans))
    if nworkers <= 1 or n * d < _SERIAL_BELOW:
        for j0, j1 in spans:
            block(j0, j1)
    else:
        with ThreadPoolExecutor(nworkers) as ex:
            for f in [ex.submit(block, j0, j1) for j0, j1 in spans]:
                f.result()

    k2 = pvalue = None
    if dp:
        k2 = _k2(g1, b2, n)
        pvalue = special.chdtrc(2.0, k2)
        k2[constant] = np.nan
        pvalue[constant] = np.nan
    if ad:
        a2star[constant] = np.nan
        w1[constant] = np.nan
    return ColumnTests(a2star=a2star, k2=k2, pvalue=pvalue, constant=constant, std=std, w1=w1)


@functools.lru_cache(maxsize=16)
def normal_scores(n: int) -> np.ndarray:
    """Normal quantiles q_i = Phi^-1((i - 1/2) / n), i = 1..n (read-only, cached)."""
    q = special.ndtri((np.arange(n) + 0.5) / n)
    q.setflags(write=False)
    return q


def _k2(g1: np.ndarray, b2: np.ndarray, n: int) -> np.ndarray:
    """K^2 from biased skewness g1 and kurtosis b2, as scipy.stats.skewtest/kurtosistest.

    One difference: scipy's skewtest replaces y == 0 by 1, so a sample skewness of exactly 0
    (exactly symmetric discrete data) gives Z_skew ~ delta/alpha instead of 0; we keep Z = 0,
    the continuous value (any y != 0, however small, agrees with scipy)."""
    n = float(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # skewtest
        y = g1 * np.sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)))
        beta2 = (
            3.0
            * (n**2 + 27 * n - 70)
            * (n + 1)
            * (n + 3)
            / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
        )
        w2 = -1 + np.sqrt(2 * (beta2 - 1))
        delta = 1 / np.sqrt(0.5 * np.log(w2))
        alpha = np.sqrt(2.0 / (w2 - 1))
        zs = delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1))
        # kurtosistest
        e = 3.0 * (n - 1) / (n + 1)
        varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
        xk = (b2 - e) / varb2**0.5
        sqrtbeta1 = (
            6.0
            * (n * n - 5 * n + 2)
            / ((n + 7) * (n + 9))
            * ((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3))) ** 0.5
        )
        a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + (1 + 4.0 / (sqrtbeta1**2)) ** 0.5)
        term1 = 1 - 2 / (9.0 * a)
        denom = 1 + xk * (2 / (a - 4.0)) ** 0.5
        term2 = np.sign(denom) * np.where(
            denom == 0.0, np.nan, ((1 - 2.0 / a) / np.abs(denom)) ** (1 / 3)
        )
        zk = (term1 - term2) / (2 / (9.0 * a)) ** 0.5
        return zs * zs + zk * zk


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
