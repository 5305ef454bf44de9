"""Items -> fixed chunks of the cache, their batches, and which chunks a process owns.

Determinism: the item list is cut into chunks of ``chunk_size`` items (``chunk_items``, default
:func:`default_chunk_items`: 512, or ``$INFOGAUSS_CHUNK_ITEMS``) and every chunk into batches
of at most ``batch_size`` consecutive items (a batch never spans two chunks; the last batch of a
chunk may be smaller). The chunks depend only on the item list and the chunk size, never on the
batch size, the number of processes, what was cached before or where a run was interrupted, so
the cache key holds neither the batch size nor the world size, and a run resumed with another
batch size or another number of processes reuses every finished chunk. Which items share a
batch depends only on (item list, chunk size, batch size): the same for every split.

The seam for sharding: :func:`owned_chunks` says which chunks process ``rank`` of ``world``
computes (disjoint, covering, balanced by item count, never padded); every chunk is read from
the shared cache when the result is assembled, so any split gives the same matrix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item

DEFAULT_CHUNK_ITEMS = 512
CHUNK_ENV = "INFOGAUSS_CHUNK_ITEMS"


def default_chunk_items() -> int:
    """``$INFOGAUSS_CHUNK_ITEMS`` if set (a positive integer), else 512."""
    text = os.environ.get(CHUNK_ENV, "").strip()
    if not text:
        return DEFAULT_CHUNK_ITEMS
    if not text.isdigit() or int(text) < 1:
        raise BadInputError(f"{CHUNK_ENV}={text!r}: expected a positive number of items")
    return int(text)


@dataclass(frozen=True)
class Plan:
    """``n`` items with ids ``ids`` in chunks of ``chunk_size``, batches of at most
    ``batch_size`` inside each chunk."""

    ids: tuple[str, ...]
    batch_size: int
    chunk_size: int

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def n_chunks(self) -> int:
        return math.ceil(self.n / self.chunk_size)

    def bounds(self, chunk: int) -> tuple[int, int]:
        """Item range ``[start, stop)`` of one chunk."""
        start = chunk * self.chunk_size
        return start, min(self.n, start + self.chunk_size)

    def chunk_of(self, index: int) -> int:
        return index // self.chunk_size

    def batches(self, chunks: Iterable[int]) -> list[list[int]]:
        """Item indices of every batch of ``chunks``, in order (a batch never spans chunks)."""
        out = []
        for c in chunks:
            start, stop = self.bounds(c)
            out += [
                list(range(b, min(b + self.batch_size, stop)))
                for b in range(start, stop, self.batch_size)
            ]
        return out


def make_plan(ids: Sequence[str], batch_size: int, chunk_items: int | None = None) -> Plan:
    """Chunks of ``chunk_items`` items (default :func:`default_chunk_items`), batches of at
    most ``batch_size`` items inside them."""
    if batch_size < 1:
        raise BadInputError(f"--batch-size {batch_size}: must be at least 1")
    size = default_chunk_items() if chunk_items is None else chunk_items
    if size < 1:
        raise BadInputError(f"chunk size {size}: must be at least 1 item")
    return Plan(tuple(ids), batch_size, size)


def chunk_owners(plan: Plan, world: int = 1) -> list[int]:
    """The rank that computes each chunk: chunks in order of decreasing item count (stable) go
    to the rank with the fewest items so far (ties: the lowest rank). Deterministic; equal
    chunks are dealt round robin; no chunk is given twice and none is invented (no padding)."""
    if world < 1:
        raise BadInputError(f"world size {world}: must be at least 1")
    load = [0] * world
    owner = [0] * plan.n_chunks
    sizes = [plan.bounds(c)[1] - plan.bounds(c)[0] for c in range(plan.n_chunks)]
    for c in sorted(range(plan.n_chunks), key=lambda c: -sizes[c]):
        rank = min(range(world), key=lambda r: (load[r], r))
        owner[c] = rank
        load[rank] += sizes[c]
    return owner


def owned_chunks(plan: Plan, rank: int = 0, world: int = 1) -> list[int]:
    """The chunks process ``rank`` (0-based) of ``world`` computes, in order (see
    :func:`chunk_owners`): disjoint across ranks, together every chunk exactly once."""
    if world < 1 or not 0 <= rank < world:
        raise BadInputError(f"shard {rank + 1}/{world}: need 1 <= K <= N")
    return [c for c, r in enumerate(chunk_owners(plan, world)) if r == rank]


def check_items(items: Sequence[Item], tower: str) -> None:
    """Non-empty, every item fit for ``tower``, ids unique; else :class:`BadInputError`."""
    if not items:
        raise BadInputError("no items to embed")
    if tower == "text":
        bad = next((it for it in items if it.text is None), None)
        if bad is not None:
            raise BadInputError(f"item {bad.id!r} has no text; the text tower needs text items")
    else:
        bad = next((it for it in items if it.path is None and it.image is None), None)
        if bad is not None:
            raise BadInputError(f"item {bad.id!r} has no image; the image tower needs images")
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise BadInputError(f"duplicate item id {it.id!r}; ids must be unique")
        seen.add(it.id)


def subset_indices(count: int, n: int | None, seed: int = 0) -> list[int] | None:
    """The sorted positions of the seeded subset of ``n`` of ``count`` items
    (:func:`select_items`), or None for all of them."""
    if n is None or n >= count:
        return None
    import numpy as np

    keep = np.sort(np.random.default_rng(seed).choice(count, size=n, replace=False))
    return [int(i) for i in keep]
