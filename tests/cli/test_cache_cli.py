"""`infogauss cache list | prune | verify` and the weights-hash memo under its lock."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from infogauss_cli.extract.engine import extract
from infogauss_cli.extract.plan import EngineOptions
from tests.support.cli import invoke
from tests.support.encoders import image_items, make_image_encoder, make_text_encoder, write_images

OPTS = EngineOptions(batch_size=4, workers=0, chunk_items=8)


@pytest.fixture
def cache(tmp_path):
    """A cache with two entries (an image and a text encoder), the image one 40 days old."""
    from infogauss_cli.data.sources.base import Item

    write_images(tmp_path / "imgs", 12)
    root = tmp_path / "cache"
    image = extract(make_image_encoder(), image_items(tmp_path / "imgs"), OPTS, cache=root)
    texts = [Item(id=f"t{i}", text=f"sentence number {i}") for i in range(10)]
    extract(make_text_encoder(), texts, OPTS, cache=root)
    old = time.time() - 40 * 86400
    os.utime(os.path.join(image.cache_path, "meta.json"), (old, old))
    return root, image


def test_list_shows_every_entry(cache):
    root, _ = cache
    r = invoke("cache", "list", "--json", "--cache-dir", root)
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    entries = {e["tower"]: e for e in listed["entries"]}
    assert set(entries) == {"image", "text"}
    assert entries["image"]["items"] == 12 and entries["image"]["chunks"] == 2
    assert entries["image"]["age_s"] > 39 * 86400 and entries["text"]["age_s"] < 3600
    assert listed["size_bytes"] == sum(e["size_bytes"] for e in entries.values()) > 0
    table = invoke("cache", "list", "--cache-dir", root)
    assert table.exit_code == 0 and "2 entries" in table.output


def test_prune_by_age_dry_run_then_for_real(cache):
    root, image = cache
    name = os.path.basename(image.cache_path)
    dry = invoke("cache", "prune", "--older-than", "30d", "--dry-run", "--cache-dir", root)
    assert dry.exit_code == 0 and f"would remove {name}" in dry.output
    assert os.path.isdir(image.cache_path)
    real = invoke("cache", "prune", "--older-than", "30d", "--cache-dir", root)
    assert real.exit_code == 0 and f"removed {name}" in real.output
    assert not os.path.exists(image.cache_path)
    left = json.loads(invoke("cache", "list", "--json", "--cache-dir", root).stdout)
    assert [e["tower"] for e in left["entries"]] == ["text"]
    assert invoke("cache", "prune", "--cache-dir", root).exit_code == 2  # nothing chosen
    assert invoke("cache", "prune", "--older-than", "soon", "--cache-dir", root).exit_code == 2


def test_prune_by_model(cache):
    root, image = cache
    r = invoke("cache", "prune", "--model", image.model_id, "--cache-dir", root)
    assert r.exit_code == 0 and "removed 1 entry" in r.output
    assert not os.path.exists(image.cache_path)


def test_verify_names_a_bad_chunk(cache):
    root, image = cache
    ok = invoke("cache", "verify", "--cache-dir", root)
    assert ok.exit_code == 0 and "0 bad" in ok.output
    chunk = Path(image.cache_path) / "chunk-000001.npy"
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 0xFF
    chunk.write_bytes(bytes(data))
    bad = invoke("cache", "verify", "--cache-dir", root)
    assert bad.exit_code == 1
    assert f"bad chunk {chunk}: sha256 mismatch" in bad.output and "1 bad" in bad.output


def test_weights_memo_keeps_concurrent_entries(tmp_path, monkeypatch):
    """Several threads hashing different files at once: every digest ends up in the memo
    (read-modify-write under the lock), and the memo stays valid JSON."""
    from infogauss_cli.models import digest as weights_digest

    monkeypatch.setenv("INFOGAUSS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(weights_digest, "_memo", {})
    files = []
    for i in range(8):
        f = tmp_path / f"w{i}.bin"
        f.write_bytes(os.urandom(1000 + i))
        files.append(f)
    threads = [threading.Thread(target=weights_digest.file_sha256, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = json.loads((tmp_path / "cache" / weights_digest.HASH_MEMO).read_text())
    assert len(stored) == 8
