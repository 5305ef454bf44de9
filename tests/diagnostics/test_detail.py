"""The --detail diagnostics: projections, sphere uniformity/isotropy, calibration, Mardia, pairs.

Each quantity is checked against an independent reference (scipy, numerical integration, the
naive formula) and for its behaviour on data whose answer is known.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate, stats

from infogauss_cli.diagnostics import diagnose, subsample
from infogauss_cli.diagnostics.mardia import mardia, mardia_batch, mardia_test
from infogauss_cli.diagnostics.reference import reference
from infogauss_cli.diagnostics.sphere import (
    bingham,
    pair_indices,
    paired_stats,
    projection_tests,
    random_directions,
    uniformity,
    uniformity_ideal,
)
from infogauss_cli.diagnostics.sphere import rayleigh as _rayleigh
from infogauss_cli.diagnostics.sphere import scatter as _scatter
from infogauss_cli.diagnostics.suite import (
    bh_rejected,
    bootstrap_compliance,
    calibration_detail,
    detail_metrics,
    detail_null,
    ks_uniform,
    sphere_detail,
)
from infogauss_cli.extract.result import Extraction
from infogauss_cli.pipelines.audit import paired_metrics
from tests.support.cli import DETAIL_KEYS


def sphere(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def rayleigh(u: np.ndarray):
    """Rayleigh's test of unit rows held in memory."""
    return _rayleigh(np.asarray(u, dtype=np.float64).mean(axis=0), u.shape[0])


def scatter(u: np.ndarray):
    """Bingham's test and the spectrum of unit rows held in memory."""
    a = np.asarray(u, dtype=np.float64)
    return _scatter(a.T @ a / a.shape[0], a.mean(axis=0), a.shape[0])


def orthogonal(d: int, seed: int) -> np.ndarray:
    return stats.ortho_group.rvs(d, random_state=seed)


# ---- projections ----------------------------------------------------------------------------
def test_directions_are_orthonormal_blocks():
    q = random_directions(16, 40, seed=3)
    assert q.shape == (16, 40)
    np.testing.assert_allclose(q[:, :16].T @ q[:, :16], np.eye(16), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(q, axis=0), 1.0)
    np.testing.assert_array_equal(q, random_directions(16, 40, seed=3))


def test_projection_tests_match_scipy_on_the_projected_columns():
    x = np.random.default_rng(1).standard_exponential((300, 20))
    q = random_directions(20, 5, seed=0)
    res = projection_tests(x, directions=q)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    p = u @ q * np.sqrt(20)
    corr = 1 + 0.75 / 300 + 2.25 / 300**2
    for j in range(5):
        a2 = stats.anderson(p[:, j], dist="norm", method="interpolate").statistic * corr
        assert res.ad.statistic[j] == pytest.approx(a2, rel=1e-9)
        assert res.dp.pvalue[j] == pytest.approx(stats.normaltest(p[:, j]).pvalue, rel=1e-9)
    np.testing.assert_allclose(res.columns, p[:, :5])


def test_projections_are_rotation_invariant():
    x = np.random.default_rng(2).standard_t(5, size=(500, 32))
    r = orthogonal(32, 7)
    q = random_directions(32, 32, seed=1)
    a = projection_tests(x, directions=q)
    b = projection_tests(x @ r, directions=r.T @ q)  # rotate data and directions: identical
    np.testing.assert_allclose(a.ad.statistic, b.ad.statistic, rtol=1e-8)
    np.testing.assert_allclose(a.dp.pvalue, b.dp.pvalue, rtol=1e-8, atol=1e-14)
    # rotating only the data: the same distribution over random directions
    c = projection_tests(x @ r, k=32, seed=1)
    assert abs(c.ad.mean - a.ad.mean) < 0.5 * a.ad.mean


def test_uniform_sphere_d512_passes_projections_and_uniformity():
    u = sphere(2000, 512, seed=4)
    p = projection_tests(u, k=256, seed=0)
    ref = reference(p.n, p.d, "l2")
    lo, hi = ref.band("ad", p.k)
    assert lo - 0.02 <= p.ad.compliance <= hi + 0.02
    lo, hi = ref.band("dp", p.k)
    assert lo - 0.02 <= p.dp.compliance <= hi + 0.02
    assert abs(p.ad.mean - ref.ad_mean) < 0.06
    assert p.var_compliance >= 0.9 and p.var_p > 1e-3
    un = uniformity(u, max_rows=2000)
    assert abs(un.z) < 4 and abs(un.value - un.ideal) < 1e-3
    assert rayleigh(u).pvalue > 1e-3 and scatter(u).bingham_p > 1e-3


# ---- sphere ---------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3, 16, 512])
def test_uniformity_ideal_matches_numerical_integration(d):
    if d == 2:  # s = cos(theta), theta uniform
        ref = integrate.quad(lambda th: math.exp(-4 * (1 - math.cos(th))), 0, math.pi)[0] / math.pi
    else:
        w = lambda s: (1 - s * s) ** ((d - 3) / 2)  # noqa: E731
        z = integrate.quad(w, -1, 1)[0]
        ref = integrate.quad(lambda s: w(s) * math.exp(-4 * (1 - s)), -1, 1)[0] / z
    assert uniformity_ideal(d) == pytest.approx(math.log(ref), abs=1e-9)


