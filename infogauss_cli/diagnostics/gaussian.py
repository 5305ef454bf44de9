"""Tests of "Gaussian?" whose null is a Gaussian of any mean and covariance: on the rows'
decorrelated coordinates ``Z = sqrt(m - 1) U_k`` (under any Gaussian each column is exactly a
standardised iid Gaussian sample): pass counts, worst coordinate, radial b2, Henze-Zirkler, and
the worst of the view's own coordinates (see docs/diagnostics.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.blocks import take_rows
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.diagnosis import dead_mask
from infogauss_cli.diagnostics.henze_zirkler import MAX_DIM as HZ_DIM
from infogauss_cli.diagnostics.henze_zirkler import MAX_ROWS as HZ_ROWS
from infogauss_cli.diagnostics.henze_zirkler import hz_test
from infogauss_cli.diagnostics.mardia import b2_skew, gaussian_moments, pearson3_cdf
from infogauss_cli.diagnostics.normality import AD_CRITICAL_5PCT, DP_ALPHA
from infogauss_cli.diagnostics.null import table_row
from infogauss_cli.diagnostics.power import relevant_power, rows_for_power
from infogauss_cli.diagnostics.reftable import gaussian_effect
from infogauss_cli.diagnostics.validate import l2_normalise

MAX_ROWS = 20_000
MAX_VALUES = 1 << 25  # rows x d held in float64 for the decomposition (256 MiB)
RANK_RTOL = 1e-10  # eigenvalues below this share of the largest are no variance


PVALUES = {  # the p-values the verdict combines (Bonferroni): test name -> metric
    "ad_count": "decorrelated_ad_count_p",
    "dp_count": "decorrelated_dp_count_p",
    "worst_coordinate": "worst_coordinate_p",
    "worst_given_coordinate": "worst_given_coordinate_p",
    "henze_zirkler": "henze_zirkler_p",
    "radial": "radial_p",
}


@dataclass(frozen=True)
class GaussianTests:
    """The decorrelated tests of one view of m rows: the report's ``metrics``, and the rank
    and ``k`` coordinates tested (0: ``collapsed``) that the power statement needs."""

    view: str
    m: int
    rank: int
    k: int
    metrics: dict[str, Any]

    @property
    def collapsed(self) -> bool:
        return self.k == 0

    def pvalues(self) -> dict[str, float]:
        """The p-values the verdict combines, by test name."""
        return {name: self.metrics[key] for name, key in PVALUES.items() if key in self.metrics}


def ad_pvalue(a2star: np.ndarray) -> np.ndarray:
    """Upper-tail p of the modified A*^2 (D'Agostino & Stephens 1986, Table 4.9; held at its
    value at A*^2 = 10 beyond)."""
    a = np.minimum(np.asarray(a2star, dtype=np.float64), 10.0)
    with np.errstate(over="ignore"):
        p = np.where(
            a >= 0.6,
            np.exp(1.2937 - 5.709 * a + 0.0186 * a * a),
            np.where(
                a > 0.34,
                np.exp(0.9177 - 4.279 * a - 1.38 * a * a),
                np.where(
                    a > 0.2,
                    1 - np.exp(-8.318 + 42.796 * a - 59.938 * a * a),
                    1 - np.exp(-13.436 + 101.14 * a - 223.73 * a * a),
                ),
            ),
        )
    return np.clip(p, 0.0, 1.0)


def decorrelate(x: np.ndarray) -> tuple[np.ndarray, int]:
    """(Z, rank): the top ``min(rank, (m - 1) // 2)`` principal coordinates of the (m, d)
    rows, centred and scaled to unit sample variance (``sqrt(m - 1) U_k``)."""
    a = np.asarray(x, dtype=np.float64)
    m, d = a.shape
    c = a - a.mean(axis=0)
    if d <= m:
        lam, v = np.linalg.eigh(c.T @ c)
    else:
        lam, v = np.linalg.eigh(c @ c.T)
    lam, v = lam[::-1], v[:, ::-1]
    top = float(lam[0]) if lam.size else 0.0
    rank = int(np.count_nonzero(lam > top * RANK_RTOL)) if top > 0 else 0
    k = min(rank, max((m - 1) // 2, 1))
    if k == 0:
        return np.empty((m, 0)), 0
    u = c @ (v[:, :k] / np.sqrt(lam[:k])) if d <= m else v[:, :k]
    return u * math.sqrt(m - 1), rank


def radial_test(z: np.ndarray) -> tuple[float, float, float, float]:
    """(b2, z, two-sided p, implied excess kurtosis) of Mardia's b2 of whitened rows z (m, k)
    against a Pearson type III with its exact mean and variance and tabulated skewness."""
    m, k = z.shape
    d2 = np.einsum("ij,ij->i", z, z) * (m / (m - 1))  # with the biased covariance
    b2 = float(np.mean(d2 * d2))
    _, mean, var = gaussian_moments(m, k)
    if var <= 0:
        return b2, 0.0, 1.0, (b2 - mean) / k
    f = pearson3_cdf(b2, mean, var, b2_skew(m, k))
    p = min(1.0, 2.0 * min(f, 1.0 - f))
    return b2, (b2 - mean) / math.sqrt(var), p, (b2 - mean) / k


def joint_sample(x: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """The rows the joint tests see: of the ``n`` rows :func:`~.validate.subsample` draws, at
    most MAX_ROWS (and MAX_VALUES values), seeded, in their original order."""
    rows = x.shape[0]
    idx = np.arange(rows)
    if n is not None and n < rows:
        idx = np.sort(
            np.random.default_rng(seed).choice(rows, size=int(n), replace=False, shuffle=False)
        )
    m = min(idx.size, MAX_ROWS, max(MAX_VALUES // max(x.shape[1], 1), 200))
    if m < idx.size:
        idx = np.sort(np.random.default_rng([seed, 0x6A55]).choice(idx, m, replace=False))
    return take_rows(x, idx) if idx.size < rows else np.asarray(x)


def gaussian_tests(x: np.ndarray, view: str = "raw", *, seed: int = 0) -> GaussianTests:
    """The decorrelated tests of one view of the (m, d) rows ``x`` (:func:`joint_sample`):
    pass counts against the binomial of the null table, the worst coordinate (Bonferroni over
    Stephens' p), Henze-Zirkler, the radial test (raw view) and the worst given coordinate."""
    a = l2_normalise(np.asarray(x)) if view == "l2" else np.asarray(x)
    m, d = a.shape
    z, rank = decorrelate(a)
    k = z.shape[1]
    out: dict[str, Any] = {"effect_excess": None, "effect_excess_interval": None}
    out |= {"decorrelated_rows": m, "decorrelated_d": d, "decorrelated_rank": rank}
    out["decorrelated_k"] = k
    if k == 0:
        return GaussianTests(view, m, 0, 0, out)
    null = gaussian_effect(m)[0]
    given = column_tests(a, dp=False)
    live = np.flatnonzero(~dead_mask(given.std, given.constant))
    excess, lo, hi = effect_excess(given.w1[live], null)
    if math.isfinite(excess):
        out |= {"effect_excess": excess, "effect_excess_interval": [lo, hi]}
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
    hz_rows, hz_k = min(m, HZ_ROWS), min(k, HZ_DIM)
    pick = np.sort(rng.choice(m, hz_rows, replace=False)) if hz_rows < m else slice(None)
    hz, hz_p = hz_test(z[pick, :hz_k])
    out |= {
        "decorrelated_ad_compliance": ad_pass / k,
        "decorrelated_dp_compliance": dp_pass / k,
        "decorrelated_ad_count_p": float(special.bdtr(ad_pass, k, row["ad_rate"])),
        "decorrelated_dp_count_p": float(special.bdtr(dp_pass, k, row["dp_rate"])),
        "decorrelated_effect_excess": float(np.mean(res.w1)) - null,
        "worst_coordinate": worst,
        "worst_coordinate_p": float(min(1.0, k * each[worst])),
        "worst_coordinate_effect_excess": float(res.w1[worst]) - null,
        "worst_given_coordinate": given_worst,
        "worst_given_coordinate_p": given_p,
        "worst_given_coordinate_effect_excess": given_effect - null,
        "henze_zirkler": hz,
        "henze_zirkler_p": hz_p,
        "henze_zirkler_dim": hz_k,
        "henze_zirkler_rows": hz_rows,
    }
    if view == "raw":
        keys = ("radial_b2", "radial_z", "radial_p", "radial_kurtosis")
        out |= dict(zip(keys, radial_test(z), strict=True))
    return GaussianTests(view, m, rank, k, out)


def effect_excess(w1: np.ndarray, null: float) -> tuple[float, float, float]:
    """Mean QQ distance of the coordinates above an iid Gaussian coordinate's at the same m,
    with a 95% interval over the coordinates."""
    w1 = w1[np.isfinite(w1)]
    if not w1.size:
        return float("nan"), float("nan"), float("nan")
    excess = float(w1.mean()) - null
    half = 1.96 * float(w1.std(ddof=1)) / math.sqrt(w1.size) if w1.size > 1 else 0.0
    return excess, excess - half, excess + half


def gaussian_metrics(
    g: GaussianTests, alpha: float = 0.05
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``metrics`` and ``null`` entries of the decorrelated tests."""
    power = relevant_power(g.m, g.k, g.view, alpha) if not g.collapsed else 1.0
    null: dict[str, Any] = {"gaussian_power_relevant": power}
    if power < 0.5 and not g.collapsed:
        null["gaussian_n_for_power"] = rows_for_power(g.rank, g.view, g.m, alpha)
    return dict(g.metrics), null
