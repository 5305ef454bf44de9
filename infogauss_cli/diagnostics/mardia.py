"""Multivariate normality tests: Mardia's b1 and b2 against a Gaussian (exact moments) or a k-dim
projection of the uniform sphere (simulated, with a control variate), and Henze-Zirkler (at
most :data:`HZ_MAX_ROWS` rows; p-values from the tabulated Gaussian null ``hz_null.tsv``)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.normality import grid_interp, read_tsv
from infogauss_cli.diagnostics.sphere import random_directions
from infogauss_cli.diagnostics.validate import l2_normalise

DEFAULT_MARDIA_DIM = 8
DEFAULT_MARDIA_ROWS = 1000
DEFAULT_MARDIA_REPS = 1000
_NULL_SEED = 20260207
B2_SKEW_FILE = Path(__file__).with_name("b2_skew.tsv")  # made by benchmarks/tables.py
B2_GRID_M = (20, 30, 50, 100, 200, 500, 1000, 2000, 5000)
B2_GRID_K = (1, 2, 4, 8, 16, 32, 64)
HZ_MAX_ROWS = 1000
HZ_MAX_DIM = 5
HZ_FILE = Path(__file__).with_name("hz_null.tsv")
N_GRID = (20, 30, 50, 100, 200, 350, 500, 750, 1000)
TAIL = (0.99, 0.9, 0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.0025)


@dataclass(frozen=True)
class MardiaResult:
    """Mardia's b1 and b2 of ``n`` rows in ``k`` dimensions, and their p-values."""

    b1: float
    b2: float
    skew_p: float
    kurt_p: float
    n: int
    k: int


