"""Issue 11: the reference per view, the calibrated verdict, the effect size, the fixed details.

Every rate is checked on seeded simulations of the reference itself (iid Gaussian coordinates;
their L2 rows are exactly uniform on the sphere), through the library's own code path.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from infogauss_cli.core.options import DiagnoseOptions, Protocol
from infogauss_cli.diagnostics import diagnose
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.mardia import mardia
from infogauss_cli.diagnostics.reference import LABELS, reference
from infogauss_cli.diagnostics.refsim import DiskReferenceStore, ReferenceCacheWarning, simulate
from infogauss_cli.diagnostics.sphere import projection_tests, scale_moments
from infogauss_cli.diagnostics.suite import calibration_detail
from infogauss_cli.diagnostics.validate import l2_normalise
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.rows import diagnose_rows


def _rows(x: np.ndarray, view: str, **options: object) -> list:
    return diagnose_rows(x, Row(model="m"), Protocol(view=view), DiagnoseOptions(**options))


# ---- the reference -----------------------------------------------------------------------------
@pytest.mark.slow
def test_sphere_reference_matches_a_full_matrix_simulation() -> None:
    """Pass rates from univariate draws (u1 = g1/||g||) against full L2-normalised matrices."""
    n, d = 300, 8
    ref = reference(n, d, "l2")
    rng = np.random.default_rng(3)
    a2, p = [], []
    for _ in range(400):
        u = l2_normalise(rng.standard_normal((n, d)))
        for j in range(d):
            col = u[:, j]
            a2.append(
                stats.anderson(col, "norm", method="interpolate").statistic
                * (1 + 0.75 / n + 2.25 / n**2)
            )
            p.append(stats.normaltest(col).pvalue)
    for rate, se, got in (
        (ref.ad_rate, ref.ad_rate_se, np.mean(np.asarray(a2) < 0.752)),
        (ref.dp_rate, ref.dp_rate_se, np.mean(np.asarray(p) > 0.05)),
    ):
        se_full = np.sqrt(got * (1 - got) / len(a2))
        assert abs(rate - got) < 4 * np.hypot(se, se_full), (rate, got)
    # the raw reference is the null table, whatever d
    raw = reference(n, d, "raw")
    assert LABELS[raw.view] == "null: iid Gaussian" and LABELS[ref.view] == "ideal: uniform sphere"
    assert abs(raw.ad_rate - 0.95) < 0.002 and raw.ad_rate_se < 0.001


def test_sphere_coordinate_moments() -> None:
    """The simulated coordinate has the sphere's kurtosis -6/(d+2) (FACTS.md)."""
    sim = simulate(400, 10, "l2", columns=50, seed=1)  # smoke: arrays of the right shape
    assert sim["a2"].shape == (50,) and sim["a2_g"].shape == (50,)
    rng = np.random.default_rng(0)
    d = 10
    g = rng.standard_normal(2_000_000)
    u = g / np.sqrt(g * g + 2 * rng.standard_gamma((d - 1) / 2, g.size))
    assert stats.kurtosis(u) == pytest.approx(-6 / (d + 2), abs=0.01)


def test_thresholds_are_the_binomial_lower_quantiles() -> None:
    ref = reference(1000, 64, "raw")
    for d in (2, 16, 64, 768):
        t = ref.threshold("ad", d, 0.025)
        k = round(t * d)
        assert stats.binom.cdf(k - 1, d, ref.ad_rate) <= 0.025 + 1e-6
        assert stats.binom.cdf(k, d, ref.ad_rate) > 0.025
        lo, hi = ref.band("ad", d)
        assert lo <= ref.ad_rate <= hi


def test_calibrated_p_values_are_uniform_under_the_reference() -> None:
    ref = reference(30, 16, "l2")
    rng = np.random.default_rng(5)
    g = rng.standard_normal((30, 2000))
    sphere_columns = g / np.sqrt(g * g + 2 * rng.standard_gamma(7.5, g.shape))  # d = 16
    p = column_tests(sphere_columns).pvalue
    cal = ref.calibrate_p(p)
    assert stats.kstest(cal, "uniform").pvalue > 0.01
    assert stats.kstest(p, "uniform").pvalue < 0.01  # raw DP p-values are not U(0,1) at n=30


