"""benchmarks/extract.py's CPU mode runs end to end on a few JPEGs (the figures in
docs/performance.md come from it), ``--load-groups`` included."""

from __future__ import annotations

import importlib.util
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
    args += ["--model", "test_efficientnet"]  # timm's tiny stand-in: the script, not the speed
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
    assert "serial ceiling: 0." in out and "the default reaches" in out
    result = json.loads((tmp_path / "out.json").read_text())
    rows, ceiling = result["rows"], result["serial_ceiling"]
    assert rows[0]["items"] == 16 and all(r["rate"] > 0 for r in rows)
    assert 0 < ceiling["ratio"] < 1 and ceiling["load_ms"] > 0 and ceiling["reached"] > 0


def test_serial_ceiling_is_forward_over_forward_plus_loading(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_extract", ROOT / "benchmarks/extract.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look themselves up
    spec.loader.exec_module(bench)
    Row, serial_ceiling = bench.Row, bench.serial_ceiling
    # forward 100 items/s (10 ms each), loading 2.5 ms per item: ceiling 10 / 12.5 = 0.8;
    # the pipeline at 80 items/s (ratio 0.8) reaches all of it, at 60 items/s 0.75 of it
    forward = [Row("f", 100, 1.0), Row("f", 100, 1.0), Row("f", 200, 2.0)]
    load = [Row("l", 100, 0.25), Row("l", 100, 0.25), Row("l", 100, 0.25)]
    pipe = [Row("p", 80, 1.0), Row("p", 60, 1.0), Row("p", 80, 1.0)]
    c = serial_ceiling(forward, load, pipe)
    assert c["ratio"] == pytest.approx(0.8) and c["load_ms"] == pytest.approx(2.5)
    assert c["reached"] == pytest.approx(1.0)  # the median of 1.0, 0.75, 1.0


@pytest.mark.slow
def test_decoders_benchmark_compares_the_jpeg_decoders(tmp_path):
    args = ["--decoders", "--n", "8", "--rounds", "1", "--dir", str(tmp_path / "jpegs")]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "decode.py"), *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "every decoder gave PIL's pixels for all 8 files" in proc.stdout
    for name in ("PIL", "torchvision decode_jpeg", "simplejpeg"):
        assert f"\n{name} " in proc.stdout