def mardia_batch(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(b1, b2) of every sample in an (r, n, k) batch, b1 from the third-moment tensor."""
    z = np.asarray(z, dtype=np.float64)
    r, n, k = z.shape
    c = z - z.mean(axis=1, keepdims=True)
    s = np.matmul(c.transpose(0, 2, 1), c) / n
    lt = np.linalg.cholesky(s)  # s = L L'; w = c L^-T, so w_i'w_j = z_i' S^-1 z_j
    w = np.linalg.solve(lt, c.transpose(0, 2, 1)).transpose(0, 2, 1)
    outer = (w[:, :, :, None] * w[:, :, None, :]).reshape(r, n, k * k)
    m = np.matmul(outer.transpose(0, 2, 1), w)  # (r, k^2, k)
    b1 = np.einsum("rab,rab->r", m, m) / (n * n)
    b2 = np.mean(np.einsum("rij,rij->ri", w, w) ** 2, axis=1)
    return b1, b2


@functools.lru_cache(maxsize=32)
def mardia_null(
    n: int, k: int, reps: int = DEFAULT_MARDIA_REPS, d: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated null (b1, b2): Gaussian (``d=None``) or S^(d-1) from the same draws."""
    rng = np.random.default_rng([_NULL_SEED, n, k])
    rest_rng = np.random.default_rng([_NULL_SEED, n, k, d or 0])
    step = max(1, (16 << 20) // (8 * n * k * k))  # ~16 MB of work per batch

    def draw(r: int) -> np.ndarray:
        g = rng.standard_normal((r, n, k))
        if d is None:
            return g
        rest = 2.0 * rest_rng.standard_gamma((d - k) / 2.0, (r, n, 1)) if d > k else 0.0
        return g / np.sqrt(np.einsum("rnk,rnk->rn", g, g)[..., None] + rest)

    parts = [mardia_batch(draw(min(step, reps - i))) for i in range(0, reps, step)]
    b1, b2 = (np.concatenate(a) for a in zip(*parts, strict=True))
    b1.setflags(write=False)
    b2.setflags(write=False)
    return b1, b2


def gaussian_moments(n: int, k: int) -> tuple[float, float, float]:
    """Exact E b1, E b2 and Var b2 of a Gaussian sample of n rows in k dims (Mardia 1974)."""
    e1 = k * (k + 2) * ((n + 1) * (k + 1) - 6) / ((n + 1) * (n + 3))
    e2 = k * (k + 2) * (n - 1) / (n + 1)
    v2 = 8 * k * (k + 2) * (n - 3) * (n - k - 1) * (n - k + 1) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    return e1, e2, v2


@functools.lru_cache(maxsize=32)
def null_moments(
    n: int, k: int, reps: int = DEFAULT_MARDIA_REPS, d: int | None = None
) -> tuple[float, float, float, float, float]:
    """(mean b1, var b1, mean b2, var b2, skewness b2) under the reference (cached)."""
    e1, e2, v2 = gaussian_moments(n, k)
    g1, g2 = mardia_null(n, k, reps)
    b1, b2, m1, m2, var2 = g1, g2, e1, e2, v2
    if d is not None:
        b1, b2 = mardia_null(n, k, reps, d=d)  # same draws as g1, g2 (same seed)
        m1, _ = _regression(b1, g1, e1, 0.0)
        m2, var2 = _regression(b2, g2, e2, v2)
    c = b2 - b2.mean()
    skew2 = float(np.mean(c**3) / np.mean(c**2) ** 1.5)
    return m1, float(np.var(b1, ddof=1)), m2, var2, skew2


def _regression(y: np.ndarray, x: np.ndarray, ex: float, vx: float) -> tuple[float, float]:
    """Mean and variance of y from draws paired with x of known mean ``ex`` and variance ``vx``."""
    b = float(np.cov(y, x)[0, 1] / np.var(x, ddof=1))
    resid = y - b * x
    return float(resid.mean() + b * ex), float(b * b * vx + np.var(resid, ddof=1))


def pearson3_cdf(x: float, mean: float, var: float, skew: float) -> float:
    """P(X <= x) for the Pearson type III (shifted gamma) with these moments (normal at 0)."""
    z = (x - mean) / np.sqrt(var)
    if abs(skew) < 1e-6:
        return float(special.ndtr(z))
    a = 4.0 / (skew * skew)
    y = a + z * np.sqrt(a) * np.sign(skew)  # the gamma variable; below 0 is outside its support
    tail = float(special.gammainc(a, y)) if y > 0 else 0.0
    return tail if skew > 0 else 1.0 - tail


def mardia_test(
    z: np.ndarray, *, reps: int = DEFAULT_MARDIA_REPS, sphere_d: int | None = None
) -> MardiaResult:
    """Mardia's tests on an (n, k) sample against Gaussians or (``sphere_d``) S^(d-1)."""
    z = np.asarray(z, dtype=np.float64)
    n, k = z.shape
    b1, b2 = (float(v[0]) for v in mardia_batch(z[None]))
    m1, v1, m2, v2, s2 = null_moments(n, k, reps, sphere_d)
    c, nu = v1 / (2.0 * m1), 2.0 * m1 * m1 / v1
    skew_p = float(special.chdtrc(nu, b1 / c))
    f = pearson3_cdf(b2, m2, v2, s2)
    return MardiaResult(b1, b2, skew_p, min(1.0, 2.0 * min(f, 1.0 - f)), n, k)


def mardia(
    x: np.ndarray, *, k: int = DEFAULT_MARDIA_DIM, reps: int = DEFAULT_MARDIA_REPS, seed: int = 0
) -> MardiaResult:
    """Mardia against the sphere on a seeded k-dim projection of the L2-normalised rows of ``x``."""
    u = l2_normalise(np.asarray(x))
    d = u.shape[1]
    z = u if d <= k else u.astype(np.float64) @ random_directions(d, k, seed + 1)
    return mardia_test(z, reps=reps, sphere_d=d)


def b2_skew(m: int, k: int) -> float:
    """The tabulated skewness of b2 under a Gaussian at m rows and k dimensions."""
    return grid_interp(B2_SKEW_FILE, B2_GRID_M, B2_GRID_K, m, k)


def smoothing(n: int, k: int) -> float:
    """Henze and Zirkler's optimal smoothing parameter beta for n rows in k dimensions."""
    return ((2 * k + 1) / 4) ** (1 / (k + 4)) * n ** (1 / (k + 4)) / math.sqrt(2)


def hz_statistic(x: np.ndarray) -> float:
    """HZ of an (n, k) sample (n > k), whitened with its biased (1/n) covariance."""
    x = np.asarray(x, dtype=np.float64)
    n, k = x.shape
    c = x - x.mean(axis=0)
    w = np.linalg.solve(np.linalg.cholesky(c.T @ c / n), c.T).T
    g = w @ w.T
    di = np.diag(g).copy()
    dij = di[:, None] + di[None, :] - 2.0 * g
    b2 = smoothing(n, k) ** 2
    pairs = float(np.exp(-0.5 * b2 * dij).sum()) / n
    centre = float(np.exp(-b2 / (2 * (1 + b2)) * di).sum())
    return pairs - 2 * (1 + b2) ** (-k / 2) * centre + n * (1 + 2 * b2) ** (-k / 2)


@functools.lru_cache(maxsize=1)
def _hz_table() -> dict[int, np.ndarray]:
    """{k: (len(N_GRID), len(TAIL)) upper quantiles of log HZ}."""
    out: dict[int, list[list[float]]] = {}
    for row in read_tsv(HZ_FILE)[1:]:
        out.setdefault(int(row[0]), []).append([float(v) for v in row[2:]])
    return {k: np.asarray(v) for k, v in out.items()}


def hz_pvalue(stat: float, n: int, k: int) -> float:
    """Upper-tail p-value of HZ at (n, k) from the table (log-extrapolated in the tail)."""
    q = _hz_table()[k]  # rows: N_GRID; columns: TAIL
    x, logn = math.log(min(max(n, N_GRID[0]), N_GRID[-1])), np.log(N_GRID)
    quantiles = np.array([np.interp(x, logn, q[:, j]) for j in range(len(TAIL))])
    s, logp = math.log(max(stat, 1e-300)), np.log(TAIL)
    if s <= quantiles[0]:
        return 1.0
    if s <= quantiles[-1]:
        return float(math.exp(np.interp(s, quantiles, logp)))
    slope = (logp[-1] - logp[-3]) / (quantiles[-1] - quantiles[-3])  # log p per unit log HZ
    return float(math.exp(logp[-1] + slope * (s - quantiles[-1])))
