"""Skewness of Mardia's b2 under a Gaussian, tabulated: the radial test's third moment.

b2's exact mean and variance are known in closed form (:func:`~.mardia.gaussian_moments`), but
at small n its law is right-skewed (0.7 at 30 rows in 4 dims), so a normal two-sided p-value
is liberal (3.7% at a nominal 1% at 30 x 4). ``b2_skew.tsv`` holds the skewness from Monte
Carlo samples of N(0, I_k) at each (m, k) of a grid; the radial test refers b2 to the Pearson
type III with the exact mean and variance and this skewness. Beyond the grid the skewness is
interpolated in log m and log k, clamped (it falls towards 0 as m and k grow). Made by
``python -m infogauss_cli.diagnostics.b2_skew > b2_skew.tsv`` (this folder's; seed below).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

TABLE_FILE = Path(__file__).with_name("b2_skew.tsv")
SEED = 20261210
M_GRID = (20, 30, 50, 100, 200, 500, 1000, 2000, 5000)
K_GRID = (1, 2, 4, 8, 16, 32, 64)


def b2_samples(m: int, k: int, reps: int, seed: int = SEED) -> np.ndarray:
    """Mardia's b2 (biased covariance) of ``reps`` N(0, I_k) samples of m rows."""
    rng = np.random.default_rng([seed, m, k])
    out = np.empty(reps)
    for r in range(reps):
        c = rng.standard_normal((m, k))
        c -= c.mean(axis=0)
        w = np.linalg.solve(np.linalg.cholesky(c.T @ c / m), c.T)
        out[r] = np.mean(np.einsum("ki,ki->i", w, w) ** 2)
    return out


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    t = np.full((len(M_GRID), len(K_GRID)), np.nan)
    for line in TABLE_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        if line and not line.startswith("#"):
            m, k, skew = line.split("\t")[:3]
            t[M_GRID.index(int(m)), K_GRID.index(int(k))] = float(skew)
    return t


def b2_skew(m: int, k: int) -> float:
    """The tabulated skewness of b2 at m rows and k dimensions (interpolated, clamped)."""
    t = _table()
    lk = math.log(min(max(k, 1), K_GRID[-1]))
    ms, col = [], []
    for mm, row in zip(M_GRID, t, strict=True):
        ok = np.isfinite(row)
        if ok.any():
            ms.append(math.log(mm))
            col.append(float(np.interp(lk, np.log(np.asarray(K_GRID)[ok]), row[ok])))
    return float(np.interp(math.log(max(m, M_GRID[0])), ms, col))


if __name__ == "__main__":  # pragma: no cover - regenerates the table (a few minutes)
    import sys

    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    print("m\tk\tskew")
    print(f"# {reps} N(0, I_k) samples per (m, k), default_rng([{SEED}, m, k])")
    for m in M_GRID:
        for k in K_GRID:
            if k <= (m - 1) // 2:
                b = b2_samples(m, k, reps)
                c = b - b.mean()
                print(f"{m}\t{k}\t{np.mean(c**3) / np.mean(c**2) ** 1.5:.4f}", flush=True)