def test_uniformity_equals_the_pairwise_definition():
    u = sphere(150, 7, seed=5)
    dist2 = ((u[:, None, :] - u[None, :, :]) ** 2).sum(-1)
    iu = np.triu_indices(150, 1)
    ref = math.log(np.exp(-2 * dist2[iu]).mean())
    assert uniformity(u, max_rows=None).value == pytest.approx(ref, rel=1e-12)


def test_scatter_against_direct_formulas():
    x = np.random.default_rng(6).standard_normal((400, 12)) * np.linspace(1, 3, 12)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = scatter(u)
    t = u.T @ u / 400
    stat = 400 * 12 * 14 / 2 * (np.trace(t @ t) - 1 / 12)
    assert bingham(np.trace(t @ t), 400, 12)[0] == pytest.approx(stat, rel=1e-10)
    assert s.bingham_p == pytest.approx(stats.chi2.sf(stat, 11 * 14 / 2), rel=1e-8)
    sv = np.linalg.svd(u - u.mean(0), compute_uv=False)
    p = sv / sv.sum()
    assert s.effective_rank == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-8)
    lam = sv**2 / 400
    assert s.participation_ratio == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-8)
    assert s.condition_number == pytest.approx(lam[0] / lam[-1], rel=1e-6)
    assert s.top_pc_share == pytest.approx(lam[0] / lam.sum(), rel=1e-8)


def test_anisotropic_gaussian_passes_coordinates_but_fails_isotropy():
    rng = np.random.default_rng(8)
    d = 256
    x = rng.standard_normal((3000, d)) * np.sqrt(np.geomspace(1, 100, d))  # variances 1..100
    raw = diagnose(x, view="raw")
    assert raw.ad.compliance >= 0.9 and raw.dp.compliance >= 0.9
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = scatter(u)
    assert s.bingham_p < 1e-12 and s.condition_number > 50
    p = projection_tests(x, seed=0)  # of the L2 view
    assert p.var_compliance < 0.5 and p.var_p < 1e-12
    iso = projection_tests(rng.standard_normal((3000, d)), seed=0)
    assert iso.var_compliance > 0.88


def test_mean_offset_is_flagged_by_mean_norm_and_rayleigh():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2000, 128))
    ok = rayleigh(x / np.linalg.norm(x, axis=1, keepdims=True))
    y = x + 3.0 * np.ones(128) / np.sqrt(128) * 4  # a mean offset of norm 12, ||x|| ~ 11
    r = rayleigh(y / np.linalg.norm(y, axis=1, keepdims=True))
    assert ok.pvalue > 1e-3 and ok.mean_norm < 3 / math.sqrt(2000)
    assert r.pvalue < 1e-12 and r.mean_norm > 0.5


def test_rayleigh_and_bingham_have_their_size_under_uniformity():
    rng = np.random.default_rng(10)
    ray, bing = [], []
    for _ in range(400):
        x = rng.standard_normal((60, 5))
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        ray.append(rayleigh(u).pvalue)
        bing.append(scatter(u).bingham_p)
    assert 0.025 <= np.mean(np.array(ray) < 0.05) <= 0.08
    assert 0.02 <= np.mean(np.array(bing) < 0.05) <= 0.09


# ---- Mardia ---------------------------------------------------------------------------------
def test_mardia_statistics_match_the_pairwise_formula():
    z = np.random.default_rng(11).standard_exponential((200, 4))
    c = z - z.mean(0)
    g = c @ np.linalg.inv(c.T @ c / 200) @ c.T
    (b1,), (b2,) = mardia_batch(z[None])
    assert b1 == pytest.approx((g**3).sum() / 200**2, rel=1e-10)
    assert b2 == pytest.approx(np.mean(np.diag(g) ** 2), rel=1e-10)


def test_mardia_mc_calibration_has_its_size_and_power():
    rng = np.random.default_rng(12)
    skew, kurt = [], []
    for _ in range(300):
        r = mardia_test(rng.standard_normal((80, 3)), reps=400)
        skew.append(r.skew_p)
        kurt.append(r.kurt_p)
    assert 0.025 <= np.mean(np.array(skew) <= 0.05) <= 0.085
    assert 0.025 <= np.mean(np.array(kurt) <= 0.05) <= 0.085
    bad = mardia_test(rng.standard_exponential((80, 3)), reps=400)
    assert bad.skew_p < 0.01 and bad.kurt_p < 0.05


def test_mardia_on_a_projection_of_the_sphere_is_null_like():
    rows = np.sort(np.random.default_rng([0, 0x3A7]).choice(3000, 1000, replace=False))
    r = mardia(sphere(3000, 512, seed=13)[rows], k=8, reps=200, seed=0)
    assert r.n == 1000 and r.k == 8
    assert r.skew_p > 0.005 and r.kurt_p > 0.005


