"""Random-projection tests: the L2-normalised rows on K seeded orthonormal directions, scaled by
sqrt(d), tested like coordinates, plus the scale test of their second moments."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.normality import (
    ADResult,
    DPResult,
    NullExpectation,
    ad_result,
    dp_result,
    null_expectation,
)
from infogauss_cli.diagnostics.validate import (
    MappedRows,
    check_nonzero,
    l2_normalise,
    resolve_budget,
    row_norms,
    row_step,
)

DEFAULT_PROJECTIONS = 256
SCALE_Z = 1.959963984540054  # two-sided 5%
QQ_COLUMNS = 6  # projections kept for plots


@dataclass(frozen=True, eq=False)
class ProjectionTests:
    """AD, DP and the scale test on ``k`` projections; ``columns``: the first few projections."""

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
    """(d, k) unit directions: Haar orthonormal blocks of min(d, k) columns (seeded)."""
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
    budget: int | None = None,
) -> ProjectionTests:
    """Project the (L2-normalised) rows on ``k`` random orthonormal directions (or the given
    ``directions``), scale by sqrt(d), and test every projection, within ``budget``."""
    x = np.asarray(x)
    n, d = x.shape
    divide_by = row_norms(x) if normalise else None
    if divide_by is not None:
        check_nonzero(divide_by)
    q = random_directions(d, k, seed) if directions is None else np.asarray(directions, float)
    if q.shape[0] != d:
        raise ValueError(f"directions have {q.shape[0]} rows, the data {d} columns")
    kk = q.shape[1]
    half = resolve_budget(budget) // 2
    kb = int(min(kk, max(1, half // (8 * n))))
    parts, v, columns = [], np.empty(kk), np.empty((n, 0))
    rows, step = MappedRows(x), row_step(8 * d)
    for k0 in range(0, kk, kb):
        qb = q[:, k0 : k0 + kb]
        p = np.empty((n, qb.shape[1]))
        for i in range(0, n, step):  # u @ q in row blocks, u the (normalised) rows
            u = x[i : i + step]
            if divide_by is not None:
                u = l2_normalise(u, divide_by[i : i + step])
            np.matmul(u.astype(np.float64, copy=False), qb, out=p[i : i + step])
            rows.release(i, i + step)
        p *= np.sqrt(d)
        parts.append(column_tests(p, budget=half))
        v[k0 : k0 + p.shape[1]] = np.einsum("ij,ij->j", p, p) / n  # second moment about 0
        if k0 == 0:
            columns = p[:, :QQ_COLUMNS].copy()
        del p
    a2star, k2, pvalue = (
        np.concatenate([getattr(r, f) for r in parts]) for f in ("a2star", "k2", "pvalue")
    )
    se = np.sqrt((2.0 * d - 2.0) / ((d + 2.0) * n)) if d > 1 else np.nan
    z = (v - 1.0) / se  # 1 under uniformity
    block = min(d, kk)  # the first orthonormal block: further blocks re-read the same scatter
    return ProjectionTests(
        k=kk,
        n=n,
        d=d,
        seed=seed,
        ad=ad_result(a2star),
        dp=dp_result(k2, pvalue),
        var_z=z,
        var_compliance=float(np.mean(np.abs(z) < SCALE_Z)),
        var_p=scale_test_p(float(np.sum(z[:block] ** 2)), n, d, block),
        null=null_expectation(n, kk),
        columns=columns,
    )


def _sphere_moment(d: int, *ks: int) -> float:
    """E prod_i u_i^(2 k_i) for u uniform on S^(d-1)."""
    num = 1.0
    for k in ks:
        num *= math.prod(range(1, 2 * k, 2))  # (2k - 1)!!
    den = math.prod(d + 2 * j for j in range(sum(ks)))
    return num / den


def scale_moments(n: int, d: int, k: int) -> tuple[float, float]:
    """Exact mean and variance of sum z^2 over k projections of n uniform rows on S^(d-1)."""
    e = lambda *ks: _sphere_moment(d, *ks)  # noqa: E731
    sig2 = (2.0 * d - 2.0) / (d + 2.0)  # Var(d u^2)
    cov = d * d * e(1, 1) - 1.0  # Cov(d u_a^2, d u_b^2) = -sig2 / (d - 1)
    # w = d u^2 - 1: fourth moments
    w4 = d**4 * e(4) - 4 * d**3 * e(3) + 6 * d**2 * e(2) - 4 * d * e(1) + 1
    w22 = d**4 * e(2, 2) - 4 * d**3 * e(2, 1) + d**2 * (2 * e(2) + 4 * e(1, 1)) - 4 * d * e(1) + 1
    nn = float(n)
    m4 = w4 / nn**3 + (nn - 1) / nn**3 * 3 * sig2**2  # E (v_a - 1)^4
    m22 = w22 / nn**3 + (nn - 1) / nn**3 * (sig2**2 + 2 * cov**2)  # E (v_a-1)^2 (v_b-1)^2
    scale = (nn / sig2) ** 2
    var, left = 0.0, k
    while left > 0:
        m = min(d, left)
        var += scale * (m * m4 + m * (m - 1) * m22) - m * m
        left -= m
    return float(k), var


def scale_test_p(t: float, n: int, d: int, k: int) -> float:
    """P(T >= t) for T = sum z^2 under uniformity (Satterthwaite's c chi2(nu))."""
    if d < 2 or not math.isfinite(t):
        return float("nan")
    mean, var = scale_moments(n, d, k)
    c = var / (2.0 * mean)
    nu = 2.0 * mean * mean / var
    return float(special.chdtrc(nu, t / c))
