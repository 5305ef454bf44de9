"""The embedding cache (verification, recomputation, keys) and the output files."""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.extract.engine import extract
from infogauss_cli.extract.plan import EngineOptions
from infogauss_cli.extract.store import (
    EmbeddingCache,
    atomic_write_bytes,
    default_cache_dir,
    save_embeddings,
)
from tests.support.embeddings import load_embeddings
from tests.support.encoders import image_items, make_image_encoder, write_images

OPTS = EngineOptions(batch_size=4, workers=0, chunk_items=8)
KW = {}  # chunks of 8 items


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    write_images(folder, 20)
    enc = make_image_encoder()
    items = image_items(folder)
    ref = extract(enc, items, OPTS, **KW)  # no cache
    return enc, items, ref


def _entry_dir(cache_root):
    (entry,) = [p for p in cache_root.iterdir() if p.is_dir()]
    return entry


def test_cache_round_trip_is_bit_identical(setup, tmp_path):
    enc, items, ref = setup
    first = extract(enc, items, OPTS, cache=tmp_path, **KW)
    assert first.from_cache == 0 and first.cache_path is not None
    entry = _entry_dir(tmp_path)
    assert sorted(p.name for p in entry.iterdir()) == [
        "chunk-000000.json",
        "chunk-000000.npy",
        "chunk-000001.json",
        "chunk-000001.npy",
        "chunk-000002.json",
        "chunk-000002.npy",
        "meta.json",
    ]
    meta = json.loads((entry / "meta.json").read_text())
    parts = meta["parts"]
    for key in ("encoder", "tower", "data", "precision", "device_type", "format"):
        assert key in parts
    assert "batch_size" not in parts  # issue 16: another batch size hits the same entry
    assert parts["chunk_size"] == 8 and parts["device_type"] == "cpu"
    side = json.loads((entry / "chunk-000002.json").read_text())
    assert side["start"] == 16 and side["stop"] == 20 and side["rows"] == 4
    assert side["sha256"] and side["dtype"] == "float32"
    again = extract(enc, items, OPTS, cache=tmp_path, **KW)
    assert again.from_cache == 1.0 and again.notes == ()
    for res in (first, again):
        assert np.array_equal(res.embeddings, ref.embeddings) and res.ids == ref.ids


@pytest.mark.parametrize(
    "damage",
    ["flip-bytes", "truncate", "wrong-shape", "delete-npy", "garbage-sidecar", "wrong-key"],
)
def test_corrupt_chunk_is_detected_and_recomputed(setup, tmp_path, damage):
    from rich.console import Console

    enc, items, ref = setup
    extract(enc, items, OPTS, cache=tmp_path, **KW)
    entry = _entry_dir(tmp_path)
    npy, side = entry / "chunk-000001.npy", entry / "chunk-000001.json"
    data = bytearray(npy.read_bytes())
    if damage == "flip-bytes":
        data[-5] ^= 0xFF
        npy.write_bytes(bytes(data))
    elif damage == "truncate":
        npy.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "wrong-shape":  # valid hash of a wrong array: shape check must catch it
        from infogauss_cli.extract.store import _npy_bytes, sha256_hex

        raw = _npy_bytes(np.zeros((3, enc.dim), np.float32))
        npy.write_bytes(raw)
        info = json.loads(side.read_text())
        info["sha256"] = sha256_hex(raw)
        side.write_text(json.dumps(info))
    elif damage == "delete-npy":
        npy.unlink()
    elif damage == "garbage-sidecar":
        side.write_text("{not json")
    elif damage == "wrong-key":
        info = json.loads(side.read_text())
        info["key"] = "0" * 64
        side.write_text(json.dumps(info))
    out = io.StringIO()
    from infogauss_cli.cli.errors import RichChannel
    from infogauss_cli.core.progress import listening

    with listening(RichChannel(Console(file=out, width=200))):
        res = extract(enc, items, OPTS, cache=tmp_path, **KW)
    assert res.from_cache == pytest.approx(12 / 20)  # chunks 0 and 2 reused
    assert np.array_equal(res.embeddings, ref.embeddings)
    assert "cache chunk 1 is corrupt" in out.getvalue()
    assert any("chunk 1" in n for n in res.notes)
    fixed = extract(enc, items, OPTS, cache=tmp_path, **KW)  # and the chunk was rewritten
    assert fixed.from_cache == 1.0 and np.array_equal(fixed.embeddings, ref.embeddings)


