"""The default verdict rule and every gate, on hand-made metrics."""

from __future__ import annotations

import pytest

from infogauss_cli.errors import BadInputError
from infogauss_cli.verdict import PAPER, Gates, Rule, evaluate_gates, judge

GOOD = {
    "norm_cv": 0.09,
    "ad_mean": 0.43,
    "ad_compliance": 0.961,
    "dp_mean_p": 0.39,
    "dp_compliance": 0.945,
    "n_constant_columns": 0,
}
BAD = {
    "norm_cv": 0.5,
    "ad_mean": 3.3,
    "ad_compliance": 0.062,
    "dp_mean_p": 0.041,
    "dp_compliance": 0.039,
    "n_constant_columns": 0,
}


def row(metrics, model="m", tower="image", view="l2"):
    return {"model": model, "tower": tower, "protocol": {"view": view}, "metrics": metrics}


def test_paper_rows_get_the_paper_verdicts():
    # CIFAR-10 contrastive vs supervised rows of the paper's Table 1
    assert judge(GOOD, PAPER).gaussian is True
    assert judge(BAD, PAPER).gaussian is False
    # DenseNet: DP compliance 49% -> not Gaussian even with a decent AD
    assert judge({**GOOD, "dp_compliance": 0.49}, PAPER).gaussian is False


def test_threshold_is_inclusive_and_configurable():
    edge = {**GOOD, "ad_compliance": 0.90, "dp_compliance": 0.90}
    assert judge(edge, PAPER).gaussian is True
    assert judge({**edge, "dp_compliance": 0.8999}, PAPER).gaussian is False
    assert judge(edge, Rule(name="paper", min_ad_compliance=0.95)).gaussian is False


def test_reasons_explain_both_tests_and_constant_columns():
    v = judge({**BAD, "n_constant_columns": 3}, PAPER)
    text = " ".join(v.reasons)
    assert "AD compliance 6.2% < 90%" in text and "DP compliance 3.9% < 90%" in text
    assert "3 constant coordinate(s)" in text


def test_require_gate():
    (g,) = evaluate_gates(row(BAD), judge(BAD, PAPER), Gates(require="gaussian"))
    assert (g.name, g.value, g.passed) == ("require", "non-gaussian", False)
    (g,) = evaluate_gates(row(BAD), judge(BAD, PAPER), Gates(require="non-gaussian"))
    assert g.passed
    with pytest.raises(BadInputError):
        Gates(require="maybe")


@pytest.mark.parametrize(
    ("gates", "name", "good_passes", "bad_passes"),
    [
        (Gates(max_cv=0.1), "max-cv", True, False),
        (Gates(min_ad_compliance=0.9), "min-ad-compliance", True, False),
        (Gates(min_dp_compliance=0.9), "min-dp-compliance", True, False),
        (Gates(max_ad_mean=0.752), "max-ad-mean", True, False),
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


def test_baseline_needs_max_drop():
    with pytest.raises(BadInputError, match="go together"):
        Gates(baseline=(row(GOOD),))
    with pytest.raises(BadInputError, match="go together"):
        Gates(max_drop=0.1)
