"""The published report schema: shipped, printed by `infogauss schema`, and what reports meet."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from infogauss_cli import __version__
from infogauss_cli.cli.main import app
from infogauss_cli.judge.model import Report, Row
from infogauss_cli.report.json_report import schema_text, validate_report
from tests.support.cli import gaussian, relu, run_cli

runner = CliRunner()


def test_schema_is_2020_12_and_printed():
    schema = json.loads(schema_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    r = runner.invoke(app, ["schema"])
    assert r.exit_code == 0 and json.loads(r.stdout) == schema
    assert r.stdout == schema_text()


def test_check_report_carries_provenance(tmp_path):
    np.save(tmp_path / "x.npy", gaussian(400, 16))
    out = tmp_path / "r.json"
    args = ["check", str(tmp_path / "x.npy"), "--json", str(out), "-q"]
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert runner.invoke(app, args).exit_code == 0
    doc = json.loads(out.read_text())
    validate_report(doc)
    created = datetime.fromisoformat(doc["created"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(timezone.utc)
    assert doc["command"][0] == "infogauss"
    assert doc["infogauss_version"] == doc["tool"]["version"] == __version__
    assert doc["exit_code"] == 0 and doc["passed"] is True
    env = doc["environment"]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["device"] == "cpu"


def test_failed_gate_and_subprocess_argv(tmp_path):
    """A real process: argv recorded as typed, exit code and `passed` agree with the process."""
    np.save(tmp_path / "relu.npy", relu(400, 16))
    cmd = ["check", "relu.npy", "--require", "gaussian", "--json", "r.json", "-q"]
    r = run_cli(*cmd, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    validate_report(doc)
    assert doc["command"] == ["infogauss", *cmd]
    assert doc["exit_code"] == 1 and doc["passed"] is False


def _doc(**changes):
    doc = Report((Row(model="m", metrics={"ad_compliance": 0.9}),)).to_dict()
    doc.update(changes)
    return doc


def test_schema_strict_on_contract_open_to_extras():
    validate_report(_doc())
    extra = _doc(future_section={"x": 1})
    extra["rows"][0]["metrics"].update(effect_size=0.1, warnings=["w"])
    extra["rows"][0]["verdict"] = {"gaussian": True, "reasons": [], "rule": "calibrated"}
    validate_report(extra)  # new metrics, verdict.rule, new sections: fine
    bad = [
        _doc(schema="infogauss.report/v2"),
        _doc(created="yesterday"),
        _doc(passed="yes"),
        {k: v for k, v in _doc().items() if k != "exit_code"},
    ]
    row = _doc()
    row["rows"][0]["metrics"]["ad_compliance"] = 95.0  # percent instead of a fraction
    bad.append(row)
    row = _doc()
    row["rows"][0]["gates"] = [{"name": "g", "threshold": 1, "passed": True}]  # no value
    bad.append(row)
    for doc in bad:
        with pytest.raises(jsonschema.ValidationError):
            validate_report(doc)


def test_schema_ships_in_package_data():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["infogauss_cli"]
    assert "schemas/*.json" in data and "py.typed" in data
    assert (Path(__file__).parents[2] / "infogauss_cli" / "py.typed").exists()
    assert any("jsonschema" in d for d in pyproject["project"]["optional-dependencies"]["test"])
