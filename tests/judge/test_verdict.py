"""The calls (✓ ≈ ✗ ?, the sphere call, the paper's rule) and every gate, on hand-made metrics."""

from __future__ import annotations

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DiagnoseOptions
from infogauss_cli.judge.verdict import Gates, evaluate_gates, judge

PAPER = "paper"  # the rule

GOOD = {
    "norm_cv": 0.09,
    "ad_mean": 0.43,
    "ad_compliance": 0.961,
    "dp_mean_p": 0.39,
    "dp_compliance": 0.945,
    "n_constant_columns": 0,
    "effect_excess": 0.001,
}
BAD = {
    "norm_cv": 0.5,
    "ad_mean": 3.3,
    "ad_compliance": 0.062,
    "dp_mean_p": 0.041,
    "dp_compliance": 0.039,
    "n_constant_columns": 0,
    "effect_excess": 0.2,
}
# the decorrelated tests of a Gaussian row: nothing rejected
TESTS_OK = {
    "decorrelated_rows": 5000,
    "decorrelated_d": 64,
    "decorrelated_rank": 64,
    "decorrelated_k": 64,
    "decorrelated_ad_count_p": 0.4,
    "decorrelated_dp_count_p": 0.6,
    "decorrelated_effect_excess": 0.001,
    "worst_coordinate_p": 0.3,
    "worst_coordinate_effect_excess": 0.02,
    "worst_given_coordinate_p": 0.5,
    "worst_given_coordinate_effect_excess": 0.01,
    "radial_p": 0.5,
    "radial_kurtosis": 0.01,
    "henze_zirkler_p": 0.7,
    "sphere_rayleigh_p": 0.3,
    "sphere_bingham_p": 0.4,
}
POWERFUL = {"gaussian_power_relevant": 1.0, "sphere_power_relevant": 1.0}


def row(metrics, model="m", tower="image", view="l2", **protocol):
    return {
        "model": model,
        "tower": tower,
        "data": {"source": "coco-val2017"},
        "protocol": {"view": view, **protocol},
        "metrics": metrics,
    }


def call(metrics, null=POWERFUL, **kw):
    return judge({**GOOD, **TESTS_OK, **metrics}, null=null, view="raw", **kw)


def test_nothing_rejected_is_gaussian():
    v = call({})
    assert (v.call, v.symbol, v.gaussian, v.view) == ("gaussian", "✓", True, "raw")
    assert v.sphere.call == "uniform"
    assert {t.name for t in v.tests} == {
        "ad_count",
        "dp_count",
        "worst_coordinate",
        "worst_given_coordinate",
        "radial",
        "henze_zirkler",
    }
    assert all(t.level == pytest.approx(0.05 / 6) for t in v.tests)  # Bonferroni over six


def test_small_detected_departure_is_practically_gaussian():
    v = call({"decorrelated_dp_count_p": 1e-6, "decorrelated_effect_excess": 0.01})
    assert (v.call, v.symbol, v.gaussian) == ("practically-gaussian", "≈", True)
    assert "below the relevance line" in " ".join(v.reasons)
    v = call({"radial_p": 1e-9, "radial_kurtosis": 0.3})
    assert v.call == "practically-gaussian"


@pytest.mark.parametrize(
    "change",
    [
        {"decorrelated_ad_count_p": 1e-6, "decorrelated_effect_excess": 0.05},
        {"worst_coordinate_p": 1e-6, "worst_coordinate_effect_excess": 0.2},
        {"worst_given_coordinate_p": 1e-9, "worst_given_coordinate_effect_excess": 0.3},
        {"radial_p": 1e-9, "radial_kurtosis": 1.5},
        {"radial_p": 1e-9, "radial_kurtosis": -2.0},  # too little radial spread (binary rows)
        {"henze_zirkler_p": 1e-4},  # no effect scale: a detection is always relevant
    ],
)
def test_relevant_departure_is_not_gaussian(change):
    v = call(change)
    assert (v.call, v.symbol, v.gaussian) == ("non-gaussian", "✗", False)


def test_nothing_found_with_little_power_is_inconclusive():
    null = {**POWERFUL, "gaussian_power_relevant": 0.3, "gaussian_n_for_power": 420}
    v = call({}, null=null)
    assert (v.call, v.symbol, v.gaussian) == ("inconclusive", "?", False)
    assert "30%" in v.reasons[-1] and "n = 420" in v.reasons[-1]
    # evidence found is evidence, whatever the power
    assert call({"henze_zirkler_p": 1e-5}, null=null).call == "non-gaussian"


def test_collapsed_rows_are_not_gaussian():
    v = call({"decorrelated_k": 0, "decorrelated_rank": 0})
    assert v.call == "non-gaussian" and "collapsed" in v.reasons[0]


def test_l2_view_has_no_radial_test():
    metrics = {k: v for k, v in {**GOOD, **TESTS_OK}.items() if not k.startswith("radial")}
    v = judge(metrics, null=POWERFUL, view="l2")
    assert "radial" not in {t.name for t in v.tests}
    assert v.tests[0].level == pytest.approx(0.01)


def test_sphere_call():
    assert call({"sphere_bingham_p": 1e-5}).sphere.call == "non-uniform"
    weak = {**POWERFUL, "sphere_power_relevant": 0.2}
    assert call({}, null=weak).sphere.call == "inconclusive"


def test_paper_rule_reads_the_printed_thresholds_on_the_means():
    assert judge(GOOD, PAPER).call == "gaussian"
    assert judge(BAD, PAPER).call == "non-gaussian"
    # AD mean 0.5 < 0.752 and DP mean 0.2 > 0.05, though 80% compliance < 90%
    mid = {**GOOD, "ad_mean": 0.5, "dp_mean_p": 0.2, "ad_compliance": 0.8}
    v = judge(mid, PAPER)
    assert v.call == "gaussian" and v.other.rule == "paper-compliance"
    assert v.other.call == "non-gaussian"
    assert "AD compliance 80.0% < 90%" in " ".join(v.other.reasons)
    d = v.to_dict()
    assert d["rule"] == "paper" and d["paper-compliance"]["gaussian"] is False


