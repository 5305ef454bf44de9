"""benchmarks/extract.py's CPU mode runs end to end on a few JPEGs (the figures in
docs/performance.md come from it), ``--load-groups`` included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cpu_benchmark_with_load_groups(tmp_path):
    args = ["--n", "16", "--batch-size", "4", "--rounds", "1", "--workers", "auto,0"]
    args += ["--load-groups", "4,8", "--dir", str(tmp_path / "jpegs")]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "extract.py"), *args,
         "--json", str(tmp_path / "out.json")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "forward only (pre-made tensors)" in out and "pipeline, workers=0" in out
    for line in ("4 items per pause, after each forward pass", "8 items per pause, after each",
                 "8 items per pause, no forward pass"):  # fmt: skip
        assert f"loading, {line}" in out
    rows = json.loads((tmp_path / "out.json").read_text())["rows"]
    assert rows[0]["items"] == 16 and all(r["rate"] > 0 for r in rows)
