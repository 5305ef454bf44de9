"""Small shared helpers for the tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "needs Chromium at /usr/bin/chromium (apt-get install chromium)"

# the metrics every --detail row carries (diagnostics/detail.py)
DETAIL_KEYS = (
    "proj_ad_compliance",
    "proj_dp_compliance",
    "proj_ad_mean",
    "proj_var_compliance",
    "uniformity",
    "uniformity_ideal",
    "uniformity_z",
    "rayleigh_p",
    "bingham_p",
    "effective_rank",
    "participation_ratio",
    "condition_number",
    "top_pc_share",
    "mean_norm",
    "bh_rejected",
    "ks_p_uniform",
    "mardia_skew_p",
    "mardia_kurt_p",
    "ad_compliance_null_p",
    "dp_compliance_null_p",
)


def gaussian(n: int = 2000, d: int = 64, seed: int = 0) -> np.ndarray:
    """iid N(0, 1): Gaussian under both views at moderate d."""
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def relu(n: int = 2000, d: int = 64, seed: int = 0) -> np.ndarray:
    """Post-ReLU features: non-negative, skewed, clearly non-Gaussian."""
    return np.maximum(gaussian(n, d, seed), 0.0) + 1e-3


def run_cli(*args, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """``python -m infogauss_cli ARGS`` as a real process, its text output captured;
    ``kwargs`` (``cwd``, ``env``...) go to :func:`subprocess.run`."""
    cmd = [sys.executable, "-m", "infogauss_cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)


def invoke(*args):
    """Run the CLI in-process: ``invoke("audit", "clip", "--n", 10)`` -> click's Result."""
    from typer.testing import CliRunner

    from infogauss_cli.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def screenshot_tool() -> ModuleType:
    """docs/tools/screenshot_html.py (headless Chromium), loaded as a module."""
    path = REPO / "docs" / "tools" / "screenshot_html.py"
    spec = importlib.util.spec_from_file_location("screenshot_html", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
