"""Calibration of the verdict and of the detail p-values, over seeds (issue 11's evidence).

Part 1, the verdict. For every (n, d) of the grid, every distribution and every view, S seeded
matrices go through the library's own path (``infogauss_cli.matrix_rows.diagnose_rows``, the CLI's
default settings) and the share of seeds called Gaussian (✓) is printed for the default
(calibrated, alpha = 0.05) and the paper rule (both compliances >= 90%):

- ``reference``: iid N(0, 1) coordinates; their l2 view is exactly uniform on the sphere, so
  this is the reference of both views (✓ rate should be >= 95% for the calibrated rule);
- ``t10``, ``t5``: iid Student t with 10 / 5 degrees of freedom (mild / clear departures);
- ``mixture``: iid 50/50 mixture of N(-1, 1) and N(+1, 1) (bimodal, effect size 0.05).

Part 3 (``--part cost``): the time to simulate one reference (cold, nothing cached) per view
at a few (n, d), the cost a first audit of a new shape pays once.

Part 2, the detail p-values. For every (n, d) of the detail grid, S seeded iid Gaussian
matrices (their L2 rows uniform on the sphere): the share of seeds in which each detail p-value
is below 0.05 (its size; about 5% when calibrated), for the raw and the l2 view.

    python benchmarks/calibration.py            # full grids (minutes on 2 cores)
    python benchmarks/calibration.py --quick    # small grids, seconds
    python benchmarks/calibration.py --seeds 40 --part verdict
    python benchmarks/calibration.py --part verdict --sizes 20000x256 --data reference --seeds 100
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_GRID = (100, 1000, 5000, 20000)
D_GRID = (8, 64, 256, 1024)
DETAIL_N = (30, 100, 2000)
DETAIL_D = (4, 8, 16, 64)
P_KEYS = (
    "proj_var_p",
    "proj_ad_compliance_null_p",
    "proj_dp_compliance_null_p",
    "mardia_skew_p",
    "mardia_kurt_p",
    "rayleigh_p",
    "bingham_p",
    "ad_compliance_null_p",
    "dp_compliance_null_p",
    "ks_p_uniform",
)


def _mixture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.standard_normal(shape) + np.where(rng.random(shape) < 0.5, -1.0, 1.0)


DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, tuple[int, int]], np.ndarray]] = {
    "reference": lambda rng, s: rng.standard_normal(s, dtype=np.float32),
    "t10": lambda rng, s: rng.standard_t(10, s),
    "t5": lambda rng, s: rng.standard_t(5, s),
    "mixture": _mixture,
}


def verdict_rates(
    grid: list[tuple[int, int]], seeds: int, dists: list[str]
) -> list[tuple[str, int, int, str, float, float]]:
    """(distribution, n, d, view, calibrated ✓ rate, paper ✓ rate) for every cell."""
    from infogauss_cli.matrix_rows import RowInfo, diagnose_rows
    from infogauss_cli.options import Protocol

    out = []
    for name in dists:
        gen = DISTRIBUTIONS[name]
        for n, d in grid:
            calls: dict[str, list[tuple[bool, bool]]] = {"raw": [], "l2": []}
            t0 = time.perf_counter()
            for s in range(seeds):
                rng = np.random.default_rng([20261129, n, d, s, len(name)])
                x = np.asarray(gen(rng, (n, d)), dtype=np.float32)
                for row in diagnose_rows(x, RowInfo(model=name), Protocol(view="both", seed=s)):
                    v = row.verdict
                    calls[row.protocol["view"]].append((v.gaussian, v.other.gaussian))
            for view in ("raw", "l2"):
                c = np.asarray(calls[view])
                out.append((name, n, d, view, float(c[:, 0].mean()), float(c[:, 1].mean())))
            dt = time.perf_counter() - t0
            print(f"  {name} {n}x{d}: {dt:.1f} s", file=sys.stderr)
    return out


def detail_sizes(grid: list[tuple[int, int]], seeds: int) -> list[tuple[int, int, str, dict]]:
    """(n, d, view, {key: share of seeds with p < 0.05}) under the reference of the view."""
    from infogauss_cli.diagnostics import diagnose
    from infogauss_cli.diagnostics.detail import calibration_detail, detail_metrics, sphere_detail

    out = []
    for n, d in grid:
        hits: dict[str, dict[str, list[bool]]] = {"raw": {}, "l2": {}}
        for s in range(seeds):
            x = np.random.default_rng([7, n, d, s]).standard_normal((n, d))
            sphere = sphere_detail(x, seed=s)
            for view in ("raw", "l2"):
                diag = diagnose(x, view=view, seed=s)
                m = detail_metrics(sphere, calibration_detail(diag, seed=s))
                for k in P_KEYS:
                    if m.get(k) is not None:
                        hits[view].setdefault(k, []).append(m[k] < 0.05)
        for view in ("raw", "l2"):
            out.append((n, d, view, {k: float(np.mean(v)) for k, v in hits[view].items()}))
        print(f"  detail {n}x{d} done", file=sys.stderr)
    return out


def reference_cost(shapes: list[tuple[int, int]]) -> None:
    """Print the time of one cold reference simulation per view and shape."""
    from infogauss_cli.diagnostics.reference import default_columns, simulate

    print("\n### Cost of one reference simulation (cold)\n")
    print("| n | d | columns | raw | l2 |")
    print("|---|---|---|---|---|")
    for n, d in shapes:
        times = []
        for view in ("raw", "l2"):
            t0 = time.perf_counter()
            simulate(n, d, view, default_columns(n))
            times.append(time.perf_counter() - t0)
        print(f"| {n:,} | {d:,} | {default_columns(n):,} | {times[0]:.1f} s | {times[1]:.1f} s |")


def print_verdicts(rows: list[tuple[str, int, int, str, float, float]], seeds: int) -> None:
    print(f"\n### ✓ rate over {seeds} seeds (calibrated default / paper rule)\n")
    ns = sorted({r[1] for r in rows})
    print("| data | view | d | " + " | ".join(f"n = {n:,}" for n in ns) + " |")
    print("|---|---|---|" + "---|" * len(ns))
    keys = sorted(
        {(r[0], r[3], r[2]) for r in rows},
        key=lambda k: (list(DISTRIBUTIONS).index(k[0]), k[1], k[2]),
    )
    for name, view, d in keys:
        cells = []
        for n in ns:
            hit = [r for r in rows if r[:4] == (name, n, d, view)]
            cells.append(f"{hit[0][4]:.0%} / {hit[0][5]:.0%}" if hit else "–")
        label = (
            "reference"
            if name != "reference"
            else ("iid Gaussian" if view == "raw" else "uniform sphere")
        )
        label = name if name != "reference" else f"**{label}**"
        print(f"| {label} | {view} | {d:,} | " + " | ".join(cells) + " |")


def print_sizes(rows: list[tuple[int, int, str, dict]], seeds: int) -> None:
    print(f"\n### Size of the detail p-values under the reference (share < 0.05, {seeds} seeds)\n")
    keys = [k for k in P_KEYS if any(k in r[3] for r in rows)]
    print("| n | d | view | " + " | ".join(f"`{k}`" for k in keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for n, d, view, sizes in rows:
        cells = [f"{sizes[k]:.0%}" if k in sizes else "–" for k in keys]
        print(f"| {n:,} | {d} | {view} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids and few seeds")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per verdict cell (default 20)")
    ap.add_argument("--detail-seeds", type=int, default=None, help="seeds per detail cell (200)")
    ap.add_argument("--part", choices=("all", "verdict", "detail", "cost"), default="all")
    ap.add_argument("--sizes", help="verdict grid as NxD,NxD (default: the full grid)")
    ap.add_argument("--data", help="distributions, comma-separated (default: all)")
    args = ap.parse_args(argv)
    if args.quick:
        grid = [(n, d) for n in (100, 1000) for d in (8, 64)]
        dgrid = [(n, d) for n in (30, 100) for d in (4, 16)]
        seeds, dseeds = args.seeds or 4, args.detail_seeds or 20
    else:
        grid = [(n, d) for n in N_GRID for d in D_GRID]
        dgrid = [(n, d) for n in DETAIL_N for d in DETAIL_D]
        seeds, dseeds = args.seeds or 20, args.detail_seeds or 200
    if args.sizes:
        grid = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    dists = args.data.split(",") if args.data else list(DISTRIBUTIONS)
    t0 = time.perf_counter()
    if args.part == "cost":
        reference_cost([(100, 64), (1000, 64), (5000, 768), (20000, 1024)])
    if args.part in ("all", "verdict"):
        print_verdicts(verdict_rates(grid, seeds, dists), seeds)
    if args.part in ("all", "detail"):
        print_sizes(detail_sizes(dgrid, dseeds), dseeds)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
