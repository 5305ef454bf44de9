"""``--max-tail-excess``: passes, fails, and fails with the reason when tail_share is undefined."""

from __future__ import annotations

import pytest

from infogauss_cli.judge.verdict import TAIL_LEVEL, Gates, evaluate_gates, judge

PAPER = "paper"  # the rule

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


def test_check_cli_gate_exit_codes_and_json(tmp_path):
    import json

    import numpy as np
    from typer.testing import CliRunner

    from infogauss_cli.cli.main import app

    rng = np.random.default_rng(27)
    x = rng.standard_normal((1000, 8))
    np.save(tmp_path / "gauss.npy", x @ rng.standard_normal((8, 8)))
    np.save(tmp_path / "t5.npy", x / np.sqrt(rng.chisquare(5, (1000, 1)) / 5))
    np.save(tmp_path / "wide.npy", rng.standard_normal((30, 20)))
    run = CliRunner().invoke
    codes = {}
    for name in ("gauss", "t5", "wide"):
        r = run(app, ["check", str(tmp_path / f"{name}.npy"), "--max-tail-excess", "0.01",
                      "--json", "-", "-q"])  # fmt: skip
        (g,) = json.loads(r.stdout)["rows"][0]["gates"]
        codes[name] = (r.exit_code, g["passed"], g["value"])
    assert codes["gauss"][:2] == (0, True) and abs(codes["gauss"][2]) <= 0.01
    assert codes["t5"][:2] == (1, False) and codes["t5"][2] > 0.03
    assert codes["wide"] == (1, False, None)
    r = run(app, ["check", str(tmp_path / "wide.npy"), "--max-tail-excess", "0.01", "-q"])
    assert "needs n >= 40 rows" in r.output
    assert run(app, ["check", str(tmp_path / "t5.npy"), "--max-tail-excess", "2"]).exit_code == 2