# ---- calibration ----------------------------------------------------------------------------
def test_bh_count_matches_scipy():
    rng = np.random.default_rng(14)
    p = np.concatenate([rng.uniform(size=900), rng.uniform(0, 1e-4, size=100), [np.nan]])
    ref = int(np.sum(stats.false_discovery_control(p[:-1]) <= 0.05))
    assert bh_rejected(p) == ref and 95 <= ref <= 110
    assert bh_rejected(rng.uniform(size=1000)) <= 5


def test_ks_matches_its_definition():
    p = np.random.default_rng(15).uniform(size=500) ** 1.5
    d, pv = ks_uniform(p)
    s = np.sort(p)
    i = np.arange(1, 501)
    assert d == pytest.approx(max((i / 500 - s).max(), (s - (i - 1) / 500).max()), rel=1e-12)
    assert pv < 1e-6


def test_bootstrap_recomputes_the_compliances_on_resampled_rows():
    x = np.random.default_rng(16).standard_normal((100, 6))
    b = bootstrap_compliance(x, 3, seed=2)
    rng = np.random.default_rng([2, 0xB007])
    corr = 1 + 0.75 / 100 + 2.25 / 100**2
    for r in range(3):
        xs = x[rng.integers(0, 100, 100)]
        a2 = [stats.anderson(c, "norm", method="interpolate").statistic * corr for c in xs.T]
        assert b.ad_samples[r] == pytest.approx(np.mean(np.array(a2) < 0.752))
        assert b.dp_samples[r] == pytest.approx(np.mean(stats.normaltest(xs).pvalue > 0.05))
    big = bootstrap_compliance(np.random.default_rng(17).standard_normal((500, 200)), 20)
    est = diagnose(np.random.default_rng(17).standard_normal((500, 200)), view="raw")
    assert big.ad_ci[0] <= est.ad.compliance <= big.ad_ci[1]
    assert big.dp_ci[0] <= est.dp.compliance <= big.dp_ci[1]
    assert big.ad_ci[0] <= 0.95 <= big.ad_ci[1]  # the truth, for null data


# ---- paired ---------------------------------------------------------------------------------
def test_paired_stats_and_pairing():
    rng = np.random.default_rng(18)
    a = rng.standard_normal((50, 8))
    b = a + 0.1 * rng.standard_normal((50, 8)) + 2.0
    ps = paired_stats(a, b)
    ua = a / np.linalg.norm(a, axis=1, keepdims=True)
    ub = b / np.linalg.norm(b, axis=1, keepdims=True)
    assert ps.alignment == pytest.approx(np.mean(np.sum((ua - ub) ** 2, 1)))
    assert ps.modality_gap == pytest.approx(np.linalg.norm(ua.mean(0) - ub.mean(0)))
    ia, ib = pair_indices(("i1", "i2", "i3"), ["i2", None, "i2", "i9", "i1"])
    assert ia.tolist() == [1, 1, 0] and ib.tolist() == [0, 2, 4]


def test_paired_metrics_of_two_towers():
    rng = np.random.default_rng(19)
    img = rng.standard_normal((30, 16))
    txt = np.repeat(img, 2, axis=0) + 0.05 * rng.standard_normal((60, 16))
    items = [SimpleNamespace(id=f"c{j}", pair=f"i{j // 2}") for j in range(60)]
    source = SimpleNamespace(items=lambda tower: items)
    run = dict(skipped=(), model_id="m", device="cpu", precision="fp32", batch_size=8, workers=0)
    run |= dict(extract_s=1.0, items_per_s=1.0, from_cache=0.0)
    done = {
        "image": Extraction(img, tuple(f"i{k}" for k in range(30)), tower="image", **run),
        "text": Extraction(txt, tuple(f"c{j}" for j in range(60)), tower="text", **run),
    }
    m = paired_metrics(source, done)
    ref = paired_stats(np.repeat(img, 2, axis=0), txt)
    assert m == {
        "paired_alignment": ref.alignment,
        "modality_gap": ref.modality_gap,
        "paired_n": 60,
    }
    assert paired_metrics(source, {"image": done["image"]}) == {}


# ---- the whole suite ------------------------------------------------------------------------
def test_detail_metrics_keys():
    x = np.random.default_rng(20).standard_normal((400, 64)).astype(np.float32)
    sub = subsample(x, 300, 0)[0]
    det = sphere_detail(sub)
    m = detail_metrics(det) | calibration_detail(diagnose(x, n=300), sub, bootstrap=2)
    for key in (*DETAIL_KEYS, "ad_compliance_ci", "dp_compliance_ci"):
        assert key in m, key
    assert m["proj_k"] == 256 and len(m["ad_compliance_ci"]) == 2
    null = detail_null(det)
    assert 0 < null["proj_ad_compliance_min"] <= 1
