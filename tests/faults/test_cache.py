"""The cache under faults: two writers on one entry, corrupted chunks seen through the CLI.
(kill -9 and Ctrl-C resume: tests/extract/test_extract_resume.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from infogauss_cli.extract.engine import extract
from infogauss_cli.extract.plan import EngineOptions
from tests.support.cli import invoke
from tests.support.embeddings import load_embeddings
from tests.support.encoders import _start, image_folder, image_items, make_image_encoder

OPTS = EngineOptions(batch_size=4, workers=0, chunk_items=8)
KW = {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return image_folder(tmp_path_factory, 16, 5)


@pytest.mark.slow
def test_two_writers_on_one_cache_entry(folder, tmp_path):
    cache = tmp_path / "cache"
    procs = [_start(folder, cache, delay=0.05) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert "finished" in out
    assert not list(cache.glob("*/.*.tmp"))  # no temporary file left behind
    reread = extract(make_image_encoder(), image_items(folder), OPTS, cache=cache, **KW)
    fresh = extract(make_image_encoder(), image_items(folder), OPTS, **KW)
    assert reread.from_cache == 1.0 and reread.notes == ()  # every chunk verifies
    assert np.array_equal(reread.embeddings, fresh.embeddings)


def test_corrupted_chunk_through_the_cli(fakes, folder, tmp_path):
    cache = tmp_path / "c"
    args = ("extract", "tiny-cnn", "--data", f"images:{folder}", "--cache-dir", cache)
    r = invoke(*args, "--out", tmp_path / "a.npy")
    assert r.exit_code == 0, r.output
    (chunk,) = sorted(cache.glob("*/chunk-000000.npy"))[:1]
    data = bytearray(chunk.read_bytes())
    data[-3] ^= 0xFF
    chunk.write_bytes(bytes(data))
    r = invoke(*args, "--out", tmp_path / "b.npy")
    assert r.exit_code == 0, r.output
    assert "corrupt" in r.output and "Traceback" not in r.output
    a, b = load_embeddings(tmp_path / "a.npy"), load_embeddings(tmp_path / "b.npy")
    assert np.array_equal(a.embeddings, b.embeddings)