def test_disk_store_round_trip_and_corrupt_entries(tmp_path) -> None:
    store = DiskReferenceStore(tmp_path)
    arrays = {"a2": np.arange(3.0), "p": np.ones(3)}
    store.put("v1-raw-n20-d0-s1-m3", arrays)
    got = store.get("v1-raw-n20-d0-s1-m3")
    assert got is not None and np.array_equal(got["a2"], arrays["a2"])
    (tmp_path / "v1-raw-n20-d0-s1-m3.npz").write_bytes(b"not a zip")
    with pytest.warns(ReferenceCacheWarning, match="unreadable"):
        assert store.get("v1-raw-n20-d0-s1-m3") is None  # ignored, with one note...
    assert not (tmp_path / "v1-raw-n20-d0-s1-m3.npz").exists()  # ...and removed
    assert not list(tmp_path.glob(".*.tmp"))


# ---- the paper rule beside the calibrated call --------------------------------------------------
def test_paper_rule_is_kept_and_reported_beside() -> None:
    x = np.random.default_rng(1).standard_normal((20_000, 64), dtype=np.float32)
    (row,) = _rows(x, "l2", rule="paper")
    v = row.to_dict()["verdict"]
    # the sphere's coordinates at d = 64: means within the paper's thresholds, compliances not
    assert v["rule"] == "paper" and v["gaussian"] is True
    assert v["paper-compliance"]["gaussian"] is False
    (row,) = _rows(x, "l2")
    v = row.to_dict()["verdict"]
    assert v["rule"] == "calibrated" and v["paper"]["call"] == "gaussian"
    assert row.null["reference"] == "ideal: uniform sphere"
    with pytest.raises(Exception, match="unknown rule"):
        DiagnoseOptions(rule="strict")


def test_alpha_moves_the_thresholds() -> None:
    diag = diagnose(np.random.default_rng(2).standard_normal((500, 256)), view="raw")
    loose, strict = diag.null_dict(0.2), diag.null_dict(0.001)
    assert loose["ad_compliance_min"] > strict["ad_compliance_min"]


# ---- effect size and warnings ------------------------------------------------------------------
def test_effect_size_is_the_mean_qq_distance() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_t(5, (3000, 6))
    diag = diagnose(x, view="raw")
    n = x.shape[0]
    q = stats.norm.ppf((np.arange(n) + 0.5) / n)
    z = (np.sort(x, axis=0) - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    expected = np.mean(np.abs(z - q[:, None]), axis=0)
    assert diag.effect_size == pytest.approx(expected.mean(), rel=1e-9)
    # n-independent: t5's effect size stays near its population value (about 0.10)
    big = diagnose(rng.standard_t(5, (20_000, 6)), view="raw").effect_size
    assert abs(big - diag.effect_size) < 0.02 and 0.08 < big < 0.13


# ---- dead columns and overflow -----------------------------------------------------------------
def test_dead_columns_are_reported_and_ignored() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1000, 32))
    clean = diagnose(x, view="raw")
    x[:, [3, 17, 30]] = 1e-30 * rng.standard_exponential((1000, 3))  # dead and non-Gaussian
    diag = diagnose(x, view="raw")
    m = diag.metrics()
    assert m["n_dead_columns"] == 3 and diag.dead_columns == (3, 17, 30)
    live = np.delete(np.arange(32), [3, 17, 30])
    assert m["ad_compliance"] == pytest.approx(np.mean(clean.ad.statistic[live] < 0.752))
    assert diag.null_dict()["trials"] == 29
    (row,) = _rows(x, "l2")
    assert row.metrics["n_dead_columns"] == 3
    assert any("3, 17, 30" in w for w in row.warnings)


def test_overflow_scale_is_diagnosed_like_scale_one() -> None:
    x = np.random.default_rng(8).standard_normal((500, 16))
    for view in ("raw", "l2"):
        one = diagnose(x, view=view).metrics()
        for scale in (1e300, 1e-300):
            big = diagnose(x * scale, view=view).metrics()
            for k in ("norm_cv", "ad_mean", "ad_compliance", "dp_compliance", "effect_size"):
                assert big[k] == pytest.approx(one[k], rel=1e-9), (view, scale, k)
            assert big["n_constant_columns"] == 0 and big["n_dead_columns"] == 0


