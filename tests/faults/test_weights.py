"""Weights files a library refuses: a pickle holding more than tensors, a truncated .pth.
One clear line, exit 2, and never the advice to load with weights_only off."""

from __future__ import annotations

import pytest

from tests.support.cli import invoke
from tests.support.faults import one_error_line


class _Options:
    """A non-tensor object saved beside the weights (as training scripts often do)."""


@pytest.fixture(scope="module")
def state_dict():
    timm = pytest.importorskip("timm")
    return timm.create_model("test_resnet", pretrained=False, num_classes=0).state_dict()


def _run(tmp_path, weights):
    zoo = tmp_path / "zoo.yaml"
    zoo.write_text(
        "schema_version: 1\nmodels:\n  - id: tr\n    backend: timm\n"
        f"    source: {{name: test_resnet, weights: {weights}}}\n    towers: [image]\n"
        "    objective: supervised\n    embedding: pooled\n    dim: 96\n"
    )
    images = tmp_path / "imgs"
    images.mkdir()
    from PIL import Image

    Image.new("RGB", (32, 32), (10, 20, 30)).save(images / "a.jpg")
    return invoke("extract", "tr", "--zoo", zoo, "--data", f"images:{images}",
                  "--out", tmp_path / "o.npy", "--no-cache", "-q")  # fmt: skip


def test_pickle_with_objects_is_refused_without_unsafe_advice(tmp_path, state_dict):
    import torch

    path = tmp_path / "w.pth"
    torch.save({"state_dict": state_dict, "opt": _Options()}, path)
    r = _run(tmp_path, path)
    assert r.exit_code == 2, r.output
    line = one_error_line(r.output)
    assert "not a plain weights file" in line and "weights_only=" + "False" not in line


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_truncated_pth_is_a_clear_message(tmp_path, state_dict, zip_format):
    import torch

    path = tmp_path / "w.pth"
    torch.save(state_dict, path, _use_new_zipfile_serialization=zip_format)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    r = _run(tmp_path, path)
    assert r.exit_code == 2, r.output
    assert "is truncated or damaged" in one_error_line(r.output)


def test_other_load_failures_are_left_alone():
    from infogauss_cli.models.weights import weights_load_error

    assert weights_load_error(RuntimeError("size mismatch for fc.weight"), "m", None) is None
    wrapped = OSError("cannot load")
    wrapped.__cause__ = EOFError("Ran out of input")
    assert "truncated" in str(weights_load_error(wrapped, "m", None))
