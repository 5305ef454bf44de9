"""``--quiet`` keeps one line per failure on stderr: a failed gate, a model that cannot load."""

from __future__ import annotations

import numpy as np

from tests.support.cli import relu, run_cli
from tests.support.faults import _offline_env


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_failed_gates_under_quiet_say_one_line_each(tmp_path):
    path = tmp_path / "relu.npy"
    np.save(path, relu(300, 32))
    proc = run_cli("check", path, "--require", "gaussian", "--max-cv", "0.01", "--quiet")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    lines = _lines(proc.stderr)
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("infogauss: gate require failed for relu.npy (l2): required")
    assert lines[1].startswith("infogauss: gate max-cv failed for relu.npy (l2): got ")


def test_passed_gates_under_quiet_say_nothing(tmp_path):
    path = tmp_path / "relu.npy"
    np.save(path, relu(300, 32))
    proc = run_cli("check", path, "--max-cv", "10", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_missing_weight_under_quiet_says_one_error_line(tmp_path):
    env = _offline_env(tmp_path) | {"HF_HUB_OFFLINE": "1"}
    proc = run_cli("audit", "resnet34", "--data", "skimage-samples", "--quiet", env=env)
    assert proc.returncode == 3, proc.stderr
    (line,) = _lines(proc.stderr)
    assert line.startswith("error: resnet34/image: cannot load resnet34"), line
    assert "offline" in line
