"""The ``--detail`` suite: rotation-invariant, sphere-level and calibrated diagnostics.

Two parts, so that ``--view both`` computes the view-independent part once:

- :func:`sphere_detail` (on the L2-normalised rows, whatever the view): random-projection
  tests, Wang-Isola uniformity, Rayleigh, Bingham and the spectrum, Mardia on a k-dim projection.
- :func:`calibration_detail` (on the tested view of one :class:`~.diagnose.Diagnosis`): null
  p-values of the compliances against the view's reference, Benjamini-Hochberg count and KS of
  the DP p-values calibrated by Monte Carlo at this n (and d), bootstrap CIs.

:func:`detail` runs both on a matrix (subsampled like :func:`~.diagnose.diagnose`);
:func:`detail_metrics` / :func:`detail_null` flatten them into the report's ``metrics`` / ``null``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from infogauss_cli.diagnostics.blocks import take_rows
from infogauss_cli.diagnostics.calibration import (
    FDR_Q,
    BootstrapCI,
    bh_rejected,
    bootstrap_compliance,
    ks_uniform,
)
from infogauss_cli.diagnostics.diagnose import Diagnosis, diagnose, reference_dict
from infogauss_cli.diagnostics.mardia import (
    DEFAULT_MARDIA_DIM,
    DEFAULT_MARDIA_REPS,
    DEFAULT_MARDIA_ROWS,
    MardiaResult,
    mardia,
)
from infogauss_cli.diagnostics.projections import (
    DEFAULT_PROJECTIONS,
    ProjectionTests,
    projection_tests,
)
from infogauss_cli.diagnostics.reference import Reference, reference
from infogauss_cli.diagnostics.sphere import (
    DEFAULT_UNIFORMITY_ROWS,
    Rayleigh,
    Scatter,
    Uniformity,
    rayleigh_from_mean,
    scatter_from_moments,
    sphere_moments,
    uniformity,
)
from infogauss_cli.diagnostics.validate import (
    View,
    apply_view,
    check_nonzero,
    l2_normalise,
    row_norms,
    subsample,
    validate_matrix,
)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True, eq=False)
class SphereDetail:
    """View-independent detail of one (sub)sampled matrix, all on its L2-normalised rows."""

    projections: ProjectionTests
    uniformity: Uniformity
    rayleigh: Rayleigh
    scatter: Scatter
    mardia: MardiaResult | None


@dataclass(frozen=True, eq=False)
class CalibrationDetail:
    """Calibration of one view's per-coordinate tests."""

    ad_null_p: float
    dp_null_p: float
    bh_rejected: int
    bh_q: float
    ks_statistic: float
    ks_p: float
    bootstrap: BootstrapCI | None


@dataclass(frozen=True, eq=False)
class Detail:
    """Everything ``--detail`` adds to one row."""

    sphere: SphereDetail
    calibration: CalibrationDetail

    def metrics(self) -> dict[str, Any]:
        return detail_metrics(self.sphere, self.calibration)

    def null_dict(self) -> dict[str, Any]:
        return detail_null(self.sphere)


def sphere_detail(
    x: np.ndarray,
    *,
    seed: int = 0,
    projections: int = DEFAULT_PROJECTIONS,
    uniformity_rows: int | None = DEFAULT_UNIFORMITY_ROWS,
    mardia_dim: int = DEFAULT_MARDIA_DIM,
    mardia_rows: int | None = DEFAULT_MARDIA_ROWS,
    mardia_reps: int = DEFAULT_MARDIA_REPS,
    workers: int | None = None,
    budget: int | None = None,
) -> SphereDetail:
    """The view-independent detail of a finite (n, d) matrix (rows used as given: subsample
    first). Mardia is skipped (None) when there are too few rows for its dimension.

    Memory: no normalised copy of the matrix. The row norms, the mean and scatter (Rayleigh,
    Bingham, spectrum) and the projections are made in row blocks (``x`` may be
    memory-mapped; the projections within ``budget``, see :func:`projection_tests`);
    uniformity and Mardia read only their seeded subsamples of rows (2,000 and 1,000 rows by
    default, as before)."""
    x = np.asarray(x)
    n, d = x.shape
    norms = row_norms(x)
    check_nonzero(norms)
    md = None
    if n > 2 * min(mardia_dim, d) + 2 and mardia_reps > 0:
        u_m = _unit_rows(x, norms, mardia_rows, [seed, 0x3A7])
        md = mardia(u_m, k=mardia_dim, max_rows=None, reps=mardia_reps, seed=seed)
    mean, scatter_t = sphere_moments(x, norms)
    tests = projection_tests(
        x, k=projections, seed=seed, workers=workers, budget=budget, norms=norms
    )
    return SphereDetail(
        projections=tests,
        uniformity=uniformity(
            _unit_rows(x, norms, uniformity_rows, [seed, 0x5F3]), max_rows=None, seed=seed
        ),
        rayleigh=rayleigh_from_mean(mean, n),
        scatter=scatter_from_moments(scatter_t, mean, n),
        mardia=md,
    )