# ---- detail p-values: their size under the reference -------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("n", [30, 100, 2000])
def test_detail_p_values_have_their_size(n: int) -> None:
    """Every calibrated detail p-value (projection variance, Mardia, compliance null p, KS of
    the calibrated DP p-values) under the reference at d in {4, 8, 16, 64}."""
    seeds = 120 if n < 2000 else 60
    for d in (4, 8, 16, 64):
        rej: dict[str, int] = {}

        def count(key: str, p: float, rej: dict[str, int] = rej) -> None:
            rej[key] = rej.get(key, 0) + (p < 0.05)

        for s in range(seeds):
            x = np.random.default_rng([n, d, s]).standard_normal((n, d))
            u = l2_normalise(x)
            count("proj_var_p", projection_tests(u, k=d, seed=s).var_p)
            if n > 2 * min(8, d) + 2:
                rng = np.random.default_rng([s, 0x3A7])  # at most 1,000 rows, as --detail
                rows = np.sort(rng.choice(n, 1000, replace=False)) if n > 1000 else slice(None)
                md = mardia(u[rows], k=8, reps=400, seed=s)
                count("mardia_kurt_p", md.kurt_p)
                count("mardia_skew_p", md.skew_p)
            for view in ("raw", "l2"):
                c = calibration_detail(diagnose(x, view=view))
                for key in ("ks_p_uniform", "ad_compliance_null_p", "dp_compliance_null_p"):
                    count(f"{key}:{view}", c[key])
        limit = 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / seeds)
        sizes = {k: v / seeds for k, v in rej.items()}
        assert all(v <= limit for v in sizes.values()), (n, d, sizes)


@pytest.mark.slow
def test_projection_scale_moments_match_simulation() -> None:
    n, d = 40, 6
    rng = np.random.default_rng(9)
    t = []
    for s in range(3000):
        u = l2_normalise(rng.standard_normal((n, d)))
        t.append(np.sum(projection_tests(u, k=d, seed=s).var_z ** 2))
    mean, var = scale_moments(n, d, d)
    assert np.mean(t) == pytest.approx(mean, rel=0.03)
    assert np.var(t) == pytest.approx(var, rel=0.12)


# ---- the CLI: --rule, --alpha, --max-effect, warnings in the footer ----------------------------
def test_cli_rule_alpha_max_effect_and_footer(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from infogauss_cli.cli.main import app

    rng = np.random.default_rng(10)
    np.save(tmp_path / "t5.npy", rng.standard_t(5, (2000, 16)).astype(np.float32))
    x = rng.standard_normal((2000, 16))
    x[:, 5] *= 1e-30
    np.save(tmp_path / "dead.npy", x)
    run = CliRunner().invoke
    r = run(app, ["check", str(tmp_path / "t5.npy"), "--view", "raw", "--json", "-", "-q"])
    row = json.loads(r.stdout)["rows"][0]
    assert row["verdict"]["rule"] == "calibrated" and row["verdict"]["call"] == "non-gaussian"
    assert row["verdict"]["paper"]["gaussian"] is False  # mean A*^2 of t5 at n = 2,000 > 0.752
    assert row["metrics"]["effect_size"] > 0.08 and row["null"]["effect_size"] < 0.03
    excess = row["metrics"]["effect_excess"]
    assert excess == pytest.approx(row["metrics"]["effect_size"] - row["null"]["effect_size"])
    lo, hi = row["metrics"]["effect_excess_interval"]
    assert lo < excess < hi
    assert row["null"]["reference"] == "null: iid Gaussian" and row["warnings"] == []
    args = ["check", str(tmp_path / "t5.npy"), "--view", "raw", "-q", "--max-effect"]
    assert run(app, [*args, "0.2"]).exit_code == 0
    assert run(app, [*args, "0.05"]).exit_code == 1
    r = run(app, ["check", str(tmp_path / "t5.npy"), "--rule", "paper", "--json", "-", "-q"])
    v = json.loads(r.stdout)["rows"][0]["verdict"]
    assert v["rule"] == "paper" and "paper-compliance" in v
    assert run(app, ["check", str(tmp_path / "t5.npy"), "--alpha", "0"]).exit_code == 2
    assert run(app, ["check", str(tmp_path / "t5.npy"), "--rule", "strict"]).exit_code == 2
    r = run(app, ["check", str(tmp_path / "dead.npy"), "--view", "raw"])
    assert r.exit_code == 0, r.output
    assert "dead coordinate(s)" in r.stdout and ": 5" in r.stdout
