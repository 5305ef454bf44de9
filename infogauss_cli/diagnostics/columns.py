"""The per-coordinate tests (A*^2, K^2, QQ distance) over blocks of columns, in threads and
within a memory budget; the l2 view is divided out per block. The cut changes no result."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.validate import MappedRows, resolve_budget, view_dtype

# A column is constant when std <= CONSTANT_RTOL * max|x| (scale-free; std == 0 included).
CONSTANT_RTOL = 1e-12

# Blocks of columns: ~8 MB of float64 each, 8..128 columns, at least 4 blocks per worker.
_BLOCK_BYTES = 8 << 20
_MIN_BLOCK, _MAX_BLOCK = 8, 128
_TILE_BYTES = 1 << 20  # the transpose's tile
_TILE_ROWS = 512
_TAIL_Z = 19.0  # beyond, log Phi(-|z|) comes from log_ndtr instead of log(ndtr)
_SERIAL_BELOW = 1 << 18  # elements: below this, threads cost more than they save
_WORK_ARRAYS = 3  # float64 (B, n) work arrays per thread
_BLOCKS_PER_PASS = 4  # per worker, for an in-memory matrix (nothing to save by larger passes)


@dataclass(frozen=True, eq=False)
class ColumnTests:
    """Raw per-column output of :func:`column_tests` (float64, shape (d,))."""

    a2star: np.ndarray
    k2: np.ndarray
    pvalue: np.ndarray
    constant: np.ndarray  # bool
    std: np.ndarray  # column std (ddof=1), in the input's units
    w1: np.ndarray  # mean |z_(i) - q_i|: QQ distance to N(0, 1)


def k2_statistic(g1: np.ndarray, b2: np.ndarray, n: int) -> np.ndarray:
    """D'Agostino's K^2 from biased skewness g1 and kurtosis b2 (as scipy, but g1 = 0 gives 0)."""
    n = float(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = g1 * np.sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)))
        num = 3.0 * (n**2 + 27 * n - 70) * (n + 1) * (n + 3)
        beta2 = num / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
        w2 = -1 + np.sqrt(2 * (beta2 - 1))
        delta = 1 / np.sqrt(0.5 * np.log(w2))
        alpha = np.sqrt(2.0 / (w2 - 1))
        zs = delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1))
        e = 3.0 * (n - 1) / (n + 1)
        varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
        xk = (b2 - e) / varb2**0.5
        t = 6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9))
        sqrtbeta1 = t * ((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3))) ** 0.5
        a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + (1 + 4.0 / (sqrtbeta1**2)) ** 0.5)
        term1 = 1 - 2 / (9.0 * a)
        denom = 1 + xk * (2 / (a - 4.0)) ** 0.5
        term2 = np.sign(denom) * np.where(
            denom == 0.0, np.nan, ((1 - 2.0 / a) / np.abs(denom)) ** (1 / 3)
        )
        zk = (term1 - term2) / (2 / (9.0 * a)) ** 0.5
        return zs * zs + zk * zk


def default_workers() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=16)
def normal_scores(n: int) -> np.ndarray:
    """Normal quantiles q_i = Phi^-1((i - 1/2) / n), i = 1..n (read-only, cached)."""
    q = special.ndtri((np.arange(n) + 0.5) / n)
    q.setflags(write=False)
    return q


def plan(
    n: int, d: int, itemsize: int, workers: int | None, budget: int | None, mapped: bool
) -> tuple[int, int, int]:
    """(columns per pass, per block, threads): blocks within half the budget, passes the rest."""
    budget = resolve_budget(budget)
    nw = workers or default_workers()
    bsize = int(np.clip(_BLOCK_BYTES // (8 * n), _MIN_BLOCK, _MAX_BLOCK))
    bsize = max(1, min(bsize, -(-d // (4 * nw))))
    work = _WORK_ARRAYS * 8 * n  # bytes per column in a thread
    bsize = max(1, min(bsize, budget // 2 // (nw * work)))
    nw = max(1, min(nw, budget // 2 // (bsize * work), -(-d // bsize)))
    left = budget - nw * bsize * work
    cols = max(nw * bsize, left // max(n * itemsize, 1))
    if not mapped:
        cols = min(cols, nw * bsize * _BLOCKS_PER_PASS)
    return min(d, max(bsize, cols // bsize * bsize)), bsize, nw


def _spans(start: int, stop: int, step: int) -> tuple[range, list[int]]:
    """(starts, stops) of ``start:stop`` cut in steps of ``step``."""
    starts = range(start, stop, step)
    return starts, [min(j + step, stop) for j in starts]


class _Columns:
    """The per-column outputs, the per-block statistics that fill them, and the reused (cols, n)
    buffer that columns ``p0:p1`` are transposed into (divided by ``divide_by`` if given)."""

    def __init__(
        self, x: np.ndarray, divide_by: np.ndarray | None, dtype: np.dtype, cols: int
    ) -> None:
        n, d = x.shape
        self.n, self.x, self.divide_by, self.dtype = n, x, divide_by, dtype
        self.buf = np.empty((cols, n), dtype)
        self.rows = MappedRows(x)
        self.tile_rows = int(np.clip(_TILE_BYTES // (cols * dtype.itemsize), 16, _TILE_ROWS))
        self.a2star, self.g1, self.b2, self.std, self.w1 = (np.empty(d) for _ in range(5))
        self.constant = np.empty(d, dtype=bool)
        fn = float(n)
        self.c = np.arange(1.0, 2.0 * n, 2.0)  # weights c_i = 2i - 1 and 2N - c_i, i = 1..N
        self.cc = 2.0 * fn - self.c
        self.corr = 1.0 + 0.75 / fn + 2.25 / (fn * fn)
        self.qn = normal_scores(n)
        self._local = threading.local()  # per-thread work arrays, reused across blocks: fresh
        # large arrays would be page-faulted and zeroed by the kernel for every block

    def block(self, p0: int, bsize: int, j0: int, j1: int) -> None:
        """Statistics of columns ``j0:j1`` of a pass from column ``p0`` (sorted in place)."""
        xs = self.buf[j0 - p0 : j1 - p0]
        if getattr(self._local, "bsize", None) != bsize:
            self._local.bufs = [np.empty((bsize, self.n)) for _ in range(_WORK_ARRAYS)]
            self._local.bsize = bsize
        y0, t, la = (buf[: j1 - j0] for buf in self._local.bufs)
        with np.errstate(all="ignore"):  # thread-local: constant columns are overwritten later
            xs.sort(axis=1)  # in the input dtype: exact, and float32 sorts 2x faster
            y = xs if xs.dtype == np.float64 else y0
            if y is not xs:
                np.copyto(y, xs)
            s, ss = self._standardise(y, t, j0, j1)
            # biased skewness and kurtosis of z (scale-free)
            t /= (s * s)[:, None]  # z^2
            m2 = ss / (s * s) / self.n
            m3 = np.einsum("ij,ij->i", t, y) / self.n
            self.g1[j0:j1] = m3 / m2**1.5
            m4 = np.einsum("ij,ij->i", t, t) / self.n
            self.b2[j0:j1] = m4 / (m2 * m2)
            self._anderson(y, t, la, j0, j1)

    def _standardise(
        self, y: np.ndarray, t: np.ndarray, j0: int, j1: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Centre and scale ``y`` in place to z (sorted ascending); ``t`` = centred squares."""
        n = self.n
        scale = np.maximum(np.abs(y[:, 0]), np.abs(y[:, -1]))
        # scale by a power of two (exact): squares neither overflow nor underflow at any scale
        p2 = np.ldexp(1.0, -np.frexp(np.where(scale > 0, scale, 1.0))[1])
        y *= p2[:, None]
        scale *= p2
        y -= y.mean(axis=1, keepdims=True)  # centred
        np.multiply(y, y, out=t)
        ss = t.sum(axis=1)  # pairwise summation, as np.std
        s = np.sqrt(ss / (n - 1))
        self.std[j0:j1] = s / p2
        const = s <= CONSTANT_RTOL * scale
        self.constant[j0:j1] = const
        s[const] = 1.0
        y /= s[:, None]  # z, sorted ascending
        return s, ss

    def _anderson(self, y: np.ndarray, p: np.ndarray, la: np.ndarray, j0: int, j1: int) -> None:
        """Modified A*^2 and the QQ distance of sorted z ``y`` (``p``, ``la``: work arrays)."""
        fn = float(self.n)
        c, cc = self.c, self.cc
        np.subtract(y, self.qn, out=la)  # QQ deviations (la is free until the log below)
        np.abs(la, out=la)
        self.w1[j0:j1] = la.mean(axis=1)
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
        # sum_i c_i log Phi(z_i) + (2N - c_i) log Phi(-z_i); sorted: z < 0 for the first k,
        # where log Phi(z) = la, else lb (all terms <= 0: no cancellation)
        for r in range(j1 - j0):
            k = int(np.searchsorted(y[r], 0.0))
            la[r, :k] *= c[:k]
            la[r, k:] *= cc[k:]
            lb[r, :k] *= cc[:k]
            lb[r, k:] *= c[k:]
        total = la.sum(axis=1) + lb.sum(axis=1)
        self.a2star[j0:j1] = (-fn - total / fn) * self.corr

    def rows_of(self, p0: int, p1: int, i0: int, i1: int) -> None:
        """Rows ``i0:i1`` of columns ``p0:p1`` into the buffer."""
        b = p1 - p0
        tile = getattr(self._local, "tile", None)
        if tile is None:
            tile = self._local.tile = np.empty((self.tile_rows, self.buf.shape[0]), self.dtype)
        xs = self.buf[:b]
        for i in range(i0, i1, self.tile_rows):
            m = min(self.tile_rows, i1 - i)
            part = self.x[i : i + m, p0:p1]
            if self.divide_by is None:
                np.copyto(tile[:m, :b], part)
            else:  # as l2_normalise: divided in float64, rounded once to the view's dtype
                np.divide(part, self.divide_by[i : i + m, None], out=tile[:m, :b])
            xs[:, i : i + m] = tile[:m, :b].T
            self.rows.release(i, i + m)


