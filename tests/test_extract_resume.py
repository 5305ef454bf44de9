"""Interrupted extraction (kill -9, Ctrl-C) resumes from the cache, bit-identical on CPU."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from infogauss_cli.extract import EngineOptions, extract
from tests.test_extract import image_folder, image_items, make_image_encoder

ROOT = Path(__file__).resolve().parents[1]
OPTS = EngineOptions(batch_size=4, workers=1, chunk_items=8)
KW = {}

SCRIPT = """
import signal, sys, time
from pathlib import Path
# a background job of a non-interactive shell inherits SIGINT ignored: restore Ctrl-C
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {root!r})
from tests.test_extract import forward_pixels, image_items, make_image_encoder
from infogauss_cli.extract import EngineOptions, extract

def slow(module, batch):
    time.sleep({delay})
    return forward_pixels(module, batch)

enc = make_image_encoder(forward=slow)
extract(enc, image_items(Path({folder!r})), {opts!r}, cache={cache!r}, **{kw!r})
print("finished")
"""


def _start(folder: Path, cache: Path, delay: float) -> subprocess.Popen:
    code = SCRIPT.format(
        root=str(ROOT), folder=str(folder), cache=str(cache), delay=delay, opts=OPTS, kw=KW
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_chunk(proc: subprocess.Popen, cache: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(cache.glob("*/chunk-000000.json")):
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"extraction ended before the first chunk was seen:\n{out}\n{err}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no cache chunk appeared in time")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return image_folder(tmp_path_factory, 60, 3)


def _interrupt(folder: Path, cache: Path, sig: int) -> subprocess.Popen:
    """Start a slow extraction, send ``sig`` once its first chunk is in the cache."""
    proc = _start(folder, cache, delay=0.25)
    _wait_for_first_chunk(proc, cache)
    proc.send_signal(sig)
    return proc


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
