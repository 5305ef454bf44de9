"""Uniformity and isotropy of L2-normalised rows: Wang-Isola uniformity, Rayleigh, Bingham,
the centred spectrum, the sphere call's tests, paired towers' alignment and gap, and the
random-projection tests (rows on K seeded orthonormal directions, scaled by sqrt(d))."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from infogauss_cli.diagnostics import validate as va
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.normality import ADResult, DPResult, ad_result, dp_result

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


@dataclass(frozen=True)
class Rayleigh:
    """``mean_norm`` = ||mean of the unit rows|| and the ``pvalue`` of n d R^2."""

    mean_norm: float
    pvalue: float


@dataclass(frozen=True, eq=False)
class Scatter:
    """Bingham's test of the scatter against I/d and the centred covariance's spectrum."""

    bingham_p: float
    effective_rank: float
    participation_ratio: float
    condition_number: float
    top_pc_share: float
    eigenvalues: np.ndarray = field(repr=False)


def uniformity_ideal(d: int, t: float = UNIFORMITY_T) -> float:
    """log E exp(-t ||u - v||^2) for independent uniform u, v on S^(d-1)."""
    return -2.0 * t + math.log(float(special.hyp0f1(d / 2.0, t * t)))


def uniformity(u: np.ndarray, *, max_rows: int | None, seed: int = 0) -> Uniformity:
    """Wang-Isola uniformity (t = 2) of unit rows over all pairs of (at most ``max_rows``) rows."""
    n, d = u.shape
    if max_rows is not None and n > max_rows:
        idx = np.sort(np.random.default_rng([seed, 0x5F3]).choice(n, max_rows, replace=False))
        u, n = u[idx], max_rows
    u, total, t = np.asarray(u, dtype=np.float64), 0.0, UNIFORMITY_T
    for i in range(0, n, _BLOCK):  # exp(-t ||u_i - u_j||^2) = exp(-2t (1 - s_ij)) over i < j
        a = u[i : i + _BLOCK]
        g = a @ u[i:].T  # this block against itself and everything after it
        np.exp(np.multiply(np.subtract(g, 1.0, out=g), 2.0 * t, out=g), out=g)
        total += float(g[:, a.shape[0] :].sum()) + float(np.triu(g[:, : a.shape[0]], 1).sum())
    mean = total / (n * (n - 1) // 2)
    ideal = uniformity_ideal(d, t)
    e1 = math.exp(ideal)
    e2 = math.exp(uniformity_ideal(d, 2.0 * t))  # E k^2 = E exp(-2t ||u - v||^2)
    sd = math.sqrt(max(e2 - e1 * e1, 0.0) * 2.0 / (n * (n - 1)))
    z = (mean - e1) / sd if sd > 0 else float("nan")
    return Uniformity(math.log(mean) if mean > 0 else -math.inf, ideal, z, n)


def rayleigh(m: np.ndarray, n: int) -> Rayleigh:
    """Rayleigh test of uniformity on S^(d-1) from the mean ``m`` (d,) of n unit rows."""
    d = m.shape[0]
    r2 = float(m @ m)
    return Rayleigh(math.sqrt(r2), exact_chi2_p(n * d * r2, d, n))


def exact_chi2_p(stat: float, dof: float, n: int) -> float:
    """P(T >= stat) for T of mean ``dof`` and variance 2 dof (n-1)/n: c chi2(nu) matched."""
    c = (n - 1) / n  # n >= 2
    return float(special.chdtrc(dof / c, stat / c))


def scatter(t: np.ndarray, m: np.ndarray, n: int) -> Scatter:
    """Bingham's test of the scatter matrix against I/d, and the centred spectrum, from
    ``t`` = (1/n) sum u u^T (overwritten) and the mean ``m`` of n unit rows."""
    p = bingham(float(np.einsum("ij,ij->", t, t)), n, m.shape[0])[1]
    t -= np.outer(m, m)  # centred covariance (biased, /n)
    lam = np.clip(np.linalg.eigvalsh(t)[::-1], 0.0, None)
    total = float(lam.sum())
    if total <= 0:  # all rows the same: no spectrum
        return Scatter(p, *[float("nan")] * 4, lam)
    sv = np.sqrt(lam)
    q = sv / sv.sum()
    q = q[q > 0]
    erank = float(np.exp(-np.sum(q * np.log(q))))
    pr = total**2 / float(np.sum(lam * lam))
    cond = float(lam[0] / lam[-1]) if lam[-1] > lam[0] * 1e-15 else math.inf
    return Scatter(p, erank, pr, cond, float(lam[0] / total), lam)


def sphere_moments(x: np.ndarray, norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean of u, (1/n) sum u u^T) of the unit rows u = x / norms, in one pass of row blocks."""
    n, d = x.shape
    total, t = np.zeros(d), np.zeros((d, d))
    for i, block in va.row_blocks(x, 8 * d, 8 << 20):
        a = va.l2_normalise(block, norms[i : i + len(block)]).astype(np.float64, copy=False)
        total += a.sum(axis=0)
        t += a.T @ a
    t /= n
    return total / n, t


