"""Sharded extraction without torchrun (fast): ``--shard K/N`` pieces with tiny offline
encoders, the process roles read from torchrun's environment, and the cache key that holds
neither the batch size nor install paths (issue 16)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Compute
from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.distributed import (
    FINAL,
    Message,
    Shard,
    agreed_code,
    current_shard,
    is_main,
    parse_shard,
)
from infogauss_cli.extract.engine import extract
from infogauss_cli.extract.plan import EngineOptions, make_plan, owned_chunks
from infogauss_cli.extract.result import ShardWork
from tests.support.cli import invoke
from tests.support.encoders import make_text_encoder
from tests.support.models import bert_entry

OPTS = EngineOptions(batch_size=4, workers=0, chunk_items=8)
KW = {}
TORCHRUN_ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK")


@pytest.fixture
def no_torchrun(monkeypatch):
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def text_setup():
    enc = make_text_encoder()
    items = [
        Item(f"s{k:03d}", text=f"sentence number {k} says {'word ' * (k % 7)}") for k in range(61)
    ]
    ref = extract(enc, items, OPTS, **KW)  # no cache, one process
    return enc, items, ref


# ---- roles --------------------------------------------------------------------------------------
def test_parse_shard():
    assert parse_shard("1/4") == (1, 4) and parse_shard(" 3 / 3 ") == (3, 3)
    for bad in ("0/4", "5/4", "1/0", "a/b", "2", "", "1/2/3", "-1/2"):
        with pytest.raises(BadInputError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(BadInputError, match="--shard 3/2"):
        Compute(shard="3/2")


def test_roles_from_the_environment(monkeypatch, no_torchrun):
    assert current_shard() == Shard() and Shard().assembles and not Shard().synced and is_main()
    job = current_shard("2/3")
    assert (job.rank, job.world, job.mode) == (1, 3, "job") and not job.assembles
    assert job.label == "shard 2/3"
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun with one process: a single process
    assert current_shard() == Shard()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    rank2 = current_shard()
    assert (rank2.rank, rank2.world, rank2.local_rank, rank2.mode) == (2, 4, 0, "torchrun")
    assert rank2.synced and not rank2.assembles and not is_main()
    assert rank2.device("cpu") == "cpu" and rank2.device("cuda:3") == "cuda:3"
    assert Shard(0, 4, 3, "torchrun").device("cuda") == "cuda:3"  # cuda:LOCAL_RANK
    with pytest.raises(BadInputError, match="drop --shard"):
        current_shard("1/2")
    monkeypatch.setenv("RANK", "7")
    with pytest.raises(BadInputError, match="RANK=7"):
        current_shard()


def test_agreed_exit_code():
    fin = [Message(FINAL, 0), Message(FINAL, 1), Message(FINAL, 0)]
    assert agreed_code(fin) == 1  # a gate failed somewhere: every rank exits 1
    assert agreed_code([Message(FINAL, 2), Message(FINAL, 3)]) == 2  # rank 0's own error first
    assert agreed_code([Message("chunks", 0), Message(FINAL, 3)]) == 3  # rank 1 left early
    assert agreed_code([Message(FINAL, 0), Message(FINAL, 0)]) == 0


# ---- --shard K/N pieces --------------------------------------------------------------------------
def test_shards_then_a_plain_run_equal_one_process_and_recompute_nothing(
    text_setup, tmp_path, no_torchrun
):
    enc, items, ref = text_setup
    works = [
        extract(enc, items, replace(OPTS, shard=Shard(k, 3, 0, "job")), cache=tmp_path)
        for k in range(3)
    ]
    assert all(isinstance(w, ShardWork) for w in works)
    plan = make_plan([it.id for it in items], 4, 8)  # 61 items: 8 chunks, not divisible by 3
    assert [w.chunks for w in works] == [tuple(owned_chunks(plan, k, 3)) for k in range(3)]
    assert sum(w.items for w in works) == 61 and all(w.computed == len(w.chunks) for w in works)
    again = extract(enc, items, replace(OPTS, shard=Shard(1, 3, 0, "job")), cache=tmp_path)
    assert again.computed == 0 and again.chunks == works[1].chunks  # a rerun piece is free
    full = extract(enc, items, OPTS, cache=tmp_path)
    assert full.from_cache == 1.0  # nothing recomputed
    assert np.array_equal(full.embeddings, ref.embeddings) and full.ids == ref.ids
    assert len(set(full.ids)) == 61  # no padded duplicates
    # another split and another batch size reuse the same chunks
    other = extract(
        enc, items, replace(OPTS, batch_size=3, shard=Shard(0, 2, 0, "job")), cache=tmp_path
    )
    assert other.computed == 0


def test_a_plain_run_computes_what_the_shards_left(text_setup, tmp_path, no_torchrun):
    enc, items, ref = text_setup
    first = extract(enc, items, replace(OPTS, shard=Shard(0, 2, 0, "job")), cache=tmp_path)
    full = extract(enc, items, OPTS, cache=tmp_path, **KW)
    assert full.from_cache == pytest.approx(first.items / 61)
    assert np.array_equal(full.embeddings, ref.embeddings)


def test_shards_need_the_cache(text_setup, no_torchrun):
    enc, items, _ = text_setup
    with pytest.raises(BadInputError, match="--shard needs the embedding cache"):
        extract(enc, items, replace(OPTS, shard=Shard(0, 2, 0, "job")))


def test_shard_option_on_the_cli(fakes, tmp_path, no_torchrun):
    text = tmp_path / "s.txt"
    text.write_text("\n".join(f"line {k} of the text" for k in range(40)) + "\n")
    common = ["--data", f"text:{text}", "--cache-dir", tmp_path / "c", "--batch-size", "4"]
    r1 = invoke("extract", "tiny-clip", *common, "--out", tmp_path / "e.npy", "--shard", "1/2")
    assert r1.exit_code == 0, r1.output
    assert "shard 1/2: done" in r1.output and not (tmp_path / "e.npy").exists()
    r2 = invoke("audit", "tiny-clip", *common, "--shard", "2/2", "--json", tmp_path / "r.json")
    assert r2.exit_code == 0, r2.output
    assert "shard 2/2" in r2.output and not (tmp_path / "r.json").exists()
    r3 = invoke("extract", "tiny-clip", *common, "--out", tmp_path / "e.npy")
    assert r3.exit_code == 0, r3.output
    assert "100% from cache" in r3.output  # the shards computed everything
    r4 = invoke("extract", "tiny-clip", *common, "--out", tmp_path / "ref.npy", "--no-cache")
    assert r4.exit_code == 0, r4.output
    assert np.array_equal(np.load(tmp_path / "e.npy"), np.load(tmp_path / "ref.npy"))
    bad = invoke("audit", "tiny-clip", *common, "--shard", "3/2")
    assert bad.exit_code == 2 and "--shard 3/2" in bad.output
    off = invoke("audit", "tiny-clip", *common, "--shard", "1/2", "--no-cache")
    assert off.exit_code == 2 and "needs the embedding cache" in off.output


# ---- the cache key (issue 16 item 4) ------------------------------------------------------------
def test_same_weights_elsewhere_give_the_same_identity(tmp_path):
    from infogauss_cli.models.digest import path_identity

    a = tmp_path / "venv-a" / "model"
    a.mkdir(parents=True)
    (a / "config.json").write_text("{}")
    (a / "model.safetensors").write_bytes(b"\x00" * 1000 + b"weights")
    b = tmp_path / "venv-b" / "site-packages" / "model"
    shutil.copytree(a, b)  # another install: other path, other mtimes
    assert path_identity(a) == path_identity(b)
    assert str(tmp_path) not in path_identity(a)
    assert path_identity(a / "model.safetensors") == path_identity(b / "model.safetensors")
    (b / "model.safetensors").write_bytes(b"\x00" * 1000 + b"weightz")  # other weights
    assert path_identity(a) != path_identity(b)


def test_same_model_from_two_installs_hits_the_cache(tiny_bert_folder, tmp_path, no_torchrun):
    """The same weights in two folders (two virtual environments) and two batch sizes: the
    second run is served from the cache."""
    from infogauss_cli.models.catalogue import build_encoder

    other = tmp_path / "other-venv" / "tiny-bert"
    shutil.copytree(tiny_bert_folder, other)
    items = [Item(f"t{k}", text=f"text number {k}") for k in range(20)]

    def run(folder, batch_size):
        enc = build_encoder(bert_entry(folder), "text")
        return extract(
            enc, items, replace(OPTS, batch_size=batch_size), cache=tmp_path / "cache", **KW
        )

    first = run(tiny_bert_folder, 4)
    second = run(other, 8)
    assert first.from_cache == 0 and second.from_cache == 1.0
    assert first.cache_path == second.cache_path
    assert np.array_equal(first.embeddings, second.embeddings)