def column_tests(
    x: np.ndarray,
    *,
    workers: int | None = None,
    divide_by: np.ndarray | None = None,
    budget: int | None = None,
) -> ColumnTests:
    """AD and DP statistics and QQ distances of every column of a finite (n, d) matrix (no
    validation), or of ``x / divide_by[:, None]``; ``budget``: bytes of working memory."""
    n, d = x.shape
    if x.dtype not in (np.float16, np.float32, np.float64):
        x = x.astype(np.float64)
    dtype = np.dtype(x.dtype if divide_by is None else view_dtype(x.dtype))
    cols, bsize, nw = plan(n, d, dtype.itemsize, workers, budget, MappedRows(x).mapped)
    out = _Columns(x, divide_by, dtype, cols)
    threads = nw > 1 and n * d >= _SERIAL_BELOW
    with ThreadPoolExecutor(nw) if threads else contextlib.nullcontext() as pool:
        run = pool.map if threads else map  # list(run(fn, a, b)): fn(a_i, b_i) all done
        for p0, p1 in zip(*_spans(0, d, cols), strict=True):
            list(run(functools.partial(out.rows_of, p0, p1), *_spans(0, n, -(-n // nw))))
            list(run(functools.partial(out.block, p0, bsize), *_spans(p0, p1, bsize)))
    k2 = k2_statistic(out.g1, out.b2, n)
    pvalue = special.chdtrc(2.0, k2)
    for a in (k2, pvalue, out.a2star, out.w1):
        a[out.constant] = np.nan
    return ColumnTests(out.a2star, k2, pvalue, out.constant, out.std, out.w1)