def sphere_tests(x: np.ndarray, *, alpha: float = 0.05) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``metrics`` and ``null`` of Rayleigh and Bingham (zero rows left out)."""
    a = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1)
    live = norms > 0
    u = va.l2_normalise(a[live], norms[live])
    m, d = u.shape
    metrics: dict[str, Any] = {"sphere_rows": m, "sphere_zero_rows": int((~live).sum())}
    if m < 2:
        keys = ("sphere_rayleigh_p", "sphere_bingham_p", "sphere_mean_norm")
        return metrics | dict.fromkeys(keys, float("nan")), {"sphere_power_relevant": 0.0}
    ray = rayleigh(u.mean(axis=0), m)
    gram = u @ u.T if m < d else u.T @ u  # tr T^2 from the smaller Gram or scatter matrix
    bing = bingham(float(np.einsum("ij,ij->", gram, gram)) / (m * m), m, d)[1]
    metrics |= {"sphere_rayleigh_p": ray.pvalue, "sphere_bingham_p": bing}
    metrics["sphere_mean_norm"] = ray.mean_norm
    return metrics, {"sphere_power_relevant": bingham_power(m, d, alpha / 2)}


def bingham(tr2: float, n: int, d: int) -> tuple[float, float]:
    """(statistic, p) of Bingham's test from tr T^2 of n unit rows in d dimensions."""
    stat = n * d * (d + 2) / 2.0 * (tr2 - 1.0 / d)
    return stat, exact_chi2_p(stat, (d - 1) * (d + 2) / 2.0, n) if d > 1 else float("nan")


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
    """Alignment and gap of row-paired matrices ``a`` and ``b`` of the same (n, d) shape."""
    ua = va.l2_normalise(a).astype(np.float64, copy=False)
    ub = va.l2_normalise(b).astype(np.float64, copy=False)
    diff = ua - ub
    align = float(np.einsum("ij,ij->i", diff, diff).mean())
    gap = float(np.linalg.norm(ua.mean(axis=0) - ub.mean(axis=0)))
    return PairedStats(align, gap, int(a.shape[0]))


