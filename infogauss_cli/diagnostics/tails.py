"""``metrics.tail_share``: the share of rows beyond the 99th percentile of their exact in-sample
law under the Gaussian fitted to them (1% when it fits). Computed where ``fit``'s "auto" rule
keeps the sample covariance (n >= 2·rank): the only case with a closed law, and a cheap one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from infogauss_cli.diagnostics.fit import SAMPLE_RATIO, TAIL_LEVEL, GaussianFit, fit, tail_share


def rows_needed(rank: int) -> int:
    """The rows from which ``fit(..., shrinkage="auto")`` keeps the sample covariance."""
    return max(math.ceil(SAMPLE_RATIO * rank), rank + 2)


def tail_metrics(a: np.ndarray, z: np.ndarray, rank: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, null) of ``tail_share`` of rows ``a``; ``z``, ``rank``: ``decorrelate(a)``. When
    ``z`` keeps all ``rank`` whitened coordinates, the sample fit of ``a`` is N(0, I) in them
    (affine invariance): D² = |z|², and no second covariance is needed."""
    m, k = z.shape
    need = rows_needed(rank)
    if rank == 0 or m < need:
        return {"tail_share": None}, ({"tail_share_n_needed": need} if rank else {})
    if k == rank:
        eye, why = np.eye(k), "the sample fit in its own whitened coordinates"
        f = GaussianFit(np.zeros(k), eye, np.ones(k), eye, m, "sample", 0.0, why)
        d2 = np.einsum("ij,ij->i", z, z)
    else:  # m = 2·rank exactly: decorrelate kept rank - 1 coordinates
        f = fit(a, shrinkage="sample")
        d2 = f.mahalanobis(a)
    share = tail_share(f.tail_p(d2, in_sample=True), TAIL_LEVEL)
    return {"tail_share": share}, {"tail_share": TAIL_LEVEL}
