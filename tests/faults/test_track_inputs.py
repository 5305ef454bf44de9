"""``infogauss track`` over folders: sidecars and configs that are no JSON object, empty folders,
folders mixing kinds of checkpoints, a bad ``checkpoint-N/`` as an error row."""

from __future__ import annotations

import json

import pytest

from tests.support.checkpoints import HF_FILES, _link, _model
from tests.support.cli import invoke
from tests.support.faults import one_error_line

SIDECAR = {
    "format": "infogauss.synthetic-checkpoint/v1",
    "run": {"data": "binary", "encoder": "linear", "objective": "infonce"},
    "epoch": 5,
    "step": 80,
    "weights": "epoch-0005.safetensors",
}


def _sidecar(folder, **fields) -> None:
    run = folder / "binary-linear-infonce"
    run.mkdir(parents=True, exist_ok=True)
    (run / "epoch-0005.safetensors").write_bytes(b"")
    (run / "epoch-0005.json").write_text(json.dumps(SIDECAR | fields))


def _rows(path) -> list[dict]:
    return json.loads(path.read_text())["rows"]


def test_a_sidecar_with_a_null_config_is_an_error_row(tmp_path):
    _sidecar(tmp_path / "ck", config=None)
    r = invoke("track", tmp_path / "ck", "--json", tmp_path / "t.json", "-q")
    assert r.exit_code == 3, r.output
    assert "unexpected" not in r.output
    (row,) = _rows(tmp_path / "t.json")
    assert row["error"].count("epoch-0005.json") == 1 and "config" in row["error"]


def test_an_empty_folder_says_it_holds_no_checkpoints(tmp_path):
    (tmp_path / "empty").mkdir()
    r = invoke("track", tmp_path / "empty")
    assert r.exit_code == 2, r.output
    line = one_error_line(r.output)
    assert "holds no checkpoints" in line and "unknown model" not in line
    assert "epoch-*.json" in line and "checkpoint-N" in line


def test_a_model_folder_given_as_the_run_says_so(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("garbage{")
    line = one_error_line(invoke("track", tmp_path / "m").output)
    assert "holds no checkpoints" in line and "itself a model folder" in line


@pytest.mark.parametrize("config", ["garbage{", "null", '{"hidden_size": "wide"}'])
@pytest.mark.parametrize("kind", ["transformers", "sentence-transformers"])
def test_an_unreadable_config_is_an_error_row(tmp_path, config, kind):
    run = tmp_path / "run"
    (run / "checkpoint-7").mkdir(parents=True)
    (run / "checkpoint-7" / "config.json").write_text(config)
    if kind == "sentence-transformers":
        (run / "checkpoint-7" / "modules.json").write_text("[]")
    r = invoke("track", run, "--data", "pydoc-topics", "--json", tmp_path / "t.json", "-q")
    assert r.exit_code == 3, r.output
    (row,) = _rows(tmp_path / "t.json")
    assert str(run / "checkpoint-7" / "config.json") in row["error"], row["error"]
    assert "no config.json" not in row["error"] and row["step"] == 7


def test_a_folder_mixing_kinds_is_refused_naming_both(tmp_path):
    _sidecar(tmp_path / "ck", config={})
    (tmp_path / "ck" / "checkpoint-100").mkdir()
    (tmp_path / "ck" / "checkpoint-100" / "config.json").write_text('{"hidden_size": 8}')
    r = invoke("track", tmp_path / "ck")
    assert r.exit_code == 2, r.output
    line = one_error_line(r.output)
    assert "synthetic checkpoints" in line and "checkpoint-100" in line


@pytest.mark.slow
def test_a_bad_checkpoint_folder_is_an_error_row_and_the_others_run(tmp_path):
    pytest.importorskip("transformers")
    run = tmp_path / "run"
    _link(_model(), run / "checkpoint-100", HF_FILES)
    (run / "checkpoint-50").mkdir()
    (run / "checkpoint-50" / "config.json").write_text("garbage{")
    out = tmp_path / "t.json"
    args = ("track", run, "--data", "pydoc-topics", "--n", "40", "--no-cache", "--json", out)
    r = invoke(*args, "-q")
    assert r.exit_code == 3, r.output  # docs/training.md: an error row, exit 3
    rows = _rows(out)
    assert [row["step"] for row in rows] == [50, 100]
    assert "checkpoint-50" in rows[0]["error"] and "error" not in rows[1]