def pair_indices(ids_a: Sequence[str], pairs_b: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (ia, ib) pairing row j of b with the row of ``ids_a`` named ``pairs_b[j]``."""
    where = {i: k for k, i in enumerate(ids_a)}
    pairs = [(where[p], j) for j, p in enumerate(pairs_b) if p in where]
    ia, ib = np.array(pairs, np.int64).reshape(-1, 2).T
    return ia.copy(), ib.copy()


DEFAULT_PROJECTIONS = 256
SCALE_Z = 1.959963984540054  # two-sided 5%
QQ_COLUMNS = 6  # projections kept for plots


@dataclass(frozen=True, eq=False)
class ProjectionTests:
    """AD, DP and the scale test on ``k`` projections; ``columns``: the first few projections."""

    k: int
    n: int
    d: int
    ad: ADResult
    dp: DPResult
    var_z: np.ndarray = field(repr=False)
    var_compliance: float
    var_p: float
    columns: np.ndarray = field(repr=False)


def random_directions(d: int, k: int = DEFAULT_PROJECTIONS, seed: int = 0) -> np.ndarray:
    """(d, k) unit directions: Haar orthonormal blocks of min(d, k) columns (seeded)."""
    rng = np.random.default_rng([seed, 0x9E0])
    blocks = []
    for j in range(0, k, d):
        q, r = np.linalg.qr(rng.standard_normal((d, min(d, k - j))))
        blocks.append(q * np.where(np.diag(r) < 0, -1.0, 1.0))  # Haar: fix the signs QR leaves
    return np.concatenate(blocks, axis=1)


def projection_tests(
    x: np.ndarray,
    *,
    k: int = DEFAULT_PROJECTIONS,
    seed: int = 0,
    directions: np.ndarray | None = None,
    budget: int | None = None,
) -> ProjectionTests:
    """Project the L2-normalised rows on ``k`` random orthonormal directions (or the given
    ``directions``), scale by sqrt(d), and test every projection, within ``budget``."""
    x = np.asarray(x)
    n, d = x.shape
    norms = va.row_norms(x)
    va.check_nonzero(norms)
    q = random_directions(d, k, seed) if directions is None else np.asarray(directions, float)
    kk = q.shape[1]
    half = va.resolve_budget(budget) // 2
    kb = int(min(kk, max(1, half // (8 * n))))
    parts, v = [], np.empty(kk)
    for k0 in range(0, kk, kb):
        qb = q[:, k0 : k0 + kb]
        p = np.empty((n, qb.shape[1]))
        for i, u in va.row_blocks(x, 8 * d):  # u @ q in row blocks, u the normalised rows
            u = va.l2_normalise(u, norms[i : i + len(u)])
            np.matmul(u.astype(np.float64, copy=False), qb, out=p[i : i + len(u)])
        p *= np.sqrt(d)
        parts.append(column_tests(p, budget=half))
        v[k0 : k0 + p.shape[1]] = np.einsum("ij,ij->j", p, p) / n  # second moment about 0
        if k0 == 0:
            columns = p[:, :QQ_COLUMNS].copy()  # kept for the plots
        del p
    a2star, k2, pvalue = (
        np.concatenate([getattr(r, f) for r in parts]) for f in ("a2star", "k2", "pvalue")
    )
    se = np.sqrt((2.0 * d - 2.0) / ((d + 2.0) * n)) if d > 1 else np.nan
    z = (v - 1.0) / se  # 1 under uniformity
    block = min(d, kk)  # the first orthonormal block: further blocks re-read the same scatter
    var_compliance = float(np.mean(np.abs(z) < SCALE_Z))
    var_p = scale_test_p(float(np.sum(z[:block] ** 2)), n, d, block)
    ad, dp = ad_result(a2star), dp_result(k2, pvalue)
    return ProjectionTests(kk, n, d, ad, dp, z, var_compliance, var_p, columns)


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
    blocks = (min(d, k - j) for j in range(0, k, d))  # orthonormal blocks of at most d
    return float(k), sum(scale * (m * m4 + m * (m - 1) * m22) - m * m for m in blocks)


def scale_test_p(t: float, n: int, d: int, k: int) -> float:
    """P(T >= t) for T = sum z^2 under uniformity (Satterthwaite's c chi2(nu))."""
    if d < 2 or not math.isfinite(t):
        return float("nan")
    mean, var = scale_moments(n, d, k)
    c = var / (2.0 * mean)
    nu = 2.0 * mean * mean / var
    return float(special.chdtrc(nu, t / c))
