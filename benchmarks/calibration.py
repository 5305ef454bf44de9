"""Calibration of the calls and of the detail p-values, over seeds.

Part 1 (``--part calls``), the calls. For every (n, d) of the grid and every distribution, S
seeded matrices go through the calls' own path (the joint rows, the decorrelated tests of the
raw and the l2 view, the sphere tests, ``verdict.judge`` at the default alpha = 0.05) and the
share of seeds given each call is printed: ✓ gaussian, ≈ practically Gaussian, ✗ not, ?
inconclusive, and the sphere call (uniform share). Distributions (docs/diagnostics.md):

- Gaussians: ``iid``; ``factor`` (one common factor, loadings of sd 0.5 to 3); ``wishart``
  (covariance A A^T, A with iid N(0, 1/d) entries); ``power`` (variances 1/j);
- ``sphere``: rows uniform on the sphere (normalised iid Gaussian rows);
- departures: ``t5``, ``t10`` (iid Student t coordinates), ``mvt5`` (multivariate Student t5:
  heavy tails in every direction), ``copula`` (a t5 copula with exact N(0, 1) marginals),
  ``laplace`` (iid), ``mixture`` (two clusters 3 sd apart along a random direction), ``relu``
  (max(0, g)), ``binary`` (iid 0/1), ``onehot``.

The effect excess of the Gaussians (mean over seeds, raw view) is printed beside them.

Part 2 (``--part detail``), the detail p-values. For every (n, d) of the detail grid, S seeded
iid Gaussian matrices (their L2 rows uniform on the sphere): the share of seeds in which each
detail p-value is below 0.05 (its size; about 5% when calibrated), for the raw and the l2 view.

Part 3 (``--part cost``): the time to simulate one reference (cold, nothing cached) per view.

    python benchmarks/calibration.py --part calls                # full grid (hours on 2 cores)
    python benchmarks/calibration.py --part calls --quick        # small grid, a minute
    python benchmarks/calibration.py --part calls --sizes 5000x16 --data mvt5,copula --seeds 20
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_GRID = (200, 1000, 5000, 20000)
D_GRID = (4, 16, 64, 256, 1024)
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
GAUSSIANS = ("iid", "factor", "wishart", "power")
Gen = Callable[[np.random.Generator, int, int], np.ndarray]


def _factor(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    loadings = rng.normal(0.0, rng.uniform(0.5, 3.0), d)
    return rng.standard_normal((n, d)) + rng.standard_normal((n, 1)) * loadings


def _mvt(rng: np.random.Generator, n: int, d: int, df: int = 5) -> np.ndarray:
    return rng.standard_normal((n, d)) / np.sqrt(rng.chisquare(df, (n, 1)) / df)


def _copula(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    from scipy import special, stats

    return special.ndtri(stats.t.cdf(_mvt(rng, n, d), 5))


def _mixture(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    q = rng.standard_normal(d)
    q /= np.linalg.norm(q)
    side = np.where(rng.random((n, 1)) < 0.5, -1.5, 1.5)
    return rng.standard_normal((n, d)) + side * q


def _onehot(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = np.zeros((n, d))
    x[np.arange(n), rng.integers(0, d, n)] = 1.0
    return x


def _sphere(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    g = rng.standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


DISTRIBUTIONS: dict[str, Gen] = {
    "iid": lambda rng, n, d: rng.standard_normal((n, d)),
    "factor": _factor,
    "wishart": lambda rng, n, d: rng.standard_normal((n, d)) @ rng.normal(0, d**-0.5, (d, d)),
    "power": lambda rng, n, d: rng.standard_normal((n, d)) / np.sqrt(np.arange(1, d + 1)),
    "sphere": _sphere,
    "t5": lambda rng, n, d: rng.standard_t(5, (n, d)),
    "t10": lambda rng, n, d: rng.standard_t(10, (n, d)),
    "mvt5": _mvt,
    "copula": _copula,
    "laplace": lambda rng, n, d: rng.laplace(size=(n, d)),
    "mixture": _mixture,
    "relu": lambda rng, n, d: np.maximum(rng.standard_normal((n, d)), 0.0),
    "binary": lambda rng, n, d: (rng.random((n, d)) < 0.5).astype(np.float64),
    "onehot": _onehot,
}
CALL_KEYS = ("gaussian", "practically-gaussian", "non-gaussian", "inconclusive")


def calls_of(x: np.ndarray, seed: int) -> dict[str, str | float]:
    """The raw and l2 calls, the sphere call and the raw effect excess of one matrix."""
    from infogauss_cli.diagnostics import InvalidEmbeddingsError, diagnose
    from infogauss_cli.diagnostics.gaussian import gaussian_tests, joint_sample
    from infogauss_cli.diagnostics.sphere import sphere_tests
    from infogauss_cli.judge.verdict import judge

    joint = joint_sample(x, None, seed)
    s_metrics, s_null = sphere_tests(joint)
    out: dict[str, str | float] = {}
    for view in ("raw", "l2"):
        try:
            metrics, null = gaussian_tests(joint, view, seed=seed)
        except InvalidEmbeddingsError:  # rows of zeros have no l2 view (ReLU at small d)
            out[view] = "–"
            continue
        v = judge(metrics | s_metrics, null=null | s_null, view=view)
        out[view] = v.call
        out["sphere"] = v.sphere.call if v.sphere else "–"
        if view == "raw":
            out["excess"] = metrics["effect_excess"]
    try:  # the paper's two readings of its own columns (the l2 view)
        paper = judge(diagnose(x, view="l2", seed=seed).metrics(), "paper")
        out["paper_means"], out["paper_90"] = paper.gaussian, paper.other.gaussian
    except InvalidEmbeddingsError:
        out["paper_means"] = out["paper_90"] = float("nan")
    return out


def call_rates(grid: list[tuple[int, int]], seeds: int, dists: list[str]) -> list[dict]:
    """One dict per (distribution, n, d): the share of each call per view, sphere and excess."""
    out = []
    for name in dists:
        gen = DISTRIBUTIONS[name]
        for n, d in grid:
            t0 = time.perf_counter()
            got = [
                calls_of(gen(np.random.default_rng([20261207, n, d, s, len(name)]), n, d), s)
                for s in range(seeds)
            ]
            cell: dict = {"data": name, "n": n, "d": d}
            for view in ("raw", "l2"):
                cell[view] = {k: float(np.mean([g[view] == k for g in got])) for k in CALL_KEYS}
            cell["uniform"] = float(np.mean([g["sphere"] == "uniform" for g in got]))
            cell["excess"] = float(np.mean([g["excess"] for g in got]))
            for key in ("paper_means", "paper_90"):
                cell[key] = float(np.nanmean([g[key] for g in got]))
            out.append(cell)
            print(f"  {name} {n}x{d}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def print_calls(cells: list[dict], seeds: int) -> None:
    print(f"\n### Calls over {seeds} seeds: ✓ / ≈ / ✗ / ? shares (raw view, then l2), sphere\n")
    print("(l2 shares short of 100: rows of zeros, which have no l2 view; paper: the share of")
    print("seeds its columns pass, read by its printed means and by both compliances >= 90%)\n")
    print(
        "| data | n | d | raw ✓/≈/✗/? | l2 ✓/≈/✗/? | sphere uniform | effect excess "
        "| paper ✓: means / 90% |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in cells:
        shares = ["/".join(f"{100 * c[v][k]:.0f}" for k in CALL_KEYS) for v in ("raw", "l2")]
        print(
            f"| {c['data']} | {c['n']:,} | {c['d']:,} | {shares[0]} | {shares[1]} | "
            f"{100 * c['uniform']:.0f}% | {c['excess']:+.4f} | "
            f"{_share(c['paper_means'])} / {_share(c['paper_90'])} |"
        )


def _share(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:.0f}%"


def detail_sizes(grid: list[tuple[int, int]], seeds: int) -> list[tuple[int, int, str, dict]]:
    """(n, d, view, {key: share of seeds with p < 0.05}) under the reference of the view."""
    from infogauss_cli.diagnostics import diagnose
    from infogauss_cli.diagnostics.suite import calibration_detail, detail_metrics, sphere_detail

    out = []
    for n, d in grid:
        hits: dict[str, dict[str, list[bool]]] = {"raw": {}, "l2": {}}
        for s in range(seeds):
            x = np.random.default_rng([7, n, d, s]).standard_normal((n, d))
            sphere = sphere_detail(x, seed=s)
            for view in ("raw", "l2"):
                diag = diagnose(x, view=view, seed=s)
                m = detail_metrics(sphere) | calibration_detail(diag, seed=s)
                for k in P_KEYS:
                    if m.get(k) is not None:
                        hits[view].setdefault(k, []).append(m[k] < 0.05)
        for view in ("raw", "l2"):
            out.append((n, d, view, {k: float(np.mean(v)) for k, v in hits[view].items()}))
        print(f"  detail {n}x{d} done", file=sys.stderr)
    return out


def reference_cost(shapes: list[tuple[int, int]]) -> None:
    """Print the time of one cold reference simulation per view and shape."""
    from infogauss_cli.diagnostics.refsim import default_columns, simulate

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
    ap.add_argument("--seeds", type=int, default=None, help="seeds per call cell (default 20)")
    ap.add_argument("--detail-seeds", type=int, default=None, help="seeds per detail cell (200)")
    ap.add_argument("--part", choices=("all", "calls", "detail", "cost"), default="all")
    ap.add_argument("--sizes", help="verdict grid as NxD,NxD (default: the full grid)")
    ap.add_argument("--data", help="distributions, comma-separated (default: all)")
    args = ap.parse_args(argv)
    if args.quick:
        grid = [(n, d) for n in (200, 1000) for d in (4, 64)]
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
    if args.part in ("all", "calls"):
        print_calls(call_rates(grid, seeds, dists), seeds)
    if args.part in ("all", "detail"):
        print_sizes(detail_sizes(dgrid, dseeds), dseeds)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
