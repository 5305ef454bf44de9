"""Write two synthetic embedding matrices to try `infogauss check` on (no model needed).

- ``sphere.npy``: 5,000 points uniform on the sphere S^511 with norms spread by 5%; what the
  paper says InfoNCE converges to (per-coordinate Gaussian by Maxwell-Poincare).
- ``relu.npy``: 5,000 post-ReLU 512-d features, mixed from 64 sparse factors; non-negative and
  skewed like the pooled features of a supervised CNN.

Usage: python docs/examples/make_embeddings.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(out: Path, n: int = 5000, d: int = 512, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, d))
    sphere = g / np.linalg.norm(g, axis=1, keepdims=True)
    sphere *= rng.normal(1.0, 0.05, size=(n, 1))
    factors = rng.exponential(1.0, size=(n, 64)) * (rng.random((n, 64)) < 0.2)
    relu = np.maximum(factors @ rng.standard_normal((64, d)), 0.0)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "sphere.npy", sphere.astype(np.float32))
    np.save(out / "relu.npy", relu.astype(np.float32))
    print(f"wrote {out / 'sphere.npy'} and {out / 'relu.npy'} ({n} x {d} float32)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/example"))
