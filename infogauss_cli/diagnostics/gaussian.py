"""Tests of "Gaussian?" whose null is a Gaussian of any mean and covariance, on the rows'
decorrelated coordinates ``Z = sqrt(m - 1) U_k``, their power against iid Student t10 coordinates
(``power_table.tsv`` up to :data:`TABLE_MAX_ROWS` rows, closed forms beyond), and the share of
rows beyond the 99th percentile of their exact in-sample law (``tail_share``: 1% if it fits)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from infogauss_cli.diagnostics import mardia as mt
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.diagnosis import dead_mask
from infogauss_cli.diagnostics.fit import (
    RANK_RTOL,
    SAMPLE_RATIO,
    TAIL_LEVEL,
    GaussianFit,
    fit,
    tail_share,
)
from infogauss_cli.diagnostics.normality import AD_CRITICAL_5PCT, DP_ALPHA, grid_interp, table_row
from infogauss_cli.diagnostics.reference import gaussian_effect, reference
from infogauss_cli.diagnostics.refsim import ALT_DF
from infogauss_cli.diagnostics.validate import l2_normalise, sample_indices, take_rows

MAX_ROWS = 20_000
MAX_VALUES = 1 << 25  # rows x d held in float64 for the decomposition (256 MiB)
POWER_FILE = Path(__file__).with_name("power_table.tsv")
TABLE_MAX_ROWS = 500
M_GRID = (20, 30, 50, 75, 100, 150, 200, 300, 500)
K_GRID = (1, 2, 4, 8, 16, 32, 64, 128)


def ad_pvalue(a2star: np.ndarray) -> np.ndarray:
    """Upper-tail p of the modified A*^2 (D'Agostino & Stephens 1986, Table 4.9)."""
    a = np.minimum(np.asarray(a2star, dtype=np.float64), 10.0)

    def e(c0: float, c1: float, c2: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.exp(c0 + c1 * a + c2 * a * a)

    high = np.where(a >= 0.6, e(1.2937, -5.709, 0.0186), e(0.9177, -4.279, -1.38))
    low = np.where(a > 0.2, 1 - e(-8.318, 42.796, -59.938), 1 - e(-13.436, 101.14, -223.73))
    return np.clip(np.where(a > 0.34, high, low), 0.0, 1.0)


def decorrelate(x: np.ndarray) -> tuple[np.ndarray, int]:
    """(Z, rank): the top ``min(rank, (m - 1) // 2)`` principal coordinates, unit variance."""
    a = np.asarray(x, dtype=np.float64)
    m, d = a.shape
    c = a - a.mean(axis=0)
    lam, v = np.linalg.eigh(c.T @ c if d <= m else c @ c.T)
    lam, v = lam[::-1], v[:, ::-1]
    rank = int(np.count_nonzero(lam > lam[0] * RANK_RTOL)) if lam[0] > 0 else 0
    k = min(rank, max((m - 1) // 2, 1))
    if k == 0:
        return np.empty((m, 0)), 0
    u = c @ (v[:, :k] / np.sqrt(lam[:k])) if d <= m else v[:, :k]
    return u * math.sqrt(m - 1), rank


def rows_needed(rank: int) -> int:
    """The rows from which ``fit(..., shrinkage="auto")`` keeps the sample covariance."""
    return max(math.ceil(SAMPLE_RATIO * rank), rank + 2)


def tail_metrics(a: np.ndarray, z: np.ndarray, rank: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, null) of ``tail_share`` of rows ``a`` (``z``, ``rank``: ``decorrelate(a)``), from
    :func:`rows_needed` rows. When ``z`` keeps all ``rank`` whitened coordinates, the sample fit of
    ``a`` is N(0, I) in them (affine invariance): D² = |z|², no second covariance needed."""
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
    return {"tail_share": tail_share(f.tail_p(d2, in_sample=True))}, {"tail_share": TAIL_LEVEL}


def radial_test(z: np.ndarray) -> tuple[float, float, float, float]:
    """(b2, z, two-sided p, excess kurtosis) of Mardia's b2 of whitened rows (Pearson III)."""
    m, k = z.shape
    d2 = np.einsum("ij,ij->i", z, z) * (m / (m - 1))  # with the biased covariance
    b2 = float(np.mean(d2 * d2))
    _, mean, var = mt.gaussian_moments(m, k)
    if var <= 0:
        return b2, 0.0, 1.0, (b2 - mean) / k
    f = mt.pearson3_cdf(b2, mean, var, mt.b2_skew(m, k))
    p = min(1.0, 2.0 * min(f, 1.0 - f))
    return b2, (b2 - mean) / math.sqrt(var), p, (b2 - mean) / k


def joint_sample(x: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """The rows the joint tests see: at most MAX_ROWS (and MAX_VALUES) of the ``n`` drawn."""
    rows = x.shape[0]
    idx = sample_indices(rows, n, seed)
    m = min(idx.size, MAX_ROWS, max(MAX_VALUES // max(x.shape[1], 1), 200))
    if m < idx.size:
        idx = np.sort(np.random.default_rng([seed, 0x6A55]).choice(idx, m, replace=False))
    return take_rows(x, idx) if idx.size < rows else np.asarray(x)


def gaussian_tests(
    x: np.ndarray, view: str = "raw", *, seed: int = 0, alpha: float = 0.05
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``metrics`` and ``null`` of the decorrelated tests of one view of ``x``."""
    a = l2_normalise(np.asarray(x)) if view == "l2" else np.asarray(x)
    m, d = a.shape
    z, rank = decorrelate(a)
    k = z.shape[1]
    tails, tails_null = tail_metrics(a, z, rank)  # metrics.tail_share
    out: dict[str, Any] = {"effect_excess": None, "effect_excess_interval": None}
    out |= {"decorrelated_rows": m, "decorrelated_d": d, "decorrelated_rank": rank}
    out |= {"decorrelated_k": k, **tails}
    if k == 0:
        return out, {"gaussian_power_relevant": 1.0}
    floor = gaussian_effect(m)[0]  # an iid Gaussian coordinate's mean QQ distance
    given = column_tests(a)
    live = np.flatnonzero(~dead_mask(given.std, given.constant))
    w1 = given.w1[live][np.isfinite(given.w1[live])]
    if w1.size:  # mean QQ distance above an iid Gaussian coordinate's, with a 95% interval
        excess = float(w1.mean()) - floor
        half = 1.96 * float(w1.std(ddof=1)) / math.sqrt(w1.size) if w1.size > 1 else 0.0
        out |= {"effect_excess": excess, "effect_excess_interval": [excess - half, excess + half]}
    res = column_tests(z)
    row = table_row(m)
    ad_pass = int(np.count_nonzero(res.a2star < AD_CRITICAL_5PCT))
    dp_pass = int(np.count_nonzero(res.pvalue > DP_ALPHA))
    each = ad_pvalue(res.a2star)
    worst = int(np.argmin(each))
    given_each = ad_pvalue(given.a2star[live])
    given_worst = int(live[np.argmin(given_each)]) if live.size else -1
    given_p = float(min(1.0, live.size * given_each.min())) if live.size else 1.0
    given_effect = float(given.w1[given_worst]) if live.size else float("nan")
    rng = np.random.default_rng([seed, 0x42A])
    hz_rows, hz_k = min(m, mt.HZ_MAX_ROWS), min(k, mt.HZ_MAX_DIM)
    pick = np.sort(rng.choice(m, hz_rows, replace=False)) if hz_rows < m else slice(None)
    hz = mt.hz_statistic(z[pick, :hz_k])
    out |= {
        "decorrelated_ad_compliance": ad_pass / k,
        "decorrelated_dp_compliance": dp_pass / k,
        "decorrelated_ad_count_p": float(special.bdtr(ad_pass, k, row["ad_rate"])),
        "decorrelated_dp_count_p": float(special.bdtr(dp_pass, k, row["dp_rate"])),
        "decorrelated_effect_excess": float(np.mean(res.w1)) - floor,
        "worst_coordinate": worst,
        "worst_coordinate_p": float(min(1.0, k * each[worst])),
        "worst_coordinate_effect_excess": float(res.w1[worst]) - floor,
        "worst_given_coordinate": given_worst,
        "worst_given_coordinate_p": given_p,
        "worst_given_coordinate_effect_excess": given_effect - floor,
        "henze_zirkler": hz,
        "henze_zirkler_p": mt.hz_pvalue(hz, hz_rows, hz_k),
        "henze_zirkler_dim": hz_k,
        "henze_zirkler_rows": hz_rows,
    }
    if view == "raw":
        keys = ("radial_b2", "radial_z", "radial_p", "radial_kurtosis")
        out |= dict(zip(keys, radial_test(z), strict=True))
    power = relevant_power(m, k, view, alpha)
    null = {"gaussian_power_relevant": power, **tails_null}
    if power < 0.5:
        null["gaussian_n_for_power"] = rows_for_power(rank, view, m, alpha)
    return out, null


def relevant_power(m: int, k: int, view: str, alpha: float = 0.05) -> float:
    """The chance that the decision at ``alpha`` rejects k iid t10 coordinates of m rows."""
    if m <= TABLE_MAX_ROWS and alpha == 0.05:
        return grid_interp(POWER_FILE, M_GRID, K_GRID, m, k, (view,))
    tests = 6 if view == "raw" else 5
    power = count_power(m, k, alpha / tests)
    if view == "raw":
        power = max(power, radial_power(m, k, alpha / tests))
    return power


def rows_for_power(rank: int, view: str, start: int, alpha: float = 0.05) -> int | None:
    """The smallest n (growing by half) with power >= 1/2 (None beyond 10^7)."""
    n = max(start, 20)
    while n <= 10_000_000:
        if relevant_power(n, min(rank, max((n - 1) // 2, 1)), view, alpha) >= 0.5:
            return n
        n = int(n * 1.5) + 1
    return None


def count_power(m: int, k: int, level: float) -> float:
    """Binomial power of the AD or DP pass-count test at ``level`` against t10 coordinates."""
    ref = reference(m, 1, "raw")
    row = table_row(m)
    power = 0.0
    for w in ("ad", "dp"):
        ok = np.flatnonzero(special.bdtr(np.arange(k + 1), k, row[f"{w}_rate"]) <= level)
        if ok.size:
            power = max(power, float(special.bdtr(int(ok[-1]), k, getattr(ref, f"alt_{w}_rate"))))
    return power


def _t_moment(order: int, df: int = ALT_DF) -> float:
    """E t^order of a unit-variance Student t (order even, < df)."""
    r = order // 2
    raw = df**r * math.gamma(r + 0.5) * math.gamma(df / 2 - r)
    return raw / (math.sqrt(math.pi) * math.gamma(df / 2)) / (df / (df - 2)) ** r


def radial_power(m: int, k: int, level: float) -> float:
    """Power of the two-sided b2 test at ``level`` against k iid unit-variance t10 coordinates."""
    mu4, mu6, mu8 = _t_moment(4), _t_moment(6), _t_moment(8)
    c2, c3 = mu4 - 1, mu6 - 3 * mu4 + 2
    c4 = mu8 - 4 * mu6 + 6 * mu4 - 3
    var_d4 = 4 * k**3 * c2 + k * c4 + 3 * k * (k - 1) * c2**2 - (k * c2) ** 2 + 4 * k**2 * c3
    crit = float(special.ndtri(1 - level / 2)) * math.sqrt(max(mt.gaussian_moments(m, k)[2], 0.0))
    return float(special.ndtr((k * (mu4 - 3) - crit) / math.sqrt(var_d4 / m)))