def _unit_rows(
    x: np.ndarray, norms: np.ndarray, max_rows: int | None, seed: list[int]
) -> np.ndarray:
    """The L2-normalised rows of the seeded subsample of at most ``max_rows`` rows that
    :func:`~.sphere.uniformity` and :func:`~.mardia.mardia` draw (``seed``: their stream)."""
    n = x.shape[0]
    if max_rows is None or n <= max_rows:
        return l2_normalise(x, norms)
    idx = np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
    return l2_normalise(take_rows(x, idx), norms[idx])


def calibration_detail(
    diag: Diagnosis,
    tested: np.ndarray | None = None,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    q: float = FDR_Q,
    workers: int | None = None,
) -> CalibrationDetail:
    """Calibration of ``diag``'s compliances against the reference of its view (live
    coordinates only); ``tested`` (the matrix its tests saw) is needed only for the bootstrap
    (``bootstrap`` resamples; 0 = off). The DP p-values are first calibrated to the
    reference's own simulated p-value distribution at this n (and d): P_ref(P <= p), U(0, 1)
    under the reference, then counted by Benjamini-Hochberg and tested for uniformity (KS)."""
    ref = diag.reference
    live = np.ones(diag.d, bool)
    live[list(diag.dead_columns)] = False
    cal = ref.calibrate_p(diag.dp.pvalue[live])
    ks_d, ks_p = ks_uniform(cal)
    boot = None
    if bootstrap > 0:
        if tested is None:
            raise ValueError("the bootstrap needs the tested matrix")
        boot = bootstrap_compliance(tested, bootstrap, seed=seed, workers=workers)
    d = diag.d_live
    return CalibrationDetail(
        ad_null_p=compliance_ref_p(ref, "ad", diag.ad.compliance, d),
        dp_null_p=compliance_ref_p(ref, "dp", diag.dp.compliance, d),
        bh_rejected=bh_rejected(cal, q),
        bh_q=q,
        ks_statistic=ks_d,
        ks_p=ks_p,
        bootstrap=boot,
    )


def compliance_ref_p(ref: Reference, which: str, compliance: float, trials: int) -> float:
    """Two-sided p-value of a compliance over ``trials`` coordinates under the reference
    (beta-binomial count: the Monte Carlo uncertainty of the rate included): the probability
    of every count no more likely than the observed one (Sterne's exact test, as
    scipy.stats.binomtest). Doubling the smaller tail made a few trials far too conservative
    (never below 0.05 with 8 trials of rate 0.95); the mid-p overshot (7.6% at 64)."""
    if compliance is None or not math.isfinite(compliance) or trials < 1:
        return float("nan")
    k = round(compliance * trials)
    pmf = np.diff(ref.count_cdf(which, trials), prepend=0.0)
    return min(1.0, float(np.sum(pmf[pmf <= pmf[k] * (1 + 1e-7)])))


def projection_metrics(p: ProjectionTests) -> dict[str, Any]:
    """The projection keys of ``metrics`` (also used by the projections verdict alone); the
    compliances' null p-values are against the uniform sphere at (n, d), from the first
    orthonormal block of min(K, d) projections (:func:`projection_trials`)."""
    ref = reference(p.n, p.d, "l2")
    t = projection_trials(p)
    ad_first = float(np.mean(p.ad.statistic[:t] < p.ad.critical))  # NaN (constant): a failure
    dp_first = float(np.mean(p.dp.pvalue[:t] > p.dp.alpha))
    return {
        "proj_k": p.k,
        "proj_ad_compliance": _num(p.ad.compliance),
        "proj_dp_compliance": _num(p.dp.compliance),
        "proj_ad_mean": _num(p.ad.mean),
        "proj_dp_mean_p": _num(p.dp.mean_p),
        "proj_var_compliance": _num(p.var_compliance),
        "proj_var_p": _num(p.var_p),
        "proj_ad_compliance_null_p": _num(compliance_ref_p(ref, "ad", ad_first, t)),
        "proj_dp_compliance_null_p": _num(compliance_ref_p(ref, "dp", dp_first, t)),
    }


