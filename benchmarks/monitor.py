"""Cost of one GaussianityMonitor call on a 2,000 x 768 probe.

The probe is 2,000 rows of 768 inputs (seeded Gaussian); the model a 768 -> 768 linear map
(so the embedding part is small and the number is essentially the monitor's own overhead:
eval/train switching, inference mode, batching, the copy to numpy, and the diagnostics).
Reported per call (median of R calls after one warm-up): embedding seconds, diagnostics
seconds (norm CV, AD and DP on every coordinate, the verdict), and with the Wang-Isola
uniformity on 1,000 rows (the default) and without it. Embedding with a real encoder costs
what its forward pass costs on 2,000 inputs and comes on top.

    python benchmarks/monitor.py            # n=2000, d=768, R=5
    python benchmarks/monitor.py --n 5000 --d 1024 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import os

    import torch

    from infogauss_cli.pipelines.monitor import GaussianityMonitor

    torch.manual_seed(0)
    model = torch.nn.Linear(args.d, args.d).train()
    probe = torch.randn(args.n, args.d)
    print(
        f"probe {args.n:,} x {args.d}; torch threads {torch.get_num_threads()}; "
        f"{os.cpu_count()} CPUs"
    )
    for uniformity in (True, False):
        mon = GaussianityMonitor(probe, n=args.n, uniformity=uniformity)
        mon.measure(model, 0)  # warm-up (thread pools, imports)
        res = [mon.measure(model, i + 1) for i in range(args.repeats)]
        emb = statistics.median(r.embed_s for r in res)
        diag = statistics.median(r.diagnose_s for r in res)
        total = statistics.median(r.embed_s + r.diagnose_s for r in res)
        what = "with uniformity   " if uniformity else "without uniformity"
        print(
            f"{what}: embed {emb * 1e3:7.1f} ms  diagnose {diag * 1e3:7.1f} ms  "
            f"total {total * 1e3:7.1f} ms per call (median of {args.repeats})"
        )
    assert model.training


if __name__ == "__main__":
    main()
