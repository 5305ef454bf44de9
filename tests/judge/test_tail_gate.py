"""``--max-tail-excess``: passes, fails, and fails with the reason when tail_share is undefined."""

from __future__ import annotations

import pytest

from infogauss_cli.judge.gates import TAIL_LEVEL, Gates, evaluate_gates
from infogauss_cli.judge.verdict import PAPER, judge

METRICS = {"norm_cv": 0.09, "ad_mean": 0.43, "ad_compliance": 0.96, "dp_mean_p": 0.39}


def _row(share: float | None, null: dict | None = None) -> dict:
    out = {"model": "m", "protocol": {"view": "raw"}, "metrics": {**METRICS, "tail_share": share}}
    return out | ({"null": null} if null is not None else {})


def _gate(row: dict, threshold: float = 0.01):
    (g,) = evaluate_gates(row, judge(row["metrics"], PAPER), Gates(max_tail_excess=threshold))
    return g


@pytest.mark.parametrize(
    ("share", "threshold", "passed"),
    [(0.012, 0.01, True), (0.02, 0.01, True), (0.0201, 0.01, False), (0.2, 0.05, False),
     (0.0, 0.0, True), (0.011, 0.0, False)],
)  # fmt: skip
def test_gate_on_the_excess_over_one_percent(share, threshold, passed):
    g = _gate(_row(share), threshold)
    assert g.name == "max-tail-excess" and g.threshold == threshold and g.passed is passed
    assert g.value == pytest.approx(share - TAIL_LEVEL) and TAIL_LEVEL == 0.01


def test_missing_tail_share_fails_and_says_why():
    g = _gate(_row(None, {"tail_share_n_needed": 640}))
    assert g.passed is False and g.value is None
    assert "tail_share undefined" in g.note and "640 rows" in g.note
    bare = {"model": "m", "protocol": {}, "metrics": METRICS}  # no key, no null (a track row)
    g = _gate(bare)
    assert g.passed is False and g.note == "tail_share undefined"


def test_not_asked_no_gate():
    row = _row(0.5)
    assert evaluate_gates(row, judge(row["metrics"], PAPER), Gates()) == []
    assert Gates(max_tail_excess=0.02).max_tail_excess == 0.02
