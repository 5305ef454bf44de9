"""``infogauss track RUN_DIR`` over sentence-transformers / Hugging Face checkpoint folders,
made here from the packaged MiniLM (files linked, not copied)."""

from __future__ import annotations

import json

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.pipelines.track import folder_checkpoints
from tests.support.checkpoints import HF_FILES, _link, _model
from tests.support.cli import invoke


@pytest.fixture
def run_dir(tmp_path):
    model = _model()
    run = tmp_path / "my run"
    _link(model, run / "checkpoint-200")  # sentence-transformers folders
    _link(model, run / "checkpoint-1000")
    _link(model, run / "checkpoint-50", HF_FILES)  # a plain transformers folder
    (run / "logs").mkdir()  # not a checkpoint
    return run


def test_folder_checkpoints_in_step_order_with_their_backends(run_dir):
    found = folder_checkpoints(run_dir)
    assert [s for s, _, _ in found] == [50, 200, 1000]
    assert [e.backend for _, e, _ in found] == [
        "transformers",
        "sentence-transformers",
        "sentence-transformers",
    ]
    assert {e.id for _, e, _ in found} == {"my-run"}
    assert found[0][1].source.pooling == "mean" and found[1][1].source.normalize is False
    assert found[1][2] == "my-run @ checkpoint-200"
    assert [s for s, _, _ in folder_checkpoints(run_dir, [3, 2, 1])] == [1, 2, 3]


def test_a_folder_without_checkpoints_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="holds no checkpoints"):
        folder_checkpoints(tmp_path)


@pytest.mark.slow
def test_track_a_run_folder_end_to_end(run_dir, tmp_path):
    pytest.importorskip("sentence_transformers")
    out = tmp_path / "t.json"
    r = invoke(
        "track", run_dir, "--data", "pydoc-topics", "--n", "40", "--no-cache",
        "--json", out, "--plots", tmp_path / "plots", "-q",
    )  # fmt: skip
    assert r.exit_code in (0, 1), r.output
    rows = json.loads(out.read_text())["rows"]
    assert [row["step"] for row in rows] == [50, 200, 1000]
    assert [row["backend"] for row in rows][:2] == ["transformers", "sentence-transformers"]
    assert all("error" not in row for row in rows)
    # the same weights through either backend give the same metrics
    for key in ("norm_cv", "ad_compliance", "dp_compliance"):
        assert rows[0]["metrics"][key] == pytest.approx(rows[2]["metrics"][key], abs=1e-4)
    assert (tmp_path / "plots" / "trajectory.png").is_file()
