"""The extraction plan: fixed chunks, batches within chunks, and chunk ownership (the sharding
seam), independent of torch."""

from __future__ import annotations

import pytest

from infogauss_cli.errors import BadInputError
from infogauss_cli.extract import chunk_size_for, make_plan, owned_chunks


def test_chunks_and_batches_cover_every_item_once():
    plan = make_plan([f"i{k}" for k in range(1000)], batch_size=48, chunk_items=256)
    assert plan.chunk_size == 288 == chunk_size_for(48, 256)
    assert plan.n_chunks == 4 and plan.bounds(3) == (864, 1000)
    batches = plan.batches(range(plan.n_chunks))
    assert [i for b in batches for i in b] == list(range(1000))
    assert all(len({plan.chunk_of(i) for i in b}) == 1 for b in batches)  # never span chunks
    assert max(len(b) for b in batches) == 48


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
