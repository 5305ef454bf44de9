"""``metrics.tail_share`` over seeds: the share of rows with in-sample tail p < 1% under the
sample fit (1% when the Gaussian fits), per distribution and (n, d), with the share of seeds whose
count of such rows lies in Binomial(n, 1%)'s central 99% (about 99% when calibrated), and what
tail_share adds to the Gaussian call's time (``decorrelate`` once, then ``tail_metrics``).

    python benchmarks/tail_share.py                     # 500x64, 5000x64, 5000x512; 20 seeds
    python benchmarks/tail_share.py --sizes 1000x8 --seeds 50 --data iid,mvt5
    python benchmarks/tail_share.py --view l2 --sizes 5000x64 --data iid,power   # no 1% there
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration import DISTRIBUTIONS

from infogauss_cli.diagnostics.gaussian import decorrelate, tail_metrics


def cell(name: str, n: int, d: int, seeds: int, view: str = "raw") -> dict[str, float]:
    from scipy import stats

    lo, hi = stats.binom.ppf(0.005, n, 0.01), stats.binom.isf(0.005, n, 0.01)
    shares, inside, decor_s, tail_s = [], 0, 0.0, 0.0
    for seed in range(seeds):
        x = DISTRIBUTIONS[name](np.random.default_rng([seed, n, d]), n, d)
        if view == "l2":  # the rows the l2 view fits: not Gaussian even when x is
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        t0 = time.perf_counter()
        z, rank = decorrelate(x)
        t1 = time.perf_counter()
        share = tail_metrics(x, z, rank)[0]["tail_share"]
        tail_s += time.perf_counter() - t1
        decor_s += t1 - t0
        shares.append(np.nan if share is None else share)
        inside += share is not None and lo <= round(share * n) <= hi
    return {"mean": float(np.nanmean(shares)), "inside": inside / seeds,
            "decor_ms": 1e3 * decor_s / seeds, "tail_ms": 1e3 * tail_s / seeds}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500x64,5000x64,5000x512")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--data", default="iid,wishart,power,factor,mvt5,t5,mixture")
    ap.add_argument("--view", choices=("raw", "l2"), default="raw")
    args = ap.parse_args(argv)
    print("| data | n | d | mean tail_share | seeds in Binomial's 99% | decorrelate ms | tail ms |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        n, d = (int(v) for v in size.split("x"))
        for name in args.data.split(","):
            c = cell(name, n, d, args.seeds, args.view)
            print(f"| {name} | {n} | {d} | {c['mean']:.4f} | {c['inside']:.0%} | "
                  f"{c['decor_ms']:.0f} | {c['tail_ms']:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
