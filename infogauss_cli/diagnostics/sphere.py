"""Uniformity and isotropy on the sphere: what InfoNCE optimises, measured directly.

All functions take L2-normalised rows u (n, d) (see :func:`~.validate.l2_normalise`).

- :func:`uniformity`: Wang & Isola (2020) uniformity log E exp(-t ||u - v||^2), t = 2, over the
  distinct pairs of (up to ``max_rows``) rows, with its exact value under uniformity and a z-score.
- :func:`rayleigh`: mean resultant length R = ||mean u|| and the Rayleigh test: n d R^2 has
  mean d and variance 2d (n-1)/n exactly (Mardia & Jupp 2000, 10.4.1, chi2_d for large n).
- :func:`scatter`: the scatter matrix T = (1/n) sum u u^T against I/d (Bingham 1974 test,
  n d (d+2)/2 (tr T^2 - 1/d): mean f = (d-1)(d+2)/2, variance 2f (n-1)/n exactly) and the
  spectrum of the *centred* covariance T - m m^T: effective rank (RankMe, Garrido et al. 2023),
  participation ratio, condition number and the share of the top component.

Both tests refer their statistic to the scaled chi-square c chi2(nu) with its exact mean and
variance, c = (n-1)/n, nu = dof n/(n-1) (the plain chi2 with 2 dof more variance is too wide
at small n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

UNIFORMITY_T = 2.0
DEFAULT_UNIFORMITY_ROWS = 2000
_BLOCK = 1024  # rows per Gram block


@dataclass(frozen=True)
class Uniformity:
    """``value``: log of the mean of exp(-t||u_i - u_j||^2) over pairs i < j; ``ideal``: its
    population value for uniform points on S^(d-1) (log of the same mean, so like is compared
    with like); ``z``: (mean - E) / sd on the linear scale, sd exact for uniform data (a
    degenerate U-statistic: Var = 2 Var(k) / (n (n-1))); ``rows``: rows used."""

    value: float
    ideal: float
    z: float
    rows: int
    t: float = UNIFORMITY_T


@dataclass(frozen=True)
class Rayleigh:
    """``mean_norm`` = ||mean of the unit rows|| (mean resultant length; E = ~1/sqrt(n) under
    uniformity); ``statistic`` = n d R^2, chi2_d under uniformity; ``pvalue``."""

    mean_norm: float
    statistic: float
    pvalue: float


@dataclass(frozen=True, eq=False)
class Scatter:
    """Isotropy of the unit rows. ``bingham_*``: T = (1/n) sum u u^T against I/d.
    ``eigenvalues``: of the centred covariance T - m m^T, descending; from them
    ``effective_rank`` (exp of the entropy of the normalised singular values sqrt(lambda)),
    ``participation_ratio`` (sum lambda)^2 / sum lambda^2, ``condition_number``
    lambda_max / lambda_min (inf when rank deficient, e.g. n <= d), ``top_pc_share``."""

    bingham_statistic: float
    bingham_df: float
    bingham_p: float
    effective_rank: float
    participation_ratio: float
    condition_number: float
    top_pc_share: float
    eigenvalues: np.ndarray = field(repr=False)


def _log_mean_exp_cos(kappa: float, d: int) -> float:
    """log E exp(kappa s) for s = <u, v>, u, v uniform on S^(d-1): the von Mises-Fisher
    normaliser Gamma(d/2) (kappa/2)^(1 - d/2) I_(d/2 - 1)(kappa) = 0F1(; d/2; kappa^2 / 4)
    (the hypergeometric form does not underflow at large d)."""
    return math.log(float(special.hyp0f1(d / 2.0, kappa * kappa / 4.0)))


def uniformity_ideal(d: int, t: float = UNIFORMITY_T) -> float:
    """log E exp(-t ||u - v||^2) = -2t + log E exp(2t s) for independent uniform u, v on
    S^(d-1), in closed form (Bessel function); at t = 2, log E exp(-4 (1 - s))."""
    return -2.0 * t + _log_mean_exp_cos(2.0 * t, d)


def _pair_kernel_sums(u: np.ndarray, t: float) -> tuple[float, int]:
    """Sum over i < j of exp(-t ||u_i - u_j||^2) = exp(-2t (1 - s_ij)), in row blocks."""
    n = u.shape[0]
    total = 0.0
    for i in range(0, n, _BLOCK):
        a = u[i : i + _BLOCK]
        g = a @ u[i:].T  # this block against itself and everything after it
        np.subtract(g, 1.0, out=g)
        np.multiply(g, 2.0 * t, out=g)
        np.exp(g, out=g)
        m = a.shape[0]
        total += float(g[:, m:].sum()) + float(np.triu(g[:, :m], 1).sum())
    return total, n * (n - 1) // 2


def uniformity(
    u: np.ndarray,
    *,
    t: float = UNIFORMITY_T,
    max_rows: int | None = DEFAULT_UNIFORMITY_ROWS,
    seed: int = 0,
) -> Uniformity:
    """Wang-Isola uniformity of unit rows ``u`` over all pairs of (a seeded subsample of at most
    ``max_rows``) rows, exact O(n^2 d) through the Gram matrix in blocks."""
    n, d = u.shape
    if max_rows is not None and n > max_rows:
        idx = np.sort(np.random.default_rng([seed, 0x5F3]).choice(n, max_rows, replace=False))
        u = u[idx]
        n = max_rows
    s, pairs = _pair_kernel_sums(np.asarray(u, dtype=np.float64), t)
    mean = s / pairs
    ideal = uniformity_ideal(d, t)
    e1 = math.exp(ideal)
    e2 = math.exp(uniformity_ideal(d, 2.0 * t))  # E k^2 = E exp(-2t ||u - v||^2)
    sd = math.sqrt(max(e2 - e1 * e1, 0.0) * 2.0 / (n * (n - 1)))
    z = (mean - e1) / sd if sd > 0 else float("nan")
    return Uniformity(math.log(mean) if mean > 0 else -math.inf, ideal, z, n, t)


def rayleigh(u: np.ndarray) -> Rayleigh:
    """Rayleigh test of uniformity on S^(d-1): n d ||mean u||^2 ~ chi2_d (scaled, see above)."""
    n = u.shape[0]
    return rayleigh_from_mean(np.asarray(u, dtype=np.float64).mean(axis=0), n)


def rayleigh_from_mean(m: np.ndarray, n: int) -> Rayleigh:
    """:func:`rayleigh` from the mean ``m`` (d,) of n unit rows."""
    d = m.shape[0]
    r2 = float(m @ m)
    stat = n * d * r2
    return Rayleigh(math.sqrt(r2), stat, exact_chi2_p(stat, d, n))


def exact_chi2_p(stat: float, dof: float, n: int) -> float:
    """P(T >= stat) for T of mean ``dof`` and variance 2 dof (n-1)/n: c chi2(nu) matched."""
    if n < 2:
        return float(special.chdtrc(dof, stat))
    c = (n - 1) / n
    return float(special.chdtrc(dof / c, stat / c))


def scatter(u: np.ndarray) -> Scatter:
    """Bingham's test of the scatter matrix against I/d, and the centred spectrum."""
    n = u.shape[0]
    a = np.asarray(u, dtype=np.float64)
    t = a.T @ a
    t /= n
    return scatter_from_moments(t, a.mean(axis=0), n)


