"""Tests of "Gaussian?" whose null is a Gaussian of any mean and covariance: on the rows'
decorrelated coordinates ``Z = sqrt(m - 1) U_k`` (under any Gaussian each column is exactly a
standardised iid Gaussian sample): pass counts, worst coordinate, radial b2, Henze-Zirkler, and
the worst of the view's own coordinates (see docs/diagnostics.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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


@dataclass(frozen=True, eq=False)
class GaussianTests:
    """What the decorrelated tests found on one view of m rows: ``rank`` of the covariance,
    ``k`` coordinates tested (0: ``collapsed``), pass shares and their lower-tail binomial
    ``*_count_p``, ``worst_p`` (Bonferroni over Stephens' A*^2 p), Henze-Zirkler, the effect
    (mean QQ distance) and its null at m rows, ``given_*``: the worst of the view's own
    coordinates, and ``radial_*`` (raw view): b2, z, p and the implied excess kurtosis."""

    view: str
    m: int
    d: int
    rank: int
    k: int
    ad_compliance: float
    dp_compliance: float
    ad_count_p: float
    dp_count_p: float
    worst_p: float
    worst_coordinate: int
    hz: float
    hz_p: float
    hz_k: int
    hz_rows: int
    effect: float
    effect_null: float
    worst_effect: float
    given_p: float = 1.0
    given_coordinate: int = -1
    given_effect: float = float("nan")
    given_w1: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    radial_b2: float | None = None
    radial_z: float | None = None
    radial_p: float | None = None
    radial_kurtosis: float | None = None

    @property
    def collapsed(self) -> bool:
        return self.k == 0

    def pvalues(self) -> dict[str, float]:
        """The p-values the verdict combines (Bonferroni), by test name."""
        if self.collapsed:
            return {}
        out = {
            "ad_count": self.ad_count_p,
            "dp_count": self.dp_count_p,
            "worst_coordinate": self.worst_p,
            "worst_given_coordinate": self.given_p,
            "henze_zirkler": self.hz_p,
        }
        if self.radial_p is not None:
            out["radial"] = self.radial_p
        return out


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
    """The decorrelated tests of one view of the (m, d) rows ``x`` (:func:`joint_sample`)."""
    a = np.asarray(x)
    if view == "l2":
        a = l2_normalise(a)
    m, d = a.shape
    z, rank = decorrelate(a)
    k = z.shape[1]
    null_effect = gaussian_effect(m)[0]
    if k == 0:
        nan = float("nan")
        return GaussianTests(view, m, d, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, -1, nan, nan, 0, 0,
                             nan, null_effect, nan)  # fmt: skip
    res = column_tests(z)
    row = table_row(m)
    ad_pass = int(np.count_nonzero(res.a2star < AD_CRITICAL_5PCT))
    dp_pass = int(np.count_nonzero(res.pvalue > DP_ALPHA))
    each = ad_pvalue(res.a2star)
    worst = int(np.argmin(each))
    given = column_tests(a, dp=False)
    live = np.flatnonzero(~dead_mask(given.std, given.constant))
    given_each = ad_pvalue(given.a2star[live])
    given_worst = int(live[np.argmin(given_each)]) if live.size else -1
    rng = np.random.default_rng([seed, 0x42A])
    hz_rows = min(m, HZ_ROWS)
    pick = np.sort(rng.choice(m, hz_rows, replace=False)) if hz_rows < m else slice(None)
    hz_k = min(k, HZ_DIM)
    hz, hz_p = hz_test(z[pick, :hz_k])
    radial = radial_test(z) if view == "raw" else (None, None, None, None)
    return GaussianTests(
        view=view,
        m=m,
        d=d,
        rank=rank,
        k=k,
        ad_compliance=ad_pass / k,
        dp_compliance=dp_pass / k,
        ad_count_p=float(special.bdtr(ad_pass, k, row["ad_rate"])),
        dp_count_p=float(special.bdtr(dp_pass, k, row["dp_rate"])),
        worst_p=float(min(1.0, k * each[worst])),
        worst_coordinate=worst,
        hz=hz,
        hz_p=hz_p,
        hz_k=hz_k,
        hz_rows=hz_rows,
        effect=float(np.mean(res.w1)),
        effect_null=null_effect,
        worst_effect=float(res.w1[worst]),
        given_p=float(min(1.0, live.size * given_each.min())) if live.size else 1.0,
        given_coordinate=given_worst,
        given_effect=float(given.w1[given_worst]) if live.size else float("nan"),
        given_w1=given.w1[live],
        radial_b2=radial[0],
        radial_z=radial[1],
        radial_p=radial[2],
        radial_kurtosis=radial[3],
    )


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
    excess, lo, hi = effect_excess(g.given_w1, g.effect_null)
    metrics: dict[str, Any] = {
        "effect_excess": excess if math.isfinite(excess) else None,
        "effect_excess_interval": [lo, hi] if math.isfinite(excess) else None,
        "decorrelated_rows": g.m,
        "decorrelated_d": g.d,
        "decorrelated_rank": g.rank,
        "decorrelated_k": g.k,
    }
    if not g.collapsed:
        metrics |= {
            "decorrelated_ad_compliance": g.ad_compliance,
            "decorrelated_dp_compliance": g.dp_compliance,
            "decorrelated_ad_count_p": g.ad_count_p,
            "decorrelated_dp_count_p": g.dp_count_p,
            "decorrelated_effect_excess": g.effect - g.effect_null,
            "worst_coordinate": g.worst_coordinate,
            "worst_coordinate_p": g.worst_p,
            "worst_coordinate_effect_excess": g.worst_effect - g.effect_null,
            "worst_given_coordinate": g.given_coordinate,
            "worst_given_coordinate_p": g.given_p,
            "worst_given_coordinate_effect_excess": g.given_effect - g.effect_null,
            "henze_zirkler": g.hz,
            "henze_zirkler_p": g.hz_p,
            "henze_zirkler_dim": g.hz_k,
            "henze_zirkler_rows": g.hz_rows,
        }
        if g.radial_p is not None:
            metrics |= {
                "radial_b2": g.radial_b2,
                "radial_z": g.radial_z,
                "radial_p": g.radial_p,
                "radial_kurtosis": g.radial_kurtosis,
            }
    power = relevant_power(g.m, g.k, g.view, alpha) if not g.collapsed else 1.0
    null: dict[str, Any] = {"gaussian_power_relevant": power}
    if power < 0.5 and not g.collapsed:
        null["gaussian_n_for_power"] = rows_for_power(g.rank, g.view, g.m, alpha)
    return metrics, null
