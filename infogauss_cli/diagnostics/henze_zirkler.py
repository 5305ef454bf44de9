"""Henze-Zirkler's affine-invariant test of multivariate normality (O(n^2 k): at most
:data:`MAX_ROWS` rows), p-values from the tabulated Gaussian null ``hz_null.tsv`` (made by
``benchmarks/tables.py``), interpolated in log n and in log tail probability."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from infogauss_cli.diagnostics.null import read_tsv

MAX_ROWS = 1000
MAX_DIM = 5
TABLE_FILE = Path(__file__).with_name("hz_null.tsv")
N_GRID = (20, 30, 50, 100, 200, 350, 500, 750, 1000)
TAIL = (0.99, 0.9, 0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.0025)


def smoothing(n: int, k: int) -> float:
    """Henze and Zirkler's optimal smoothing parameter beta for n rows in k dimensions."""
    return ((2 * k + 1) / 4) ** (1 / (k + 4)) * n ** (1 / (k + 4)) / math.sqrt(2)


def hz_statistic(x: np.ndarray) -> float:
    """HZ of an (n, k) sample (n > k), whitened with its biased (1/n) covariance."""
    x = np.asarray(x, dtype=np.float64)
    n, k = x.shape
    c = x - x.mean(axis=0)
    s = c.T @ c / n
    w = np.linalg.solve(np.linalg.cholesky(s), c.T).T
    g = w @ w.T
    di = np.diag(g).copy()
    dij = di[:, None] + di[None, :] - 2.0 * g
    b2 = smoothing(n, k) ** 2
    pairs = float(np.exp(-0.5 * b2 * dij).sum()) / n
    centre = float(np.exp(-b2 / (2 * (1 + b2)) * di).sum())
    return pairs - 2 * (1 + b2) ** (-k / 2) * centre + n * (1 + 2 * b2) ** (-k / 2)


@lru_cache(maxsize=1)
def _table() -> dict[int, np.ndarray]:
    """{k: (len(N_GRID), len(TAIL)) upper quantiles of log HZ}."""
    out: dict[int, list[list[float]]] = {}
    for row in read_tsv(TABLE_FILE)[1:]:
        out.setdefault(int(row[0]), []).append([float(v) for v in row[2:]])
    return {k: np.asarray(v) for k, v in out.items()}


def hz_pvalue(stat: float, n: int, k: int) -> float:
    """Upper-tail p-value of HZ at (n, k) from the table (n clamped to its grid; extrapolated
    on the log scale beyond its smallest tail probability)."""
    q = _table()[k]  # rows: N_GRID; columns: TAIL
    x = math.log(min(max(n, N_GRID[0]), N_GRID[-1]))
    logn = np.log(N_GRID)
    quantiles = np.array([np.interp(x, logn, q[:, j]) for j in range(len(TAIL))])
    s = math.log(max(stat, 1e-300))
    logp = np.log(TAIL)
    if s <= quantiles[0]:
        return 1.0
    if s <= quantiles[-1]:
        return float(math.exp(np.interp(s, quantiles, logp)))
    slope = (logp[-1] - logp[-3]) / (quantiles[-1] - quantiles[-3])  # log p per unit log HZ
    return float(math.exp(logp[-1] + slope * (s - quantiles[-1])))


def hz_test(z: np.ndarray) -> tuple[float, float]:
    """(HZ, p) of an (n, k) sample, k <= :data:`MAX_DIM`, n <= :data:`MAX_ROWS`."""
    n, k = z.shape
    stat = hz_statistic(z)
    return stat, hz_pvalue(stat, n, k)
