"""Regenerate the small tables shipped in ``infogauss_cli/diagnostics`` (developer tool).

    python benchmarks/tables.py null > infogauss_cli/diagnostics/null_table.tsv   # minutes
    python benchmarks/tables.py hz [REPS] > infogauss_cli/diagnostics/hz_null.tsv
    python benchmarks/tables.py b2 [REPS] > infogauss_cli/diagnostics/b2_skew.tsv
    python benchmarks/tables.py power [REPS] > infogauss_cli/diagnostics/power_table.tsv
    python benchmarks/tables.py power-check     # the power table against fresh draws

The reference table has its own builder: ``benchmarks/reftable_build.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.gaussian import K_GRID, M_GRID, gaussian_tests, relevant_power
from infogauss_cli.diagnostics.mardia import (
    B2_GRID_K,
    B2_GRID_M,
    HZ_MAX_DIM,
    N_GRID,
    TAIL,
    hz_statistic,
)
from infogauss_cli.diagnostics.normality import AD_CRITICAL_5PCT, DP_ALPHA
from infogauss_cli.diagnostics.refsim import ALT_DF

NULL_SEED, HZ_SEED, B2_SEED = 20260101, 20261207, 20261210
POWER_SEED, POWER_CHECK_SEED = 20261208, 20261209
NULL_N = (20, 30, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 25000)


def simulate_null_table(
    n_grid: tuple[int, ...] = NULL_N, columns: int | None = None, seed: int = NULL_SEED
) -> list[tuple[float, ...]]:
    """Per n: ``columns`` iid N(0, 1) float64 columns (default 1,000,000 up to n = 1000, then
    200,000), ``default_rng([seed, n])``. Rows: n, columns, mean A*^2, its SE, sd A*^2, AD
    compliance, its SE, DP compliance, its SE, mean p, its SE, sd p."""
    rows = []
    for n in n_grid:
        m_total = columns or (1_000_000 if n <= 1000 else 200_000)
        rng = np.random.default_rng([seed, n])
        per = max(1, (32 << 20) // (8 * n))
        a2_parts, p_parts = [], []
        for done in range(0, m_total, per):
            res = column_tests(rng.standard_normal((n, min(per, m_total - done))))
            a2_parts.append(res.a2star)
            p_parts.append(res.pvalue)
        a2, p = np.concatenate(a2_parts), np.concatenate(p_parts)
        m = a2.size
        ad_ok, dp_ok = (a2 < AD_CRITICAL_5PCT).mean(), (p > DP_ALPHA).mean()
        sd_a, sd_p = a2.std(ddof=1), p.std(ddof=1)
        rows.append(
            (float(n), float(m), a2.mean(), sd_a / np.sqrt(m), sd_a, ad_ok,
             np.sqrt(ad_ok * (1 - ad_ok) / m), dp_ok, np.sqrt(dp_ok * (1 - dp_ok) / m),
             p.mean(), sd_p / np.sqrt(m), sd_p)
        )  # fmt: skip
    return rows


def hz_table(reps: int = 4000, seed: int = HZ_SEED) -> list[list[float]]:
    """Rows (k, n, upper TAIL quantiles of log HZ) from ``reps`` N(0, I_k) samples per cell."""
    rows = []
    for k in range(1, HZ_MAX_DIM + 1):
        for n in N_GRID:
            rng = np.random.default_rng([seed, k, n])
            logs = np.log([hz_statistic(rng.standard_normal((n, k))) for _ in range(reps)])
            rows.append([k, n, *np.quantile(logs, 1 - np.asarray(TAIL))])
    return rows


def b2_samples(m: int, k: int, reps: int, seed: int = B2_SEED) -> np.ndarray:
    """Mardia's b2 (biased covariance) of ``reps`` N(0, I_k) samples of m rows."""
    rng = np.random.default_rng([seed, m, k])
    out = np.empty(reps)
    for r in range(reps):
        c = rng.standard_normal((m, k))
        c -= c.mean(axis=0)
        w = np.linalg.solve(np.linalg.cholesky(c.T @ c / m), c.T)
        out[r] = np.mean(np.einsum("ki,ki->i", w, w) ** 2)
    return out