def projection_trials(p: ProjectionTests) -> int:
    """Trials behind the projections' null p-values: the first orthonormal block, min(K, d)
    projections, distributed exactly as min(K, d) coordinates of the uniform sphere. Blocks
    beyond it re-read the same rows: their passes correlate with the first block's in a way
    that depends on the data, so counting all K as trials against a Binomial(min(K, d)) (as
    before) made the p-values far too large (never below 0.05)."""
    return min(p.k, p.d)


def projection_null(p: ProjectionTests, alpha: float = 0.05) -> dict[str, Any]:
    """``null.proj_*``: the uniform sphere at (n, d) over min(K, d) independent projections,
    with the calibrated minimum compliances (for ``--verdict projections``)."""
    out = reference_dict(reference(p.n, p.d, "l2"), projection_trials(p), alpha, prefix="proj_")
    return {k: v for k, v in out.items() if not k.startswith("proj_effect")}


def detail_metrics(s: SphereDetail, c: CalibrationDetail | None = None) -> dict[str, Any]:
    """Flat ``metrics`` keys (JSON-safe: None for undefined values); see docs/diagnostics.md."""
    sc = s.scatter
    out: dict[str, Any] = {
        **projection_metrics(s.projections),
        "uniformity": _num(s.uniformity.value),
        "uniformity_ideal": _num(s.uniformity.ideal),
        "uniformity_z": _num(s.uniformity.z),
        "uniformity_rows": s.uniformity.rows,
        "mean_norm": _num(s.rayleigh.mean_norm),
        "rayleigh_p": _num(s.rayleigh.pvalue),
        "bingham_p": _num(sc.bingham_p),
        "effective_rank": _num(sc.effective_rank),
        "participation_ratio": _num(sc.participation_ratio),
        "condition_number": _num(sc.condition_number),
        "top_pc_share": _num(sc.top_pc_share),
    }
    if s.mardia is not None:
        m = s.mardia
        out |= {
            "mardia_skew": _num(m.b1),
            "mardia_kurt": _num(m.b2),
            "mardia_skew_p": _num(m.skew_p),
            "mardia_kurt_p": _num(m.kurt_p),
            "mardia_k": m.k,
            "mardia_n": m.n,
        }
    if c is not None:
        out |= {
            "ad_compliance_null_p": _num(c.ad_null_p),
            "dp_compliance_null_p": _num(c.dp_null_p),
            "bh_rejected": c.bh_rejected,
            "ks_p_uniform": _num(c.ks_p),
        }
        if c.bootstrap is not None:
            b = c.bootstrap
            out |= {
                "ad_compliance_ci": [_num(v) for v in b.ad_ci],
                "dp_compliance_ci": [_num(v) for v in b.dp_ci],
                "bootstrap_reps": b.reps,
            }
    return out


def detail_null(s: SphereDetail, alpha: float = 0.05) -> dict[str, Any]:
    """Extra ``null`` keys: what the detail metrics are under uniformity on the sphere."""
    p, d, n = s.projections, s.projections.d, s.projections.n
    return {
        **projection_null(p, alpha),
        "uniformity": _num(s.uniformity.ideal),
        "mean_norm": _num(math.sqrt(1.0 / n)),
        "effective_rank": float(d),
        "participation_ratio": float(d),
        "top_pc_share": 1.0 / d,
    }


def detail(
    x: object,
    *,
    view: View = "l2",
    n: int | None = None,
    seed: int = 0,
    projections: int = DEFAULT_PROJECTIONS,
    bootstrap: int = 0,
    workers: int | None = None,
    diagnosis: Diagnosis | None = None,
) -> Detail:
    """The whole detail suite on ``x`` (n, d): rows subsampled as :func:`diagnose` does (same
    ``n`` and ``seed``); calibration of ``diagnosis`` (computed if not given)."""
    a = validate_matrix(x)
    sub, _ = subsample(a, n, seed)
    diag = diagnosis or diagnose(a, view=view, n=n, seed=seed, workers=workers)
    tested = apply_view(sub, diag.view) if bootstrap > 0 else None  # type: ignore[arg-type]
    return Detail(
        sphere_detail(sub, seed=seed, projections=projections, workers=workers),
        calibration_detail(diag, tested, bootstrap=bootstrap, seed=seed, workers=workers),
    )


__all__ = [
    "CalibrationDetail",
    "Detail",
    "SphereDetail",
    "calibration_detail",
    "compliance_ref_p",
    "detail",
    "detail_metrics",
    "detail_null",
    "projection_metrics",
    "projection_null",
    "sphere_detail",
]
