"""benchmarks/gpu.sh --dry-run: the one-call GPU check runs end to end on CPU (tiny stand-in
models, torch.compile with the eager backend, JPEG decoding through torchvision on CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_sh_dry_run(tmp_path):
    env = {
        **os.environ,
        "OUT": str(tmp_path / "out"),
        "PYTHON": sys.executable,
        "PYTHONPATH": str(ROOT),
        "MODELS": "resnet34",
    }
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--dry-run"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "out"
    assert (out / "gpu_pytest.txt").exists()
    table = (out / "gpu_bench.txt").read_text()
    assert "pipe/fwd" in table and "test_resnet*" in table
    rows = json.loads((out / "gpu_bench.json").read_text())["rows"]
    combos = {(r["batch_size"], r["decode"], r["compile"]) for r in rows}
    assert combos == {(4, "cpu", False), (4, "gpu", False), (8, "cpu", False),
                      (8, "gpu", False), (8, "gpu", True),
                      (16, "cpu", False), (16, "gpu", False)}  # fmt: skip
    # "auto" (no batch size: on CPU the default 16, no probe)
    assert {r["batch_size"] for r in rows if r["batch_size_probed"]} == {16}
    assert all(r["pipeline"] > 0 and r["gpu_util"] is None and not r["notes"] for r in rows)


def test_gpu_sh_rejects_unknown_arguments():
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--bogus"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "unknown argument" in proc.stderr
