"""benchmarks/tail_calibration.py runs end to end on tiny cells and prints its tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tail_calibration_benchmark_prints_its_tables(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "bench_tail", ROOT / "benchmarks/tail_calibration.py"
    )
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)
    spec.loader.exec_module(bench)
    args = ["--seeds", "3", "--n", "40", "--d", "6,50", "--covs", "1/j", "--chi2", "60x30"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "    40     6       1/j  exact       sample" in out
    assert "    40    50       1/j  exact  ledoit-wolf" in out
    assert "    60    30  identity   chi2       sample" in out and "t5" in out
    assert "    40     6       1/j oracle       sample" in out
    assert "worst pass rate on Gaussian rows (target >= 95%): in-sample" in out
