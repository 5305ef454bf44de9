"""Tests of "uniform on the sphere?" (InfoNCE's ideal) on the L2-normalised rows.

- Rayleigh: n d ||mean u||^2 (a preferred direction); Bingham: n d (d+2)/2 (tr T^2 - 1/d) with
  T the scatter matrix (anisotropy). Both are degenerate U-statistics with pairwise
  uncorrelated terms under uniformity, so their exact mean and variance hold at every n and d,
  and they keep their power at large d, where per-coordinate tests of the sphere's coordinates
  see nothing (:mod:`.sphere` refers them to a scaled chi-square with those moments).
- ``power_relevant``: the chance that Bingham's test catches the relevant departure, the
  normalised rows of a Gaussian with variances 1 and 2 (half the coordinates each), whose
  scatter eigenvalues sit 1/3 off 1/d: noncentrality about n (d + 2) / 18 (normal approximation).

Rows of zero norm have no direction and are left out. Only the first two moments are tested: a
distribution with the sphere's mean and scatter but other structure (antipodal clusters on the
axes, for instance) passes; the Wang-Isola uniformity in ``--detail`` looks further.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from infogauss_cli.diagnostics.sphere import exact_chi2_p, rayleigh_from_mean
from infogauss_cli.diagnostics.validate import l2_normalise


@dataclass(frozen=True)
class SphereTests:
    """Rayleigh and Bingham on ``m`` unit rows in ``d`` dimensions (``zero_rows`` left out)."""

    m: int
    d: int
    rayleigh_p: float
    bingham_p: float
    mean_norm: float
    power_relevant: float
    zero_rows: int = 0

    def pvalues(self) -> dict[str, float]:
        """The finite p-values the sphere call combines (Bonferroni)."""
        out = {"rayleigh": self.rayleigh_p, "bingham": self.bingham_p}
        return {k: v for k, v in out.items() if math.isfinite(v)}


def sphere_tests(x: np.ndarray, *, alpha: float = 0.05) -> SphereTests:
    """Rayleigh and Bingham of the L2-normalised rows of ``x`` (the joint tests' rows,
    :func:`~.gaussian.joint_sample`)."""
    a = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1)
    live = norms > 0
    u = l2_normalise(a[live], norms[live])
    m, d = u.shape
    if m < 2:
        nan = float("nan")
        return SphereTests(m, d, nan, nan, nan, 0.0, int((~live).sum()))
    mean = u.mean(axis=0)
    ray = rayleigh_from_mean(mean, m)
    return SphereTests(
        m=m,
        d=d,
        rayleigh_p=ray.pvalue,
        bingham_p=bingham_p(u),
        mean_norm=ray.mean_norm,
        power_relevant=bingham_power(m, d, alpha / 2),
        zero_rows=int((~live).sum()),
    )


def bingham_p(u: np.ndarray) -> float:
    """Bingham's p of unit rows u (m, d): tr T^2 from the smaller of the Gram (m x m) and the
    scatter (d x d) matrix, no spectrum (:func:`~.sphere.scatter` also gives the spectrum)."""
    m, d = u.shape
    if d < 2:
        return float("nan")
    gram = u @ u.T if m < d else u.T @ u
    tr2 = float(np.einsum("ij,ij->", gram, gram)) / (m * m)
    f = (d - 1) * (d + 2) / 2.0
    return exact_chi2_p(m * d * (d + 2) / 2.0 * (tr2 - 1.0 / d), f, m)


def bingham_power(m: int, d: int, level: float) -> float:
    """Chance that Bingham's test at ``level`` rejects the relevant anisotropy (see the module
    docstring): normal approximation with the null's standard deviation."""
    if d < 2:
        return 0.0
    from scipy.special import chdtri, ndtr

    f = (d - 1) * (d + 2) / 2
    c = (m - 1) / m
    crit = c * float(chdtri(f / c, level))  # the scaled chi-square's upper point
    noncentrality = m * (d + 2) / 18
    return float(ndtr((f + noncentrality - crit) / math.sqrt(2 * f * c)))


def sphere_metrics(t: SphereTests) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``metrics`` and ``null`` entries of the sphere tests."""
    metrics = {
        "sphere_rows": t.m,
        "sphere_zero_rows": t.zero_rows,
        "sphere_rayleigh_p": t.rayleigh_p,
        "sphere_bingham_p": t.bingham_p,
        "sphere_mean_norm": t.mean_norm,
    }
    return metrics, {"sphere_power_relevant": t.power_relevant}


__all__ = ["SphereTests", "bingham_p", "bingham_power", "sphere_metrics", "sphere_tests"]
