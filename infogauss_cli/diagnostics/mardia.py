"""Mardia's multivariate skewness and kurtosis, calibrated by Monte Carlo at the same n and k.

The reference is the row's own: a k-dim projection of points uniform on S^(d-1) (what the L2
rows of iid Gaussian data are), whose kurtosis sits about 2k(k+2)/(d+2) below the Gaussian
value; with ``d=None`` the reference is a Gaussian sample.

b1 = (1/n^2) sum_ij (z_i' S^-1 z_j)^3 and b2 = (1/n) sum_i (z_i' S^-1 z_i)^2 with z centred and
S the biased (1/n) covariance (Mardia 1970). Both are affine invariant, so their null
distribution at (n, k) is that of any Gaussian sample, simulated here from N(0, I_k) with a fixed
seed and cached in memory: p-values are (1 + #{null >= observed}) / (1 + reps) for skewness and
two-sided (distance from the null median) for kurtosis. The asymptotic forms (n b1 / 6 ~ chi2
with k(k+1)(k+2)/6 dof; b2 ~ N(k(k+2), 8k(k+2)/n)) are poor at small n or large k, hence MC.

High d: the statistics need S^-1, i.e. n >> k, and b1 costs O(n^2 k). So the test runs on a random
k-dimensional orthonormal projection (default k = 8) of the L2-normalised rows, on at most
``max_rows`` rows (default 1000): it tests that *low-dimensional projections* are jointly
Gaussian, which is what the Maxwell-Poincare theorem predicts. Henze-Zirkler is not offered: its
smoothing parameter and its null at d in the hundreds make it meaningless there (it rejects or
accepts essentially by construction), and at small k it answers the same question as Mardia.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from .projections import random_directions
from .validate import l2_normalise

DEFAULT_MARDIA_DIM = 8
DEFAULT_MARDIA_ROWS = 1000
DEFAULT_MARDIA_REPS = 400
_NULL_SEED = 20260207


@dataclass(frozen=True)
class MardiaResult:
    """Mardia's b1 (skewness) and b2 (kurtosis) of ``n`` rows in ``k`` dimensions, with Monte
    Carlo p-values (``reps`` null samples) and the asymptotic ones for reference."""

    b1: float
    b2: float
    skew_p: float
    kurt_p: float
    skew_p_asymptotic: float
    kurt_p_asymptotic: float
    n: int
    k: int
    reps: int


def mardia_batch(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(b1, b2) of every sample in an (r, n, k) batch. z is centred and whitened with its biased
    covariance; b1 comes from the third-moment tensor, sum_ij (w_i'w_j)^3 = sum_abc M_abc^2 with
    M_abc = sum_i w_ia w_ib w_ic: O(n k^3), not O(n^2 k)."""
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


def mardia_statistics(z: np.ndarray) -> tuple[float, float]:
    """(b1, b2) of one (n, k) sample."""
    b1, b2 = mardia_batch(np.asarray(z, dtype=np.float64)[None])
    return float(b1[0]), float(b2[0])


@functools.lru_cache(maxsize=32)
def mardia_null(
    n: int,
    k: int,
    reps: int = DEFAULT_MARDIA_REPS,
    seed: int = _NULL_SEED,
    d: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated null (b1, b2) arrays for samples of n rows in k dims (cached): Gaussian
    (``d=None``), or the first k coordinates of points uniform on S^(d-1) (d >= k)."""
    rng = np.random.default_rng([seed, n, k] + ([] if d is None else [d]))
    step = max(1, (16 << 20) // (8 * n * k * k))  # ~16 MB of work per batch

    def draw(r: int) -> np.ndarray:
        g = rng.standard_normal((r, n, k))
        if d is None:
            return g
        rest = 2.0 * rng.standard_gamma((d - k) / 2.0, (r, n, 1)) if d > k else 0.0
        return g / np.sqrt(np.einsum("rnk,rnk->rn", g, g)[..., None] + rest)

    parts = [mardia_batch(draw(min(step, reps - i))) for i in range(0, reps, step)]
    b1 = np.concatenate([p[0] for p in parts])
    b2 = np.concatenate([p[1] for p in parts])
    b1.setflags(write=False)
    b2.setflags(write=False)
    return b1, b2


def mardia_test(
    z: np.ndarray, *, reps: int = DEFAULT_MARDIA_REPS, sphere_d: int | None = None
) -> MardiaResult:
    """Mardia's tests on an (n, k) sample (n > k + 1), MC-calibrated at the same n and k
    against Gaussian samples, or (``sphere_d``) k-dim projections of the sphere S^(d-1)."""
    z = np.asarray(z, dtype=np.float64)
    n, k = z.shape
    b1, b2 = mardia_statistics(z)
    null1, null2 = mardia_null(n, k, reps, d=sphere_d)
    skew_p = (1 + int(np.sum(null1 >= b1))) / (reps + 1)
    med = float(np.median(null2))
    kurt_p = (1 + int(np.sum(np.abs(null2 - med) >= abs(b2 - med)))) / (reps + 1)
    df = k * (k + 1) * (k + 2) / 6.0
    za = (b2 - k * (k + 2)) / np.sqrt(8.0 * k * (k + 2) / n)
    return MardiaResult(
        b1=b1,
        b2=b2,
        skew_p=skew_p,
        kurt_p=kurt_p,
        skew_p_asymptotic=float(special.chdtrc(df, n * b1 / 6.0)),
        kurt_p_asymptotic=float(special.erfc(abs(za) / np.sqrt(2.0))),
        n=n,
        k=k,
        reps=reps,
    )


def mardia(
    x: np.ndarray,
    *,
    k: int = DEFAULT_MARDIA_DIM,
    max_rows: int | None = DEFAULT_MARDIA_ROWS,
    reps: int = DEFAULT_MARDIA_REPS,
    seed: int = 0,
    normalise: bool = True,
) -> MardiaResult:
    """Mardia on a seeded random k-dim projection (all d if d <= k) of the L2-normalised rows
    of ``x`` (``normalise=False``: as given), using at most ``max_rows`` rows (seeded).
    Calibrated against the same projection of the uniform sphere (normalised rows) or of a
    Gaussian sample (``normalise=False``)."""
    x = np.asarray(x)
    n, d = x.shape
    if max_rows is not None and n > max_rows:
        idx = np.sort(np.random.default_rng([seed, 0x3A7]).choice(n, max_rows, replace=False))
        x = x[idx]
    u = l2_normalise(x) if normalise else np.asarray(x, dtype=np.float64)
    z = u if d <= k else u.astype(np.float64) @ random_directions(d, k, seed + 1)
    return mardia_test(z, reps=reps, sphere_d=d if normalise else None)


__all__ = [
    "MardiaResult",
    "mardia",
    "mardia_batch",
    "mardia_null",
    "mardia_statistics",
    "mardia_test",
]
