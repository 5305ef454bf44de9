"""Interrupted extraction (kill -9, Ctrl-C) resumes from the cache, bit-identical on CPU."""

from __future__ import annotations

import signal

import numpy as np
import pytest

from infogauss_cli.extract.engine import extract
from tests.support.encoders import (
    KW,
    OPTS,
    _interrupt,
    image_folder,
    image_items,
    make_image_encoder,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return image_folder(tmp_path_factory, 60, 3)


@pytest.mark.slow
def test_kill_9_then_resume_is_bit_identical(folder, tmp_path):
    cache = tmp_path / "cache"
    proc = _interrupt(folder, cache, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    written = len(list(cache.glob("*/chunk-*.json")))
    assert 1 <= written < 8, written  # killed mid-run: some chunks on disk, not all

    resumed = extract(make_image_encoder(), image_items(folder), OPTS, cache=cache, **KW)
    assert 0 < resumed.from_cache < 1
    assert resumed.from_cache == pytest.approx(written * 8 / 60)
    uncached = extract(make_image_encoder(), image_items(folder), OPTS, **KW)
    assert resumed.ids == uncached.ids
    assert np.array_equal(resumed.embeddings, uncached.embeddings)  # bit for bit
    assert len(list(cache.glob("*/chunk-*.json"))) == 8
    assert not list(cache.glob("*/.*.tmp"))


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(folder, tmp_path):
    cache = tmp_path / "cache"
    proc = _interrupt(folder, cache, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "finished" not in out, (out, err[-2000:])
    assert "RunError: interrupted; rerun the same command to resume (" in err
    assert "of 60 items cached)" in err
    resumed = extract(make_image_encoder(), image_items(folder), OPTS, cache=cache, **KW)
    assert 0 < resumed.from_cache < 1