def test_chunk_without_sidecar_is_recomputed_quietly(setup, tmp_path):
    enc, items, ref = setup
    extract(enc, items, OPTS, cache=tmp_path, **KW)
    (_entry_dir(tmp_path) / "chunk-000000.json").unlink()  # as if killed between the two writes
    res = extract(enc, items, OPTS, cache=tmp_path, **KW)
    assert res.from_cache == pytest.approx(12 / 20) and res.notes == ()
    assert np.array_equal(res.embeddings, ref.embeddings)


def test_key_changes_with_what_changes_the_embeddings(setup, tmp_path):
    enc, items, _ = setup
    extract(enc, items, OPTS, cache=tmp_path, **KW)
    other_bs = extract(enc, items, replace(OPTS, batch_size=2), cache=tmp_path, **KW)
    assert other_bs.from_cache == 1.0  # the batch size is not part of the key (issue 16)
    extract(enc, items, replace(OPTS, precision="bf16"), cache=tmp_path, **KW)
    extract(enc, items[:10], OPTS, cache=tmp_path, **KW)
    extract(enc, items, OPTS, cache=tmp_path, data_fingerprint="other-data", **KW)
    extract(enc, items, replace(OPTS, chunk_items=5), cache=tmp_path, **KW)
    enc2 = make_image_encoder()
    enc2.fingerprint = {**enc.fingerprint, "weights": "other"}
    extract(enc2, items, OPTS, cache=tmp_path, **KW)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 6


def test_skipped_items_are_cached(tmp_path):
    folder = tmp_path / "imgs"
    write_images(folder, 5)
    (folder / "bad.jpg").write_bytes(b"")
    enc = make_image_encoder()
    a = extract(enc, image_items(folder), OPTS, cache=tmp_path / "c", **KW)
    b = extract(enc, image_items(folder), OPTS, cache=tmp_path / "c", **KW)
    assert b.from_cache == 1.0
    assert a.skipped == b.skipped == (("bad.jpg", "empty file (0 bytes)"),)
    assert a.ids == b.ids and np.array_equal(a.embeddings, b.embeddings)


def test_atomic_write_and_stale_tmp_cleanup(tmp_path):
    atomic_write_bytes(tmp_path / "f.bin", b"abc")
    assert (tmp_path / "f.bin").read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    entry = EmbeddingCache(tmp_path).entry({"x": 1}, label="m-image")
    entry.path.mkdir()
    stale = entry.path / ".chunk-000000.npy.999999999.abcdef12.tmp"  # a writer that is gone
    live = entry.path / f".chunk-000001.npy.{os.getpid()}.abcdef12.tmp"
    # a fresh file of a pid unknown here may be a writer on another node sharing the folder
    remote = entry.path / ".chunk-000002.npy.999999998.abcdef12.tmp"
    for f in (stale, live, remote):
        f.write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    entry.open()
    assert not stale.exists() and live.exists() and remote.exists()
    assert entry.path.name.startswith("m-image-")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("INFOGAUSS_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert EmbeddingCache().root == tmp_path / "c"
    monkeypatch.delenv("INFOGAUSS_CACHE")
    assert default_cache_dir().parts[-2:] == ("infogauss", "embeddings")


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_outputs_round_trip(tmp_path, suffix):
    from infogauss_cli.data.readers import read_matrix

    arr = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    ids = [f"img/{i}.jpg" for i in range(7)]
    path = tmp_path / "out" / f"e{suffix}"
    written = save_embeddings(path, arr, ids, {"model": "m", "n": 7})
    assert written[0] == path
    if suffix == ".npy":
        assert written[1] == tmp_path / "out" / "e.ids.json"
    back = load_embeddings(path)
    assert back.embeddings.dtype == np.float32 and np.array_equal(back.embeddings, arr)
    assert back.ids == tuple(ids)
    assert back.meta["model"] == "m" and back.meta["schema"] == "infogauss.embeddings/v1"
    assert np.array_equal(read_matrix(path), arr)  # `infogauss check FILE` reads it too


def test_output_errors(tmp_path):
    arr = np.zeros((2, 3), np.float32)
    with pytest.raises(BadInputError, match="unknown extension"):
        save_embeddings(tmp_path / "e.txt", arr, ["a", "b"])
