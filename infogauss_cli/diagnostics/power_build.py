"""Makes ``power_table.tsv`` (:mod:`.power`): the share of Monte Carlo samples of iid Student
t10 coordinates that "Gaussian?" rejects (Bonferroni at alpha = 0.05 over its tests), per view
and (m, k) of the grid. The l2 view's decision is the same tests without the radial one, on
coordinates that are t10 themselves.

    python -m infogauss_cli.diagnostics.power_build [REPS] > power_table.tsv  # this folder's
    python -m infogauss_cli.diagnostics.power_build --check   # the table against fresh draws
"""

from __future__ import annotations

import sys
import time

import numpy as np

from infogauss_cli.diagnostics.gaussian import gaussian_tests
from infogauss_cli.diagnostics.power import ALT_DF, K_GRID, M_GRID, relevant_power

SEED = 20261208
CHECK_SEED = 20261209


def rejected(x: np.ndarray) -> dict[str, bool]:
    """Whether each view's decision rejects the (m, k) sample x (its own coordinates)."""
    p = gaussian_tests(x, "raw").pvalues()
    no_radial = {k: v for k, v in p.items() if k != "radial"}
    return {
        "raw": any(v < 0.05 / len(p) for v in p.values()),
        "l2": any(v < 0.05 / len(no_radial) for v in no_radial.values()),
    }


def simulate_cell(m: int, k: int, reps: int, seed: int = SEED) -> dict[str, float]:
    hits = [
        rejected(np.random.default_rng([seed, m, k, r]).standard_t(ALT_DF, (m, k)))
        for r in range(reps)
    ]
    return {view: float(np.mean([h[view] for h in hits])) for view in ("raw", "l2")}


def cells() -> list[tuple[int, int]]:
    return [(m, k) for m in M_GRID for k in K_GRID if k <= (m - 1) // 2]


def check(reps: int = 200) -> float:
    """Largest |table - fresh simulation| at off-grid (m, k), printed per point."""
    worst = 0.0
    for m, k in ((40, 3), (120, 6), (250, 24), (400, 100)):
        fresh = simulate_cell(m, k, reps, CHECK_SEED)
        for view, got in fresh.items():
            table = relevant_power(m, k, view)
            worst = max(worst, abs(table - got))
            print(f"m={m} k={k} {view}: table {table:.3f}, fresh {got:.3f} ({reps} draws)")
    return worst


if __name__ == "__main__":  # pragma: no cover - regenerates the table (minutes on 2 cores)
    if sys.argv[1:2] == ["--check"]:
        print(f"largest difference {check():.3f}")
        sys.exit(0)
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    t0 = time.perf_counter()
    print("view\tm\tk\tpower")
    print(f"# {reps} samples of iid Student t{ALT_DF} per (m, k), default_rng([{SEED}, m, k, r]);")
    print("# made by `python -m infogauss_cli.diagnostics.power_build`")
    for m, k in cells():
        for view, power in simulate_cell(m, k, reps).items():
            print(f"{view}\t{m}\t{k}\t{power:.4f}", flush=True)
    print(f"# {time.perf_counter() - t0:.0f} s", file=sys.stderr)
