"""The ``--detail`` suite: :func:`sphere_detail` (view-independent) and :func:`calibration_detail`
(one view: null p-values, Benjamini-Hochberg, KS, bootstrap)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infogauss_cli.diagnostics import mardia as mt
from infogauss_cli.diagnostics import sphere as sp
from infogauss_cli.diagnostics import validate as va
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.diagnosis import Diagnosis, num, reference_dict
from infogauss_cli.diagnostics.normality import AD_CRITICAL_5PCT, DP_ALPHA
from infogauss_cli.diagnostics.reference import Reference, reference

FDR_Q = 0.05


@dataclass(frozen=True, eq=False)
class BootstrapCI:
    """Intervals of AD and DP compliance, and their values on each row resample."""

    ad_ci: tuple[float, float]
    dp_ci: tuple[float, float]
    ad_samples: np.ndarray = field(repr=False)
    dp_samples: np.ndarray = field(repr=False)


def bh_rejected(pvalues: np.ndarray, q: float = FDR_Q) -> int:
    """Number of hypotheses Benjamini-Hochberg rejects at FDR ``q`` (NaN: not tested)."""
    p = np.asarray(pvalues, dtype=np.float64)
    p = np.sort(p[np.isfinite(p)])
    m = p.size
    ok = np.flatnonzero(p <= q * np.arange(1, m + 1) / m)
    return int(ok[-1] + 1) if ok.size else 0


def ks_uniform(pvalues: np.ndarray) -> tuple[float, float]:
    """(D, p) of the KS test of the finite p-values against U(0, 1)."""
    p = np.asarray(pvalues, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return float("nan"), float("nan")
    from scipy import stats

    res = stats.kstest(p, "uniform")
    return float(res.statistic), float(res.pvalue)


def bootstrap_compliance(x: np.ndarray, reps: int, *, seed: int = 0) -> BootstrapCI:
    """95% percentile intervals of AD and DP compliance over ``reps`` row resamples, re-centred."""
    x = np.asarray(x)
    n, d = x.shape

    def compliances(a: np.ndarray) -> tuple[float, float]:
        r = column_tests(a)
        ad = np.count_nonzero(r.a2star < AD_CRITICAL_5PCT) / d
        return ad, np.count_nonzero(r.pvalue > DP_ALPHA) / d

    est = compliances(x)
    rng = np.random.default_rng([seed, 0xB007])
    ad, dp = np.array([compliances(x[rng.integers(0, n, n)]) for _ in range(reps)]).T

    def ci(e: float, s: np.ndarray) -> tuple[float, float]:
        lo = (1 - 0.95) / 2
        a, b = np.clip(np.quantile(s, [lo, 1 - lo]) + (e - float(s.mean())), 0, 1)
        return float(a), float(b)

    return BootstrapCI(ci(est[0], ad), ci(est[1], dp), ad, dp)


@dataclass(frozen=True, eq=False)
class SphereDetail:
    """View-independent detail of one (sub)sampled matrix, all on its L2-normalised rows."""

    projections: sp.ProjectionTests
    uniformity: sp.Uniformity
    rayleigh: sp.Rayleigh
    scatter: sp.Scatter
    mardia: mt.MardiaResult | None


def sphere_detail(
    x: np.ndarray,
    *,
    seed: int = 0,
    projections: int = sp.DEFAULT_PROJECTIONS,
    budget: int | None = None,
) -> SphereDetail:
    """The view-independent detail of a finite (n, d) matrix (Mardia None for too few rows)."""
    x = np.asarray(x)
    n, d = x.shape
    norms = va.row_norms(x)
    va.check_nonzero(norms)
    md = None
    if n > 2 * min(mt.DEFAULT_MARDIA_DIM, d) + 2:
        md = mt.mardia(_unit_rows(x, norms, mt.DEFAULT_MARDIA_ROWS, [seed, 0x3A7]), seed=seed)
    mean, scatter_t = sp.sphere_moments(x, norms)
    tests = sp.projection_tests(x, k=projections, seed=seed, budget=budget)
    u = _unit_rows(x, norms, sp.DEFAULT_UNIFORMITY_ROWS, [seed, 0x5F3])
    uni = sp.uniformity(u, max_rows=None, seed=seed)
    return SphereDetail(tests, uni, sp.rayleigh(mean, n), sp.scatter(scatter_t, mean, n), md)


def _unit_rows(x: np.ndarray, norms: np.ndarray, max_rows: int, seed: list[int]) -> np.ndarray:
    """The L2-normalised rows of a seeded subsample of at most ``max_rows`` rows."""
    n = x.shape[0]
    if n <= max_rows:
        return va.l2_normalise(x, norms)
    idx = np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
    return va.l2_normalise(va.take_rows(x, idx), norms[idx])


def calibration_detail(
    diag: Diagnosis, tested: np.ndarray | None = None, *, bootstrap: int = 0, seed: int = 0
) -> dict[str, Any]:
    """``metrics`` of ``diag``'s calibration to its reference (``tested``: bootstrap's rows)."""
    ref, d = diag.reference, diag.d_live
    cal = ref.calibrate_p(np.delete(diag.dp.pvalue, list(diag.dead_columns)))
    out: dict[str, Any] = {
        "ad_compliance_null_p": num(compliance_ref_p(ref, "ad", diag.ad.compliance, d)),
        "dp_compliance_null_p": num(compliance_ref_p(ref, "dp", diag.dp.compliance, d)),
        "bh_rejected": bh_rejected(cal),
        "ks_p_uniform": num(ks_uniform(cal)[1]),
    }
    if bootstrap:
        b = bootstrap_compliance(tested, bootstrap, seed=seed)
        out |= {"ad_compliance_ci": [num(v) for v in b.ad_ci]}
        out |= {"dp_compliance_ci": [num(v) for v in b.dp_ci], "bootstrap_reps": bootstrap}
    return out


def compliance_ref_p(ref: Reference, which: str, compliance: float, trials: int) -> float:
    """Two-sided p-value of a compliance over ``trials`` under the reference's beta-binomial."""
    if compliance is None or not math.isfinite(compliance) or trials < 1:
        return float("nan")
    k = round(compliance * trials)
    pmf = np.diff(ref.count_cdf(which, trials), prepend=0.0)
    return min(1.0, float(np.sum(pmf[pmf <= pmf[k] * (1 + 1e-7)])))


