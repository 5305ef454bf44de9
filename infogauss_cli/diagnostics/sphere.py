"""Uniformity and isotropy of L2-normalised rows: Wang-Isola uniformity, Rayleigh, Bingham,
the centred spectrum, the sphere call's tests, and paired towers' alignment and gap."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.validate import MappedRows, l2_normalise, row_step

UNIFORMITY_T = 2.0
DEFAULT_UNIFORMITY_ROWS = 2000
_BLOCK = 1024  # rows per Gram block


@dataclass(frozen=True)
class Uniformity:
    """Log mean pair kernel ``value``, its ``ideal`` under uniformity, and ``z``."""

    value: float
    ideal: float
    z: float
    rows: int
    t: float = UNIFORMITY_T


@dataclass(frozen=True)
class Rayleigh:
    """``mean_norm`` = ||mean of the unit rows||; ``statistic`` = n d R^2; ``pvalue``."""

    mean_norm: float
    statistic: float
    pvalue: float


@dataclass(frozen=True, eq=False)
class Scatter:
    """Bingham's test of the scatter against I/d and the centred covariance's spectrum."""

    bingham_statistic: float
    bingham_df: float
    bingham_p: float
    effective_rank: float
    participation_ratio: float
    condition_number: float
    top_pc_share: float
    eigenvalues: np.ndarray = field(repr=False)


def uniformity_ideal(d: int, t: float = UNIFORMITY_T) -> float:
    """log E exp(-t ||u - v||^2) for independent uniform u, v on S^(d-1)."""
    return -2.0 * t + math.log(float(special.hyp0f1(d / 2.0, t * t)))


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
    """Wang-Isola uniformity of unit rows over all pairs of (at most ``max_rows``) rows."""
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
    """Rayleigh test of uniformity on S^(d-1)."""
    return rayleigh_from_mean(np.asarray(u, dtype=np.float64).mean(axis=0), u.shape[0])


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
    a = np.asarray(u, dtype=np.float64)
    return scatter_from_moments(a.T @ a / a.shape[0], a.mean(axis=0), a.shape[0])


def scatter_from_moments(t: np.ndarray, m: np.ndarray, n: int) -> Scatter:
    """:func:`scatter` from ``t`` = (1/n) sum u u^T (overwritten) and the mean ``m``."""
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
    """(mean of u, (1/n) sum u u^T) of the unit rows u = x / norms, in one pass of row blocks."""
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


def sphere_tests(x: np.ndarray, *, alpha: float = 0.05) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``metrics`` and ``null`` of Rayleigh and Bingham (zero rows left out)."""
    a = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1)
    live = norms > 0
    u = l2_normalise(a[live], norms[live])
    m, d = u.shape
    nan = float("nan")
    ray = rayleigh_from_mean(u.mean(axis=0), m) if m >= 2 else Rayleigh(nan, nan, nan)
    metrics = {"sphere_rows": m, "sphere_zero_rows": int((~live).sum())}
    metrics["sphere_rayleigh_p"] = ray.pvalue
    metrics["sphere_bingham_p"] = bingham_p(u) if m >= 2 else nan
    metrics["sphere_mean_norm"] = ray.mean_norm
    power = bingham_power(m, d, alpha / 2) if m >= 2 else 0.0
    return metrics, {"sphere_power_relevant": power}


def bingham_p(u: np.ndarray) -> float:
    """Bingham's p of unit rows u (m, d), tr T^2 from the smaller Gram or scatter matrix."""
    m, d = u.shape
    if d < 2:
        return float("nan")
    gram = u @ u.T if m < d else u.T @ u
    tr2 = float(np.einsum("ij,ij->", gram, gram)) / (m * m)
    f = (d - 1) * (d + 2) / 2.0
    return exact_chi2_p(m * d * (d + 2) / 2.0 * (tr2 - 1.0 / d), f, m)


def bingham_power(m: int, d: int, level: float) -> float:
    """Chance that Bingham's test at ``level`` rejects variances 1 and 2 (normalised)."""
    if d < 2:
        return 0.0
    f = (d - 1) * (d + 2) / 2
    c = (m - 1) / m
    crit = c * float(special.chdtri(f / c, level))  # the scaled chi-square's upper point
    noncentrality = m * (d + 2) / 18
    return float(special.ndtr((f + noncentrality - crit) / math.sqrt(2 * f * c)))


@dataclass(frozen=True)
class PairedStats:
    """Paired towers: ``alignment`` E ||u_a - u_b||^2 and ``modality_gap``."""

    alignment: float
    modality_gap: float
    n_pairs: int


def paired_stats(a: np.ndarray, b: np.ndarray) -> PairedStats:
    """Alignment and gap of row-paired matrices ``a`` and ``b`` of the same shape."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] < 1:
        raise ValueError(f"paired matrices must have the same (n, d) shape: {a.shape}, {b.shape}")
    ua = l2_normalise(a).astype(np.float64, copy=False)
    ub = l2_normalise(b).astype(np.float64, copy=False)
    diff = ua - ub
    align = float(np.einsum("ij,ij->i", diff, diff).mean())
    gap = float(np.linalg.norm(ua.mean(axis=0) - ub.mean(axis=0)))
    return PairedStats(align, gap, int(a.shape[0]))


def pair_indices(
    ids_a: tuple[str, ...] | list[str], pairs_b: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (ia, ib) pairing row j of b with the row of ``ids_a`` named ``pairs_b[j]``."""
    where = {i: k for k, i in enumerate(ids_a)}
    ia, ib = [], []
    for j, p in enumerate(pairs_b):
        k = where.get(p) if p is not None else None
        if k is not None:
            ia.append(k)
            ib.append(j)
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
