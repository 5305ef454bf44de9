"""The terminal table fits: label and verdict visible at 80, 100 and 200 columns (issue 16)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from infogauss_cli.cli.main import app
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import Verdict
from infogauss_cli.report.table import TerminalReport
from tests.support.cli import gaussian, relu, run_cli

METRICS = dict(norm_cv=0.0912, ad_mean=0.43, ad_compliance=0.961, dp_mean_p=0.39, dp_compliance=0.9)
NULL = dict(
    ad_compliance=0.95,
    dp_compliance=0.95,
    ad_mean=0.385,
    dp_mean_p=0.5,
    ad_compliance_band=[0.93, 0.97],
    dp_compliance_band=[0.93, 0.97],
)
SPECS = [  # model, tower, objective, view, gaussian
    ("clip-vit-l14", "image", "infonce", "l2", True),
    ("clip-vit-l14", "text", "infonce", "raw", True),
    ("dino-vitb8-self-distilled-long-id", "image", "self-distillation", "l2", False),
    ("resnet34", "image", "supervised", "l2", False),
]


def _rows() -> list[Row]:
    rows = [
        Row(
            model=m,
            tower=t,
            objective=o,
            protocol=dict(n=5000, d=768, view=v),
            metrics=METRICS,
            null=NULL,
            verdict=Verdict("gaussian" if g else "non-gaussian", ()),
        )
        for m, t, o, v, g in SPECS
    ]
    return [*rows, Row(model="broken[x]", tower="image", error="could not load")]


def _render(width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False)
    console.print(TerminalReport(_rows()))
    return console.export_text()


def _assert_visible(text: str, width: int, labels: list[tuple[str, str]]) -> None:
    """Each (label, mark) is on one line, nothing is cut with an ellipsis, nothing overflows."""
    lines = text.splitlines()
    assert all(len(ln.rstrip()) <= width for ln in lines), text
    assert "…" not in text, text
    for label, mark in labels:
        assert any(label in ln and mark in ln for ln in lines), (label, mark, text)


@pytest.mark.parametrize("width", [80, 100, 200])
def test_label_and_verdict_visible(width):
    text = _render(width)
    labels = [(m, "✓" if g else "✗") for m, _, _, _, g in SPECS] + [("broken[x]", "error")]
    _assert_visible(text, width, labels)
    for tower in ("image", "text"):  # merged into the label or in its own column
        assert tower in text
    assert "self-distillation" in text and "null: iid Gaussian" in text


def test_layout_steps():
    """200: every column with long headers; 100: short headers; 40: stacked blocks."""
    wide, mid, narrow = _render(200), _render(100), _render(40)
    assert "Objective" in wide and "AD Mean" in wide and "[93–97]" in wide
    assert "AD ok" in mid and "Objective" not in mid and "(n × d = 5,000 × 768)" in mid
    assert "✓ Gaussian  clip-vit-l14" in narrow and "✗ not Gaussian" in narrow
    assert "┃" not in narrow


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "a.npy", gaussian(500, 32))
    np.save(tmp_path / "b.npy", relu(500, 32))
    return tmp_path


@pytest.mark.parametrize("width", [80, 100, 200])
def test_check_honours_columns(files, width):
    r = CliRunner().invoke(
        app,
        ["check", str(files / "a.npy"), str(files / "b.npy"), "--view", "both"],
        env={"COLUMNS": str(width)},
    )
    assert r.exit_code == 0, r.output
    _assert_visible(r.stdout, width, [("a.npy", "✓"), ("b.npy", "✗")])


def test_check_columns_80_subprocess(files):
    env = {**os.environ, "COLUMNS": "80"}
    r = run_cli("check", "a.npy", "b.npy", cwd=files, env=env)
    assert r.returncode == 0, r.stderr
    _assert_visible(r.stdout, 80, [("a.npy", "✓"), ("b.npy", "✗")])


@pytest.mark.slow
def test_readme_table_is_current():
    """README.md's example table is what `docs/tools/readme_assets.py` makes from the real CLI."""
    tool = Path(__file__).parents[2] / "docs" / "tools" / "readme_assets.py"
    r = subprocess.run(
        [sys.executable, str(tool), "--check"], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
