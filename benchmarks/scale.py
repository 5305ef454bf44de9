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

``--check`` (out-of-core diagnostics): for n in {50,000, 200,000, 1,000,000} x d = 1,024
float32 matrices generated on disk (``.npy``, written in blocks), the wall time and the peak
RSS of ``infogauss check FILE`` with and without ``--detail``, each in a fresh process (peak
RSS from ``getrusage`` in a small wrapper process), as multiples of the matrix size and of the
memory budget. The file is memory-mapped and read in blocks (docs/scale.md), so the peak
should stay near the budget whatever n. The reference of each (n, d) is simulated (and
cached) before the timed runs and its time printed apart: a first check of a new shape pays
it once. Files go to ``--dir`` (default: the temporary folder; check its free space) and are
deleted afterwards unless ``--keep``.

    python benchmarks/scale.py --check --quick              # n = 20,000 and 50,000
    python benchmarks/scale.py --check                      # the full grid (tens of minutes)
    python benchmarks/scale.py --check --rows 1000000 --no-detail   # one case (4 GB in --dir)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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


# ---- --check: out-of-core diagnostics ------------------------------------------------------------
FULL_N = (50_000, 200_000, 1_000_000)
QUICK_N = (20_000, 50_000)


def make_matrix(path: Path, n: int, d: int, seed: int = 0) -> None:
    """An (n, d) float32 N(0, 1) matrix written to ``path`` in blocks of rows."""
    import numpy as np

    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(seed)
    step = max(1, (64 << 20) // (4 * d))
    for i in range(0, n, step):
        m = min(step, n - i)
        x[i : i + m] = rng.standard_normal((m, d), dtype=np.float32)
    x.flush()
    del x


# A child's ru_maxrss includes the image it was forked from: the command runs under this
# small wrapper (no numpy), so the parent's memory does not inflate the figure.
_WRAPPER = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - t0
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(r.returncode, wall, kb)
sys.stderr.write(r.stderr[-2000:])
"""


def run_check(path: Path, env: dict[str, str], extra: list[str]) -> tuple[float, int, dict]:
    """(wall s, peak RSS bytes, report) of one ``infogauss check`` in a fresh process."""
    report = path.with_suffix(".json")
    cmd = [sys.executable, "-m", "infogauss_cli", "check", str(path), "--quiet"]
    cmd += ["--json", str(report), *extra]
    r = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], env=env, capture_output=True, text=True
    )
    code, wall, kb = r.stdout.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"check failed ({code}): {r.stderr.strip()[-500:]}")
    rss = int(kb) * (1024 if sys.platform != "darwin" else 1)
    return float(wall), rss, json.loads(report.read_text())


_WARM = """
import sys
from infogauss_cli.diagnostics.reference import reference
from infogauss_cli.diagnostics.refsim import use_disk_store
use_disk_store()
n, d = int(sys.argv[1]), int(sys.argv[2])
reference(n, d, "l2").threshold("ad", d, 0.025)
"""


def warm_reference(n: int, d: int, env: dict[str, str]) -> float:
    """Simulate (and store in the cache) the l2 reference at (n, d) that check will read,
    in another process; seconds."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _WARM, str(n), str(d)], env=env, check=True)
    return time.perf_counter() - t0


_MAKE = """
import sys
sys.path.insert(0, sys.argv[4])
from benchmarks.scale import make_matrix
make_matrix(__import__("pathlib").Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
"""


def check_part(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from infogauss_cli.core.options import parse_size
    from infogauss_cli.diagnostics.validate import default_budget

    budget = parse_size(args.budget) if args.budget else default_budget()
    ns = args.rows or (QUICK_N if args.quick else FULL_N)
    folder = Path(args.dir or tempfile.gettempdir()) / f"infogauss-scale-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    cache = folder / "cache"
    env = {**os.environ, "INFOGAUSS_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    extra = ["--memory-budget", str(budget)]
    print(
        f"check of an n x {args.d} float32 .npy, memory budget {budget / 2**20:.0f} MiB, "
        f"{os.cpu_count()} CPUs"
    )
    head = f"{'n':>9s} {'matrix':>8s} {'detail':>6s} {'wall s':>8s} {'peak RSS':>9s}"
    print(f"{head} {'x matrix':>8s} {'x budget':>8s}  verdict")
    try:
        for n in ns:
            path = folder / f"x{n}.npy"
            t0 = time.perf_counter()
            cmd = [sys.executable, "-c", _MAKE, str(path), str(n), str(args.d), str(ROOT)]
            subprocess.run(cmd, env=env, check=True)  # (in another process: see _WRAPPER)
            size = path.stat().st_size
            gen = time.perf_counter() - t0
            ref = warm_reference(n, args.d, env)
            print(
                f"{'':9s} (n = {n:,}: file written in {gen:.1f} s, reference simulated in "
                f"{ref:.1f} s)"
            )
            for detail in (False, True) if args.detail else (False,):
                wall, rss, rep = run_check(path, env, extra + (["--detail"] if detail else []))
                verdict = rep["rows"][0]["verdict"]["gaussian"]
                print(
                    f"{n:9,d} {size / 2**30:7.2f}G {'yes' if detail else 'no':>6s} "
                    f"{wall:8.1f} {rss / 2**30:8.2f}G {rss / size:8.2f} {rss / budget:8.2f}  "
                    f"{'gaussian' if verdict else 'not gaussian'}"
                )
            if not args.keep:
                path.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torchrun", action="store_true", help="extraction under torchrun, CPU")
    ap.add_argument("--n", type=int, default=512, help="sentences to embed")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="torchrun processes")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--check", action="store_true", help="check's wall time and peak RSS")
    ap.add_argument("--quick", action="store_true", help="--check: small n only")
    ap.add_argument("--rows", type=int, nargs="+", help="--check: row counts (default: full grid)")
    ap.add_argument("--d", type=int, default=1024, help="--check: columns")
    ap.add_argument("--budget", help="--check: --memory-budget (default: the machine's)")
    ap.add_argument("--no-detail", dest="detail", action="store_false", help="--check: no --detail")
    ap.add_argument("--dir", help="--check: where the matrices go (default: the temp dir)")
    ap.add_argument("--keep", action="store_true", help="--check: keep the generated files")
    args = ap.parse_args(argv)
    if not (args.torchrun or args.check):
        ap.error("choose --torchrun and/or --check (see the module docstring)")
    if args.torchrun:
        torchrun_section(args.n, args.nproc, args.batch_size)
    if args.check:
        check_part(args)


if __name__ == "__main__":
    main()
