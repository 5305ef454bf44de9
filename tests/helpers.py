"""Small shared helpers for the tests."""

from __future__ import annotations

import numpy as np


def gaussian(n: int = 2000, d: int = 64, seed: int = 0) -> np.ndarray:
    """iid N(0, 1): Gaussian under both views at moderate d."""
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def relu(n: int = 2000, d: int = 64, seed: int = 0) -> np.ndarray:
    """Post-ReLU features: non-negative, skewed, clearly non-Gaussian."""
    return np.maximum(gaussian(n, d, seed), 0.0) + 1e-3


def invoke(*args):
    """Run the CLI in-process: ``invoke("audit", "clip", "--n", 10)`` -> click's Result."""
    from typer.testing import CliRunner

    from infogauss_cli.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])
