"""Random-projection normality tests: the rotation-invariant form of the per-coordinate tests.

The Maxwell-Poincare theorem is about fixed low-dimensional projections of points uniform on the
sphere S^(d-1): sqrt(d) <q, u> -> N(0, 1) for every unit q. So instead of the d coordinates
(which depend on the basis), L2-normalise the rows, project them on K random orthonormal
directions (QR of a seeded Gaussian d x K matrix; K > d stacks independent orthonormal blocks),
scale by sqrt(d) and run the same vectorised Anderson-Darling and D'Agostino-Pearson tests on the
K projections. Rotating the data by R and the directions by R^T leaves the projections unchanged,
so the result does not depend on the basis (and, in distribution over seeds, not even without
rotating the directions).

On top of the shape tests (which standardise each projection), the *scale* test checks the
variance the theorem predicts: under uniformity the second moment v = mean(sqrt(d) <q, u>)^2 has
mean 1 and variance (2d - 4) / ((d + 2) n) exactly, so z = (v - 1) / se flags anisotropy and a
mean offset that the standardised shape tests cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from .normality import ADResult, DPResult, ad_result, column_tests, dp_result
from .null import NullExpectation, null_expectation
from .validate import l2_normalise

DEFAULT_PROJECTIONS = 256
SCALE_Z = 1.959963984540054  # two-sided 5%
QQ_COLUMNS = 6  # projections kept for plots


@dataclass(frozen=True, eq=False)
class ProjectionTests:
    """AD and DP on ``k`` random projections of the L2-normalised rows (scaled by sqrt(d)).

    ``var_compliance``: share of projections whose second moment is within 1.96 standard errors
    of 1 (the uniform-sphere value); ``var_p``: chi-square(k) p-value of the sum of their squared
    z-scores (projections are nearly independent under uniformity: their squares correlate by
    -2/(d+2)). ``null``: iid-Gaussian expectations for k columns at this n; ``columns``: the first
    few projections (for QQ plots)."""

    k: int
    n: int
    d: int
    seed: int
    ad: ADResult
    dp: DPResult
    var_z: np.ndarray = field(repr=False)
    var_compliance: float
    var_p: float
    null: NullExpectation
    columns: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)


def random_directions(d: int, k: int = DEFAULT_PROJECTIONS, seed: int = 0) -> np.ndarray:
    """(d, k) matrix of unit directions: orthonormal blocks of min(d, k) columns (QR of a seeded
    standard-Gaussian matrix, sign-fixed so the result is Haar distributed)."""
    if d < 1 or k < 1:
        raise ValueError(f"need d >= 1 and k >= 1, got d={d}, k={k}")
    rng = np.random.default_rng([seed, 0x9E0])
    blocks, left = [], k
    while left > 0:
        m = min(d, left)
        q, r = np.linalg.qr(rng.standard_normal((d, m)))
        q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # Haar: fix the signs QR leaves arbitrary
        blocks.append(q)
        left -= m
    return np.concatenate(blocks, axis=1)


def projection_tests(
    x: np.ndarray,
    *,
    k: int = DEFAULT_PROJECTIONS,
    seed: int = 0,
    directions: np.ndarray | None = None,
    normalise: bool = True,
    workers: int | None = None,
) -> ProjectionTests:
    """Project the (L2-normalised, unless ``normalise=False``) rows of a finite (n, d) matrix
    on ``k`` random orthonormal directions (or the given (d, k) ``directions``), scale by
    sqrt(d), and test every projection (AD, DP, and the unit-variance scale test)."""
    x = np.asarray(x)
    n, d = x.shape
    u = l2_normalise(x) if normalise else x
    q = random_directions(d, k, seed) if directions is None else np.asarray(directions, float)
    if q.shape[0] != d:
        raise ValueError(f"directions have {q.shape[0]} rows, the data {d} columns")
    p = u.astype(np.float64, copy=False) @ q
    p *= np.sqrt(d)
    res = column_tests(p, workers=workers)
    v = np.einsum("ij,ij->j", p, p) / n  # second moment about 0: 1 under uniformity
    se = np.sqrt(max(2.0 * d - 4.0, 1e-12) / ((d + 2.0) * n)) if d > 2 else np.nan
    z = (v - 1.0) / se
    kk = q.shape[1]
    return ProjectionTests(
        k=kk,
        n=n,
        d=d,
        seed=seed,
        ad=ad_result(res.a2star),
        dp=dp_result(res.k2, res.pvalue),
        var_z=z,
        var_compliance=float(np.mean(np.abs(z) < SCALE_Z)),
        var_p=float(special.chdtrc(kk, float(np.sum(z * z)))),
        null=null_expectation(n, kk),
        columns=p[:, :QQ_COLUMNS].copy(),
    )


__all__ = ["DEFAULT_PROJECTIONS", "ProjectionTests", "projection_tests", "random_directions"]
