"""The Gaussian? and sphere calls on seeded simulations, each statistic against an independent
computation (closed forms, scipy, Monte Carlo of the right null), and the collapsed matrix
through the CLI."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from infogauss_cli.cli.main import app
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.gaussian import (
    ad_pvalue,
    decorrelate,
    gaussian_tests,
    joint_sample,
    radial_test,
    relevant_power,
)
from infogauss_cli.diagnostics.mardia import gaussian_moments, hz_pvalue, hz_statistic, smoothing
from infogauss_cli.diagnostics.reference import gaussian_effect
from infogauss_cli.diagnostics.sphere import sphere_tests
from infogauss_cli.judge.verdict import judge
from infogauss_cli.report.json_report import schema_text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from calibration import DISTRIBUTIONS, GAUSSIANS


def _call(x: np.ndarray, view: str = "raw", seed: int = 0):
    joint = joint_sample(x, None, seed)
    sm, sn = sphere_tests(joint)
    gm, gn = gaussian_tests(joint, view, seed=seed)
    return judge(gm | sm, null=gn | sn, view=view)


def _draw(name: str, n: int, d: int, seed: int) -> np.ndarray:
    return DISTRIBUTIONS[name](np.random.default_rng([77, n, d, seed, len(name)]), n, d)


# ---- the statistics against independent computations -------------------------------------------
def test_ad_pvalue_matches_the_simulated_tail() -> None:
    """Stephens' p of A*^2 against the empirical tail of 200,000 Gaussian columns at n = 100."""
    a2 = column_tests(np.random.default_rng(1).standard_normal((100, 200_000))).a2star
    for level in (0.05, 0.01, 0.001):
        cut = np.quantile(a2, 1 - level)
        assert ad_pvalue(np.array([cut]))[0] == pytest.approx(level, rel=0.2)
    assert ad_pvalue(np.array([0.752]))[0] == pytest.approx(0.05, abs=0.003)
    assert ad_pvalue(np.array([500.0]))[0] < 1e-20  # beyond the fit: held, not rising


def test_b2_moments_are_exact() -> None:
    """Mardia's b2 of whitened Gaussian samples: mean and variance against 3,000 replicates."""
    m, k = 40, 3
    rng = np.random.default_rng(2)
    b2 = [radial_test(decorrelate(rng.standard_normal((m, k)))[0])[0] for _ in range(3000)]
    _, mean, var = gaussian_moments(m, k)
    assert np.mean(b2) == pytest.approx(mean, rel=0.01)
    assert np.var(b2) == pytest.approx(var, rel=0.1)


def test_decorrelated_coordinates_are_white_and_rank_aware() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 10))  # rank 6 in 10 dims
    z, rank = decorrelate(x)
    assert rank == 6 and z.shape == (500, 6)
    assert np.allclose(z.T @ z / 499, np.eye(6), atol=1e-8)
    wide = rng.standard_normal((40, 300))  # d > n: the Gram matrix, k = (m - 1) // 2
    z, rank = decorrelate(wide)
    assert rank == 39 and z.shape == (40, 19)


def test_henze_zirkler_matches_the_pairwise_formula_and_is_affine_invariant() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, 3))
    n, k = x.shape
    c = x - x.mean(0)
    s_inv = np.linalg.inv(c.T @ c / n)
    b2 = smoothing(n, k) ** 2
    pairs = sum(
        math.exp(-b2 / 2 * (c[i] - c[j]) @ s_inv @ (c[i] - c[j]))
        for i in range(n)
        for j in range(n)
    )
    centre = sum(math.exp(-b2 / (2 * (1 + b2)) * c[i] @ s_inv @ c[i]) for i in range(n))
    want = pairs / n - 2 * (1 + b2) ** (-k / 2) * centre + n * (1 + 2 * b2) ** (-k / 2)
    assert hz_statistic(x) == pytest.approx(want, rel=1e-10)
    a = rng.standard_normal((3, 3))
    assert hz_statistic(x @ a + 5.0) == pytest.approx(want, rel=1e-8)


def test_hz_table_p_values_are_uniform_under_the_null() -> None:
    """The tabulated null (hz_null.tsv) against fresh Gaussian samples, off the table's seeds."""
    rng = np.random.default_rng(5)
    p = np.array([hz_pvalue(hz_statistic(rng.standard_normal((70, 4))), 70, 4) for _ in range(600)])
    assert abs(np.mean(p < 0.05) - 0.05) < 0.025 and abs(np.mean(p < 0.25) - 0.25) < 0.06


