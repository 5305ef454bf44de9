"""The extraction plan: fixed chunks, batches within chunks, and chunk ownership (the sharding
seam), independent of torch."""

from __future__ import annotations

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.extract.plan import chunk_size, make_plan, owned_chunks


def test_chunks_and_batches_cover_every_item_once():
    plan = make_plan([f"i{k}" for k in range(1000)], batch_size=48, chunk_items=256)
    assert plan.chunk_size == 256  # the chunk size, whatever the batch size
    assert plan.n_chunks == 4 and plan.bounds(3) == (768, 1000)
    batches = plan.batches(range(plan.n_chunks))
    assert [i for b in batches for i in b] == list(range(1000))
    assert all(len({plan.chunk_of(i) for i in b}) == 1 for b in batches)  # never span chunks
    assert max(len(b) for b in batches) == 48
    assert [len(b) for b in plan.batches([0])] == [48] * 5 + [16]  # the chunk's last is short
    # a batch larger than a chunk runs chunk-sized batches
    big = make_plan([f"i{k}" for k in range(1000)], batch_size=1000, chunk_items=256)
    assert [len(b) for b in big.batches(range(4))] == [256, 256, 256, 232]


@pytest.mark.parametrize("world", [1, 2, 3, 7])
def test_owned_chunks_partition_the_plan(world):
    plan = make_plan([str(k) for k in range(2000)], batch_size=16)
    owned = [owned_chunks(plan, rank, world) for rank in range(world)]
    flat = sorted(c for part in owned for c in part)
    assert flat == list(range(plan.n_chunks))
    # the plan (and so the cache chunks) does not depend on the split
    assert make_plan([str(k) for k in range(2000)], 16) == plan


def test_bad_shards_are_refused():
    plan = make_plan(["a"], 4)
    for rank, world in ((1, 1), (-1, 2), (0, 0)):
        with pytest.raises(BadInputError):
            owned_chunks(plan, rank, world)


@pytest.mark.parametrize(
    ("n", "chunk", "world"), [(1000, 256, 3), (301, 32, 2), (5, 2, 4), (7, 8, 3)]
)
def test_shares_are_disjoint_covering_balanced_and_never_padded(n, chunk, world):
    plan = make_plan([str(k) for k in range(n)], batch_size=5, chunk_items=chunk)
    owned = [owned_chunks(plan, rank, world) for rank in range(world)]
    items = [i for part in owned for c in part for i in range(*plan.bounds(c))]
    assert sorted(items) == list(range(n))  # every item exactly once: no duplicate, no pad
    assert all(part == sorted(part) for part in owned)
    loads = [sum(plan.bounds(c)[1] - plan.bounds(c)[0] for c in part) for part in owned]
    assert max(loads) - min(loads) <= chunk  # balanced by item count, within one chunk
    assert owned_chunks(plan, 0, world) == owned[0]  # deterministic


def test_chunk_size_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("INFOGAUSS_CHUNK_ITEMS", "64")
    assert chunk_size() == 64 and make_plan(["a"] * 1, 8).chunk_size == 64
    monkeypatch.setenv("INFOGAUSS_CHUNK_ITEMS", "zero")
    with pytest.raises(BadInputError, match="INFOGAUSS_CHUNK_ITEMS"):
        chunk_size()