PVALUES = (
    "decorrelated_ad_count_p",
    "decorrelated_dp_count_p",
    "worst_coordinate_p",
    "worst_given_coordinate_p",
    "henze_zirkler_p",
    "radial_p",
)  # the verdict's tests


def rejected(x: np.ndarray) -> dict[str, bool]:
    """Whether each view's decision (Bonferroni at 0.05) rejects the (m, k) sample x."""
    metrics = gaussian_tests(x, "raw")[0]
    p = {key: metrics[key] for key in PVALUES if key in metrics}
    no_radial = {k: v for k, v in p.items() if k != "radial_p"}
    return {
        "raw": any(v < 0.05 / len(p) for v in p.values()),
        "l2": any(v < 0.05 / len(no_radial) for v in no_radial.values()),
    }


def power_cell(m: int, k: int, reps: int, seed: int = POWER_SEED) -> dict[str, float]:
    hits = [
        rejected(np.random.default_rng([seed, m, k, r]).standard_t(ALT_DF, (m, k)))
        for r in range(reps)
    ]
    return {view: float(np.mean([h[view] for h in hits])) for view in ("raw", "l2")}


def power_check(reps: int = 200) -> float:
    """Largest |table - fresh simulation| at off-grid (m, k), printed per point."""
    worst = 0.0
    for m, k in ((40, 3), (120, 6), (250, 24), (400, 100)):
        for view, got in power_cell(m, k, reps, POWER_CHECK_SEED).items():
            table = relevant_power(m, k, view)
            worst = max(worst, abs(table - got))
            print(f"m={m} k={k} {view}: table {table:.3f}, fresh {got:.3f} ({reps} draws)")
    return worst


def main(argv: list[str]) -> None:  # pragma: no cover - minutes to hours
    what = argv[0] if argv else ""
    reps = int(argv[1]) if len(argv) > 1 else None
    t0 = time.perf_counter()
    if what == "null":
        print("# iid N(0, 1) float64 columns per n, default_rng([20260101, n]);")
        print("# made by `python benchmarks/tables.py null`")
        cols = "n cols ad_mean ad_mean_se ad_sd ad_rate ad_rate_se dp_rate dp_rate_se"
        print("\t".join((cols + " dp_mean_p dp_mean_p_se dp_sd").split()))
        for n, m, *v in simulate_null_table():
            print("\t".join([str(int(n)), str(int(m)), *(f"{x:.6f}" for x in v)]))
    elif what == "hz":
        reps = reps or 4000
        print(f"# Henze-Zirkler null: upper quantiles of log HZ from {reps} N(0, I_k) samples")
        print(f"# per (k, n), default_rng([{HZ_SEED}, k, n]); `python benchmarks/tables.py hz`")
        print("\t".join(["k", "n", *(f"p{p:g}" for p in TAIL)]))
        for k, n, *qs in hz_table(reps):
            print("\t".join([str(int(k)), str(int(n)), *(f"{v:.6f}" for v in qs)]), flush=True)
    elif what == "b2":
        reps = reps or 4000
        print("m\tk\tskew")
        print(f"# {reps} N(0, I_k) samples per (m, k), default_rng([{B2_SEED}, m, k])")
        for m in B2_GRID_M:
            for k in (k for k in B2_GRID_K if k <= (m - 1) // 2):
                c = b2_samples(m, k, reps)
                c -= c.mean()
                print(f"{m}\t{k}\t{np.mean(c**3) / np.mean(c**2) ** 1.5:.4f}", flush=True)
    elif what == "power":
        reps = reps or 300
        print("view\tm\tk\tpower")
        print(f"# {reps} samples of iid Student t{ALT_DF} per (m, k), default_rng([{POWER_SEED},")
        print("# m, k, r]); made by `python benchmarks/tables.py power`")
        for m in M_GRID:
            for k in (k for k in K_GRID if k <= (m - 1) // 2):
                for view, power in power_cell(m, k, reps).items():
                    print(f"{view}\t{m}\t{k}\t{power:.4f}", flush=True)
    elif what == "power-check":
        print(f"largest difference {power_check():.3f}")
        return
    else:
        sys.exit(__doc__)
    print(f"# {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
