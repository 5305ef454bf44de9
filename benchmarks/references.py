"""Time a first ``check`` spends on references (tables and simulations), on an empty cache.

Writes an (n, d) float32 Gaussian matrix, points ``INFOGAUSS_REFERENCES`` at an empty folder,
runs the library path of ``infogauss check`` under cProfile and prints the cumulative time of
every reference function (the tables of the paper columns, the effect floor, Henze-Zirkler's
null, the power table) next to the whole run's.

    python benchmarks/references.py                 # 100,000 x 1,024
    python benchmarks/references.py --n 20000 --d 64
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REFERENCE_FUNCTIONS = (
    "reference",
    "gaussian_effect",
    "hz_pvalue",
    "relevant_power",
    "rows_for_power",
    "bingham_power",
    "table_row",
    "simulate",
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=1024)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INFOGAUSS_REFERENCES"] = str(Path(tmp) / "refs")
        path = Path(tmp) / "x.npy"
        rng = np.random.default_rng(0)
        x = np.lib.format.open_memmap(path, "w+", np.float32, (args.n, args.d))
        for i in range(0, args.n, 10_000):
            x[i : i + 10_000] = rng.standard_normal((min(10_000, args.n - i), args.d))
        x.flush()
        del x
        from infogauss_cli.pipelines.check import check_file

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        rows = check_file(path)
        prof.disable()
        total = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    spent = {}
    for (file, _, name), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        if name in REFERENCE_FUNCTIONS and "infogauss_cli" in file:
            spent[f"{Path(file).stem}.{name}"] = spent.get(f"{Path(file).stem}.{name}", 0.0) + cum
    print(f"check of {args.n:,} x {args.d:,} (empty reference cache): {total:.1f} s in all")
    for name, cum in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:32s} {cum:8.3f} s (cumulative, nested calls counted in each)")
    v = rows[0].verdict
    print(f"  the call: {v.call} ({'; '.join(v.reasons)}); sphere: {v.sphere.call}")


if __name__ == "__main__":
    main()