def projection_metrics(p: sp.ProjectionTests) -> dict[str, Any]:
    """The projection keys of ``metrics`` (null p-values over the first orthonormal block)."""
    ref = reference(p.n, p.d, "l2")
    t = min(p.k, p.d)
    ad_first = float(np.mean(p.ad.statistic[:t] < AD_CRITICAL_5PCT))  # NaN (constant): a failure
    dp_first = float(np.mean(p.dp.pvalue[:t] > DP_ALPHA))
    return {
        "proj_k": p.k,
        "proj_ad_compliance": num(p.ad.compliance),
        "proj_dp_compliance": num(p.dp.compliance),
        "proj_ad_mean": num(p.ad.mean),
        "proj_dp_mean_p": num(p.dp.mean_p),
        "proj_var_compliance": num(p.var_compliance),
        "proj_var_p": num(p.var_p),
        "proj_ad_compliance_null_p": num(compliance_ref_p(ref, "ad", ad_first, t)),
        "proj_dp_compliance_null_p": num(compliance_ref_p(ref, "dp", dp_first, t)),
    }


def projection_null(p: sp.ProjectionTests, alpha: float = 0.05) -> dict[str, Any]:
    """``null.proj_*``: the uniform sphere at (n, d) over the first orthonormal block."""
    out = reference_dict(reference(p.n, p.d, "l2"), min(p.k, p.d), alpha, prefix="proj_")
    return {k: v for k, v in out.items() if not k.startswith("proj_effect")}


def detail_metrics(s: SphereDetail) -> dict[str, Any]:
    """Flat ``metrics`` keys of the view-free detail (None for undefined values)."""
    out: dict[str, Any] = {
        **projection_metrics(s.projections),
        "uniformity": num(s.uniformity.value),
        "uniformity_ideal": num(s.uniformity.ideal),
        "uniformity_z": num(s.uniformity.z),
        "uniformity_rows": s.uniformity.rows,
        "mean_norm": num(s.rayleigh.mean_norm),
        "rayleigh_p": num(s.rayleigh.pvalue),
    }
    keys = ("bingham_p", "effective_rank", "participation_ratio", "condition_number")
    out |= {k: num(getattr(s.scatter, k)) for k in (*keys, "top_pc_share")}
    if (m := s.mardia) is not None:
        out |= {"mardia_skew": num(m.b1), "mardia_kurt": num(m.b2), "mardia_k": m.k}
        out |= {"mardia_skew_p": num(m.skew_p), "mardia_kurt_p": num(m.kurt_p), "mardia_n": m.n}
    return out


def detail_null(s: SphereDetail, alpha: float = 0.05) -> dict[str, Any]:
    """Extra ``null`` keys: what the detail metrics are under uniformity on the sphere."""
    p, d, n = s.projections, s.projections.d, s.projections.n
    return {
        **projection_null(p, alpha),
        "uniformity": num(s.uniformity.ideal),
        "mean_norm": num(math.sqrt(1.0 / n)),
        "effective_rank": float(d),
        "participation_ratio": float(d),
        "top_pc_share": 1.0 / d,
    }
