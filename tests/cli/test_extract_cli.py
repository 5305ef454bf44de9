"""`infogauss extract`: files written, messages, exit codes. The zoo and the backends are
replaced by fakes that build tiny offline encoders (the real ones are tested on their own)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.cli import invoke as run_cli
from tests.support.embeddings import load_embeddings
from tests.support.encoders import write_images


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_images(root / "imgs", 10)
    (root / "imgs" / "broken.jpg").write_bytes(b"")
    (root / "caps.txt").write_text("a cat\n\na dog on a mat\nbirds\n")
    return root


def invoke(*args):
    return run_cli("extract", *args)


def test_extract_npy_quiet(fakes, data, tmp_path):
    out = tmp_path / "e.npy"
    r = invoke("tiny-cnn", "--data", f"images:{data / 'imgs'}", "--out", out, "--no-cache", "-q")
    assert r.exit_code == 0, r.output
    assert r.output == ""
    saved = load_embeddings(out)
    assert saved.embeddings.shape == (10, 96) and saved.embeddings.dtype == np.float32
    assert saved.ids[0] == "img000.jpg" and "broken.jpg" not in saved.ids
    assert saved.meta["model"] == "tiny-cnn" and saved.meta["tower"] == "image"
    assert saved.meta["skipped"] == [["broken.jpg", "empty file (0 bytes)"]]
    assert (tmp_path / "e.ids.json").exists()
    assert fakes == [("tiny-cnn", "image")]


def test_extract_safetensors_summary_and_cache(fakes, data, tmp_path):
    out = tmp_path / "e.safetensors"
    args = ("tiny-clip", "--data", f"images:{data / 'imgs'}", "--out", out)
    r = invoke(*args, "--cache-dir", tmp_path / "cache", "--batch-size", "4")
    assert r.exit_code == 0, r.output
    assert f"wrote {out}: 10 x 96 float32 (tiny-clip, image tower)" in r.stdout
    assert "items/s on cpu fp32" in r.stdout
    assert "skipped 1 unreadable item(s): broken.jpg (empty file (0 bytes))" in r.stdout
    first = load_embeddings(out)
    r = invoke(*args, "--cache-dir", tmp_path / "cache", "--batch-size", "4")
    assert r.exit_code == 0 and "100% from cache" in r.stdout
    second = load_embeddings(out)
    assert np.array_equal(first.embeddings, second.embeddings) and first.ids == second.ids


def test_extract_text_tower(fakes, data, tmp_path):
    out = tmp_path / "t.npy"
    r = invoke("tiny-clip", "--data", f"text:{data / 'caps.txt'}", "--out", out, "--no-cache")
    assert r.exit_code == 0, r.output
    assert "ignored 1 empty line(s)" in r.stdout
    saved = load_embeddings(out)
    assert saved.embeddings.shape == (3, 32) and saved.ids == ("line:1", "line:3", "line:4")
    assert fakes == [("tiny-clip", "text")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "e.txt"], "unknown extension '.txt'"),
        (["--out", "e.npy", "--tower", "text"], "cannot feed the text tower"),
        (["--out", "e.npy", "--precision", "fp16"], "fp16 needs CUDA"),
        (["--out", "e.npy", "--device", "tpu"], "unknown device"),
        (["--out", "e.npy", "--data", "video:x"], "supported forms"),
    ],
)
def test_extract_bad_input_exits_2_before_building(fakes, data, tmp_path, extra, message):
    args = ["tiny-clip", "--data", f"images:{data / 'imgs'}", *extra]
    args = [str(tmp_path / a) if a.startswith("e.") else a for a in args]
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert fakes == []  # no model was built


def test_extract_unknown_model_exits_2(fakes, data, tmp_path):
    r = invoke("nope", "--data", f"images:{data / 'imgs'}", "--out", tmp_path / "e.npy")
    assert r.exit_code == 2 and "unknown model" in r.output
