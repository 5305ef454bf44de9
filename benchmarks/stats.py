"""Speed and exactness of the diagnostics against the obvious per-column scipy loop.

For each size, on a float32 standard-Gaussian matrix (seeded):

- baseline: per column, ``scipy.stats.anderson(col, dist='norm', method='interpolate')`` and
  ``scipy.stats.normaltest(col)`` on the float64 column (scipy computes in the input dtype), plus
  the norm CV from ``np.linalg.norm``;
- infogauss: ``diagnose(x, view="raw")`` (validation, norm CV, AD, DP, null expectation).

Both must give the same numbers: max |A*^2 difference| (scipy's A^2 times 1 + 0.75/n + 2.25/n^2)
and max |p difference| are printed. Target: ratio >= 6x at 25,000 x 1,024 on 2 cores.

Then the ``--detail`` suite on the same matrix (``suite.sphere_detail`` + ``detail_metrics``:
the diagnosis plus 256 random projections, uniformity on 2,000 rows, Rayleigh, Bingham and the
spectrum, Mardia on an 8-dim projection of 1,000 rows with 400 null samples), timed cold (first
call: the Mardia null is simulated) and warm (best of R). Target: a few seconds at 25,000 x 1,024.

    python benchmarks/stats.py              # 5000x768 and 25000x1024
    python benchmarks/stats.py --quick      # 2000x256, seconds
    python benchmarks/stats.py --sizes 10000x512 --workers 1
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def baseline(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-column scipy: A*^2, DP p, norm CV."""
    from scipy import stats

    n, d = x.shape
    corr = 1 + 0.75 / n + 2.25 / n**2
    a2 = np.empty(d)
    p = np.empty(d)
    for j in range(d):
        col = x[:, j].astype(np.float64)
        a2[j] = stats.anderson(col, dist="norm", method="interpolate").statistic * corr
        p[j] = stats.normaltest(col).pvalue
    norms = np.linalg.norm(x.astype(np.float64), axis=1)
    return a2, p, float(norms.std(ddof=1) / norms.mean())


def detail_entry(x: np.ndarray, repeat: int) -> float:
    """Time the view-free --detail suite (cold, then best of ``repeat``) and print it."""
    from infogauss_cli.diagnostics.mardia import mardia_null, null_moments
    from infogauss_cli.diagnostics.suite import detail_metrics, sphere_detail

    mardia_null.cache_clear()
    null_moments.cache_clear()
    t0 = time.perf_counter()
    sphere_detail(x)
    cold = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        det = sphere_detail(x)
        best = min(best, time.perf_counter() - t0)
    m = detail_metrics(det)
    n, d = x.shape
    print(
        f"{n}x{d}  detail suite  cold {cold:.2f} s  warm {best:.2f} s  "
        f"(proj AD {m['proj_ad_compliance']:.3f}, uniformity z {m['uniformity_z']:.2f}, "
        f"bingham p {m['bingham_p']:.2f}, mardia skew p {m['mardia_skew_p']:.2f})"
    )
    return best


def parse_size(s: str) -> tuple[int, int]:
    n, d = s.lower().split("x")
    return int(n), int(d)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5000x768,25000x1024", help="comma-separated NxD")
    ap.add_argument("--quick", action="store_true", help="one small size (2000x256)")
    ap.add_argument("--repeat", type=int, default=3, help="best of R for infogauss (default 3)")
    ap.add_argument("--workers", type=int, default=None, help="threads (default: all CPUs)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import scipy

    from infogauss_cli.diagnostics import diagnose
    from infogauss_cli.diagnostics.columns import default_workers

    sizes = [(2000, 256)] if args.quick else [parse_size(s) for s in args.sizes.split(",")]
    workers = args.workers or default_workers()
    print(f"numpy {np.__version__}  scipy {scipy.__version__}  workers {workers}")
    worst = 0.0
    for n, d in sizes:
        x = np.random.default_rng(args.seed).standard_normal((n, d), dtype=np.float32)
        diagnose(x[: min(n, 200)], view="raw")  # warm-up (imports)
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            diag = diagnose(x, view="raw", workers=args.workers)
            best = min(best, time.perf_counter() - t0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            a2, p, cv = baseline(x)
            base = time.perf_counter() - t0
        da2 = float(np.max(np.abs(diag.ad.statistic - a2)))
        rel = float(np.max(np.abs(diag.ad.statistic / a2 - 1)))
        dp = float(np.max(np.abs(diag.dp.pvalue - p)))
        dcv = abs(diag.norms.cv - cv)
        ratio = base / best
        worst = max(worst, da2, dp)
        print(
            f"{n}x{d}  baseline {base:.2f} s  infogauss {best:.3f} s  ratio {ratio:.1f}x  "
            f"max|dA*2| {da2:.1e} (rel {rel:.1e})  max|dp| {dp:.1e}  |dcv| {dcv:.1e}"
        )
        detail_entry(x, args.repeat)  # the suite runs on all CPUs
    if worst > 1e-8:
        print(f"MISMATCH: max difference {worst:.1e} > 1e-8")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