def test_radial_test_is_affine_invariant() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_t(6, (300, 5))
    a = rng.standard_normal((5, 5))
    one, two = (radial_test(decorrelate(v)[0]) for v in (x, x @ a - 3))
    assert one[0] == pytest.approx(two[0], rel=1e-8)


# ---- the calls on seeded simulations -------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("n", "d"), [(200, 16), (1000, 64)])
def test_every_gaussian_is_gaussian_or_practically(n: int, d: int) -> None:
    """iid, one-factor, Wishart and power-law Gaussians: ✓ or ≈ in >= 90% of 30 seeds."""
    for name in GAUSSIANS:
        calls = [_call(_draw(name, n, d, s), seed=s).call for s in range(30)]
        ok = sum(c in ("gaussian", "practically-gaussian") for c in calls)
        assert ok >= 27, (name, n, d, calls)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["mvt5", "copula", "laplace", "mixture", "relu", "binary", "onehot"]
)
def test_departures_are_never_gaussian_at_5000_x_16(name: str) -> None:
    views = ("raw",) if name in ("mvt5", "copula") else ("raw", "l2")
    for s in range(3):
        x = _draw(name, 5000, 16, s)
        for view in views:  # rows of zeros (ReLU) have no l2 view: left out there
            v = _call(x[np.linalg.norm(x, axis=1) > 0] if view == "l2" else x, view, seed=s)
            assert v.call in ("non-gaussian", "inconclusive"), (name, view, v.reasons)


@pytest.mark.slow
def test_sphere_call() -> None:
    """The uniform sphere is uniform in >= 90% of seeds; anisotropic, binary and one-hot rows
    are not."""
    for n, d in ((200, 4), (1000, 64)):
        calls = [_call(_draw("sphere", n, d, s), seed=s).sphere.call for s in range(30)]
        assert sum(c == "uniform" for c in calls) >= 27, (n, d, calls)
    for name in ("power", "binary", "onehot"):
        assert _call(_draw(name, 5000, 16, 0)).sphere.call == "non-uniform", name


def _excess(x: np.ndarray) -> float:
    return gaussian_tests(joint_sample(x, None, 0), "raw")[0]["effect_excess"]


def test_effect_excess_of_gaussians_is_about_zero() -> None:
    small = [_excess(_draw("wishart", 200, 64, s)) for s in range(8)]
    big = [_excess(_draw("iid", 20_000, 8, s)) for s in range(3)]
    assert abs(np.mean(small)) < 0.01 and abs(np.mean(big)) < 0.01, (small, big)
    assert _excess(_draw("t5", 2000, 16, 0)) > 0.06  # t5 is about 0.10 at large n
    w1 = column_tests(_draw("t5", 2000, 16, 0)).w1  # the mean QQ distance, minus the null's
    assert _excess(_draw("t5", 2000, 16, 0)) == pytest.approx(w1.mean() - gaussian_effect(2000)[0])


def test_relevant_power_matches_simulation() -> None:
    """The tabulated power against t10 coordinates (raw, 100 x 4) against fresh draws: the
    share of samples in which some test rejects (✗ or ≈)."""
    n, d = 100, 4
    rejected = np.mean(
        [_call(DISTRIBUTIONS["t10"](np.random.default_rng([8, s]), n, d)).call
         in ("non-gaussian", "practically-gaussian") for s in range(80)]
    )  # fmt: skip
    assert abs(relevant_power(n, d, "raw") - rejected) < 0.17, rejected


def test_small_samples_are_inconclusive_and_say_how_many_rows_would_settle_it() -> None:
    x = np.random.default_rng(9).standard_normal((20, 2))
    joint = joint_sample(x, None, 0)
    gm, gn = gaussian_tests(joint, "raw")
    assert gn["gaussian_power_relevant"] < 0.5 and gn["gaussian_n_for_power"] > 20
    v = judge(gm, null=gn, view="raw")
    assert v.call in ("inconclusive", "non-gaussian")


# ---- the collapsed matrix end to end -------------------------------------------------------------
def test_collapsed_matrix_fails_the_gate_with_a_valid_report(tmp_path) -> None:
    np.save(tmp_path / "c.npy", np.ones((500, 16), dtype=np.float32))
    r = CliRunner().invoke(app, ["check", str(tmp_path / "c.npy"), "--require", "gaussian",
                                 "--json", "-", "-q"])  # fmt: skip
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, json.loads(schema_text()))
    v = doc["rows"][0]["verdict"]
    assert v["call"] == "non-gaussian" and "collapsed" in v["reasons"][0]
    assert "RuntimeWarning" not in r.stderr
