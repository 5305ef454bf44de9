"""Wall time of `infogauss demo` (what the README and docs state), and the machine it ran on.

    python benchmarks/demo.py            # one run, report in a temporary folder
    python benchmarks/demo.py --repeat 2
    python benchmarks/demo.py --keep demo-out   # keep the report to compare with the docs

Prints one line per run and the machine (CPU count and model, Python, torch); run it on a quiet
machine, since the demo is CPU bound (synthetic training and two small real models).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        from importlib.metadata import version

        torch = version("torch")
    except Exception:
        torch = "?"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    py = platform.python_version()
    return f"{cores} CPU cores ({model or platform.machine()}), Python {py}, torch {torch}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", default=None, help="write the demo's report here (kept)")
    args = parser.parse_args(argv)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    print(f"machine: {machine()}")
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = args.keep or tmp
            cmd = [sys.executable, "-m", "infogauss_cli", "demo", "--out", out, "--quiet"]
            t0 = time.perf_counter()
            code = subprocess.run(cmd, env=env).returncode
            wall = time.perf_counter() - t0
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"run {i + 1}: infogauss demo: {wall:.0f} s wall (exit code {code}); load {load:.1f}")


if __name__ == "__main__":
    main()
