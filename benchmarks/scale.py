"""Scale-out evidence (issue 14).

``--torchrun`` (this section): the speed of one extraction in one plain process, and under
``torchrun`` with 1 and 2 processes on CPU (gloo), with the real packaged minilm-l6 weights on
English sentences of the Python documentation (offline). Each run starts from an empty cache;
the table gives the wall time of the whole command (interpreter, model build, extraction,
assembly) and the extraction speed rank 0 reports (items / seconds from the start of its
extraction to the assembled matrix), and checks that every layout gives the same matrix.
torchrun sets ``OMP_NUM_THREADS=1`` per process; the plain process uses torch's default.

    python benchmarks/scale.py --torchrun                 # 512 sentences, nproc 1 and 2
    python benchmarks/scale.py --torchrun --n 1024 --nproc 1 2 4

The other section of issue 14's benchmark (``check`` wall time and peak RSS on 50k-1M x 1,024
matrices, the out-of-core diagnostics) belongs with that work and is not in this file yet.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def sentences(n: int, path: Path) -> Path:
    """``n`` distinct sentences (20-200 characters) of the Python documentation."""
    import pydoc_data.topics

    text = " ".join(pydoc_data.topics.topics.values())
    found = [re.sub(r"\s+", " ", s.strip()) for s in re.split(r"(?<=[.!?])\s+", text)]
    keep = list(dict.fromkeys(s for s in found if 20 < len(s) < 200))[:n]
    if len(keep) < n:
        raise SystemExit(f"only {len(keep)} sentences available; use --n {len(keep)} or less")
    path.write_text("\n".join(keep) + "\n")
    return path


def run_once(nproc: int, data: Path, work: Path, batch_size: int) -> dict[str, float | str]:
    """One extraction from an empty cache: nproc 0 = a plain process, else torchrun."""
    out = work / f"e{nproc}.npy"
    args = ["extract", "minilm-l6", "--data", f"text:{data}", "--out", str(out)]
    args += ["--device", "cpu", "--batch-size", str(batch_size)]
    args += ["--cache-dir", str(work / f"cache{nproc}")]
    if nproc == 0:
        cmd = [sys.executable, "-m", "infogauss_cli", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd += [f"--nproc_per_node={nproc}", "-m", "infogauss_cli", *args]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    speed = float(re.search(r"([\d,.]+) items/s", r.stdout).group(1).replace(",", ""))
    return {"wall_s": wall, "items_per_s": speed, "out": str(out)}


def torchrun_section(n: int, nprocs: list[int], batch_size: int) -> None:
    with tempfile.TemporaryDirectory(prefix="infogauss-scale-") as tmp:
        work = Path(tmp)
        data = sentences(n, work / "sentences.txt")
        print(f"minilm-l6, {n} sentences, CPU fp32, batch {batch_size}, {os.cpu_count()} cores")
        print(f"{'layout':<22}{'wall s':>9}{'extract items/s':>18}{'same matrix':>13}")
        ref = None
        for nproc in [0, *nprocs]:
            res = run_once(nproc, data, work, batch_size)
            emb = np.load(res["out"])
            ref = emb if ref is None else ref
            same = "yes" if np.array_equal(emb, ref) else "NO"
            name = "plain process" if nproc == 0 else f"torchrun nproc={nproc}"
            print(f"{name:<22}{res['wall_s']:>9.1f}{res['items_per_s']:>18.1f}{same:>13}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torchrun", action="store_true", help="extraction under torchrun, CPU")
    ap.add_argument("--n", type=int, default=512, help="sentences to embed")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="torchrun processes")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)
    if not args.torchrun:
        ap.error("only --torchrun is implemented here (see the module docstring)")
    torchrun_section(args.n, args.nproc, args.batch_size)


if __name__ == "__main__":
    main()
