"""Henze-Zirkler's test of multivariate normality, calibrated by a tabulated Monte Carlo null.

HZ (Henze & Zirkler 1990) is a weighted L2 distance between the empirical characteristic
function of the whitened sample and the standard normal's. It is affine invariant (its null law
at (n, k) is that of any Gaussian sample, whatever its mean and covariance) and consistent
against every fixed non-Gaussian alternative; R's MVN and pingouin use it, so users can
cross-check. Its usual lognormal approximation is off in the upper tail (size 1.3-3% at a
nominal 1%, n 30-2,000), so p-values here come from ``hz_null.tsv``: upper quantiles of
log HZ from Gaussian samples at each tabulated (n, k), interpolated linearly in log n and in the
tail probability on a log scale. The table is made by ``python -m
infogauss_cli.diagnostics.henze_zirkler`` (seed and replicate counts in its header).

The statistic is O(n^2 k); callers pass at most :data:`MAX_ROWS` rows.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

MAX_ROWS = 1000
MAX_DIM = 5
TABLE_FILE = Path(__file__).with_name("hz_null.tsv")
TABLE_SEED = 20261207
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


def _load() -> dict[int, np.ndarray]:
    """{k: (len(N_GRID), len(TAIL)) upper quantiles of log HZ}."""
    rows = [
        line.split("\t")
        for line in TABLE_FILE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ][1:]
    out: dict[int, list[list[float]]] = {}
    for row in rows:
        out.setdefault(int(row[0]), []).append([float(v) for v in row[2:]])
    return {k: np.asarray(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _table() -> dict[int, np.ndarray]:
    return _load()


def hz_pvalue(stat: float, n: int, k: int) -> float:
    """Upper-tail p-value of HZ at (n, k) from the table (n clamped to its grid). Beyond the
    smallest tabulated tail probability the p-value is extrapolated on the log scale,
    decreasing, and never above that probability."""
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


def simulate_table(reps: int = 4000, seed: int = TABLE_SEED) -> list[list[float]]:
    """Rows (k, n, upper TAIL quantiles of log HZ) from ``reps`` N(0, I_k) samples per cell."""
    rows = []
    for k in range(1, MAX_DIM + 1):
        for n in N_GRID:
            rng = np.random.default_rng([seed, k, n])
            logs = np.log([hz_statistic(rng.standard_normal((n, k))) for _ in range(reps)])
            rows.append([k, n, *np.quantile(logs, 1 - np.asarray(TAIL))])
    return rows


if __name__ == "__main__":  # pragma: no cover - regenerates the table (about 10 min, 1 core)
    import sys
    import time

    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    t0 = time.perf_counter()
    print(f"# Henze-Zirkler null: upper quantiles of log HZ from {reps} N(0, I_k) samples per")
    print(f"# (k, n), numpy default_rng([{TABLE_SEED}, k, n]); made by `python -m")
    print("# infogauss_cli.diagnostics.henze_zirkler` (columns: tail probabilities).")
    print("\t".join(["k", "n", *(f"p{p:g}" for p in TAIL)]))
    for k, n, *qs in simulate_table(reps):
        print("\t".join([str(int(k)), str(int(n)), *(f"{v:.6f}" for v in qs)]), flush=True)
    print(f"# {time.perf_counter() - t0:.0f} s", file=sys.stderr)