def scatter_from_moments(t: np.ndarray, m: np.ndarray, n: int) -> Scatter:
    """:func:`scatter` from the scatter matrix ``t`` = (1/n) sum u u^T (d, d; overwritten)
    and the mean ``m`` of n unit rows."""
    d = m.shape[0]
    tr2 = float(np.einsum("ij,ij->", t, t))
    df = (d - 1) * (d + 2) / 2.0
    stat = n * d * (d + 2) / 2.0 * (tr2 - 1.0 / d)
    p = exact_chi2_p(stat, df, n) if d > 1 else float("nan")
    t -= np.outer(m, m)  # centred covariance (biased, /n)
    lam = np.clip(np.linalg.eigvalsh(t)[::-1], 0.0, None)
    total = float(lam.sum())
    if total <= 0:
        nan = float("nan")
        return Scatter(stat, df, p, nan, nan, nan, nan, lam)
    sv = np.sqrt(lam)
    q = sv / sv.sum()
    q = q[q > 0]
    erank = float(np.exp(-np.sum(q * np.log(q))))
    pr = total**2 / float(np.sum(lam * lam))
    cond = float(lam[0] / lam[-1]) if lam[-1] > lam[0] * 1e-15 else math.inf
    return Scatter(stat, df, p, erank, pr, cond, float(lam[0] / total), lam)


def sphere_moments(
    x: np.ndarray, norms: np.ndarray, block_bytes: int = 8 << 20
) -> tuple[np.ndarray, np.ndarray]:
    """(mean of u (d,), scatter (1/n) sum u u^T (d, d)) of the unit rows u = x / norms, in one
    pass over row blocks (float64; pages released on a memory map)."""
    from infogauss_cli.diagnostics.blocks import MappedRows, row_step
    from infogauss_cli.diagnostics.validate import l2_normalise

    n, d = x.shape
    total, t = np.zeros(d), np.zeros((d, d))
    rows = MappedRows(x)
    step = row_step(8 * d, block_bytes)
    for i in range(0, n, step):
        a = l2_normalise(x[i : i + step], norms[i : i + step]).astype(np.float64, copy=False)
        total += a.sum(axis=0)
        t += a.T @ a
        rows.release(i, i + step)
    t /= n
    return total / n, t


__all__ = [
    "Rayleigh",
    "Scatter",
    "Uniformity",
    "rayleigh",
    "rayleigh_from_mean",
    "scatter",
    "scatter_from_moments",
    "sphere_moments",
    "uniformity",
    "uniformity_ideal",
]