def test_calibrated_carries_the_paper_call_and_json_fields():
    d = call({}).to_dict()
    assert d["call"] == "gaussian" and d["gaussian"] is True and d["view"] == "raw"
    assert d["sphere"]["call"] == "uniform" and len(d["tests"]) == 6
    assert d["paper"]["call"] == "gaussian"
    with pytest.raises(BadInputError, match="decorrelated"):
        judge(GOOD)  # the calibrated rule needs the decorrelated tests


def test_reasons_name_dead_coordinates_in_the_paper_rule():
    v = judge({**BAD, "n_constant_columns": 3}, PAPER)
    assert "3 constant coordinate(s)" in " ".join(v.reasons)


def test_require_gate():
    bad = call({"henze_zirkler_p": 1e-5})
    (g,) = evaluate_gates(row(BAD), bad, Gates(require="gaussian"))
    assert (g.name, g.value, g.passed) == ("require", "non-gaussian", False)
    assert g.note.startswith("✗ non-gaussian")
    (g,) = evaluate_gates(row(BAD), bad, Gates(require="non-gaussian"))
    assert g.passed
    near = call({"decorrelated_dp_count_p": 1e-6, "decorrelated_effect_excess": 0.01})
    (g,) = evaluate_gates(row(GOOD), near, Gates(require="gaussian"))
    assert g.passed and g.value == "practically-gaussian"
    null = {**POWERFUL, "gaussian_power_relevant": 0.3, "gaussian_n_for_power": 420}
    (g,) = evaluate_gates(row(GOOD), call({}, null=null), Gates(require="gaussian"))
    assert not g.passed and "n = 420" in g.note
    with pytest.raises(BadInputError):
        Gates(require="maybe")
    with pytest.raises(BadInputError, match="contradict"):
        Gates(require=("gaussian", "non-gaussian"))


def test_require_sphere_gate():
    gates = Gates(require=("gaussian", "sphere"))
    assert [g.passed for g in evaluate_gates(row(GOOD), call({}), gates)] == [True, True]
    aniso = call({"sphere_bingham_p": 1e-9})
    g = evaluate_gates(row(GOOD), aniso, gates)[1]
    assert (g.value, g.passed) == ("non-uniform", False)


@pytest.mark.parametrize(
    ("gates", "name", "good_passes", "bad_passes"),
    [
        (Gates(max_cv=0.1), "max-cv", True, False),
        (Gates(min_ad_compliance=0.9), "min-ad-compliance", True, False),
        (Gates(min_dp_compliance=0.9), "min-dp-compliance", True, False),
        (Gates(max_ad_mean=0.752), "max-ad-mean", True, False),
        (Gates(max_effect=0.04), "max-effect", True, False),  # on the excess effect size
    ],
)
def test_threshold_gates(gates, name, good_passes, bad_passes):
    (g,) = evaluate_gates(row(GOOD), judge(GOOD, PAPER), gates)
    assert g.name == name and g.passed is good_passes
    (g,) = evaluate_gates(row(BAD), judge(BAD, PAPER), gates)
    assert g.passed is bad_passes


def test_gate_on_undefined_metric_fails_with_note():
    (g,) = evaluate_gates(row({**GOOD, "norm_cv": None}), judge(GOOD, PAPER), Gates(max_cv=0.1))
    assert g.passed is False and "undefined" in g.note


def test_baseline_gates_match_model_tower_view():
    base = (row(GOOD), row(BAD, tower="text"))
    worse = {**GOOD, "ad_compliance": 0.90}
    gates = Gates(baseline=base, max_drop=0.05)
    ad, dp = evaluate_gates(row(worse), judge(worse, PAPER), gates)
    assert ad.name == "max-drop:ad_compliance" and ad.passed is False
    assert ad.value == pytest.approx(0.061)
    assert dp.passed is True and dp.value == 0
    # the text row's baseline is BAD, so GOOD is an improvement
    assert all(g.passed for g in evaluate_gates(row(GOOD, tower="text"), judge(GOOD, PAPER), gates))
    (missing,) = evaluate_gates(row(GOOD, view="raw"), judge(GOOD, PAPER), gates)
    assert missing.passed is False and "no row" in missing.note


def test_baseline_of_an_unlike_run_is_noted_or_refused():
    gates = Gates(baseline=(row(GOOD, n=5000),), max_drop=0.05)
    ad, _ = evaluate_gates(row(GOOD, n=200), judge(GOOD, PAPER), gates)
    assert ad.passed and "n 5000 in the baseline, 200 here" in ad.note
    other_data = {**row(GOOD), "data": {"source": "images:/tmp/x"}}
    with pytest.raises(BadInputError, match=r"data\.source"):
        evaluate_gates(other_data, judge(GOOD, PAPER), gates)
    other_rev = row(GOOD, n=5000, revision="abc123")
    with pytest.raises(BadInputError, match=r"protocol\.revision"):
        evaluate_gates(other_rev, judge(GOOD, PAPER), gates)


def test_baseline_needs_max_drop():
    with pytest.raises(BadInputError, match="go together"):
        Gates(baseline=(row(GOOD),))
    with pytest.raises(BadInputError, match="go together"):
        Gates(max_drop=0.1)


def test_rule_validation():
    with pytest.raises(BadInputError):
        DiagnoseOptions(rule="strict")
    with pytest.raises(BadInputError):
        DiagnoseOptions(alpha=1.5)
