"""Start-up cost of the CLI against its floor (issue 13, item 4), measured side by side.

Four whole-process commands run interleaved, R rounds (after one warm-up round that also fills
the reference cache for the small file's shape):

- ``help``: ``infogauss --help``; its floor ``typer+rich``: ``import typer, rich.console,
  rich.table, rich.progress``. Target: ratio <= 1.5.
- ``check``: ``infogauss check small.npy --quiet`` on a 500 x 64 float32 matrix; its floor
  ``numpy+scipy.special+typer+rich``: those imports alone. Target: ratio <= 1.5.

Printed: min and median wall seconds of each, and the two ratios (of the medians and of the
minimums; on a shared machine the minimum is the steadier figure).

Bytecode: every command reads compiled bytecode, kept in a temporary ``PYTHONPYCACHEPREFIX``
filled by the warm-up round, as after ``pip install`` (which compiles the package), even where
the environment sets ``PYTHONDONTWRITEBYTECODE`` (then a source checkout is compiled anew by
every process, the libraries of the floors are not). ``--no-bytecode-cache`` measures that.

    python benchmarks/startup.py              # 9 rounds
    python benchmarks/startup.py --rounds 21
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR_HELP = "import typer, rich.console, rich.table, rich.progress"
FLOOR_CHECK = "import numpy, scipy.special, typer, rich.console, rich.table, rich.progress"


def _commands(small: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "help": [py, "-m", "infogauss_cli", "--help"],
        "typer+rich": [py, "-c", FLOOR_HELP],
        "check": [py, "-m", "infogauss_cli", "check", str(small), "--quiet"],
        "numpy+scipy.special+typer+rich": [py, "-c", FLOOR_CHECK],
    }


def _time(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the environment's PYTHONDONTWRITEBYTECODE (source compiled by every process)",
    )
    args = ap.parse_args()
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="infogauss-startup-") as tmp:
        small = Path(tmp) / "small.npy"
        np.save(small, np.random.default_rng(0).standard_normal((500, 64)).astype(np.float32))
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "INFOGAUSS_CACHE": str(Path(tmp) / "cache"),
            "HF_HUB_OFFLINE": "1",
        }
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        cmds = _commands(small)
        for cmd in cmds.values():  # warm-up: disk caches, the small file's reference
            _time(cmd, env)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for name, cmd in cmds.items():
                times[name].append(_time(cmd, env))
    cache = "source compiled per process" if args.no_bytecode_cache else "bytecode cached"
    print(
        f"whole-process wall seconds, {args.rounds} interleaved rounds "
        f"({os.cpu_count()} CPUs, {cache})"
    )
    print(f"{'command':34s} {'min':>7s} {'median':>7s}")
    for name, ts in times.items():
        print(f"{name:34s} {min(ts):7.3f} {statistics.median(ts):7.3f}")
    for what, floor in (("help", "typer+rich"), ("check", "numpy+scipy.special+typer+rich")):
        med = statistics.median(times[what]) / statistics.median(times[floor])
        low = min(times[what]) / min(times[floor])
        print(f"{what} / {floor}: {med:.2f}x (medians), {low:.2f}x (minimums); target <= 1.5x")


if __name__ == "__main__":
    main()
