"""Items -> fixed chunks of the cache, their batches, and which chunks this process owns.

Determinism: the item list is cut into chunks of ``chunk_size`` items (the smallest multiple of
the batch size >= ``chunk_items``) and every chunk into batches of ``batch_size`` consecutive
items, so which items share a batch depends only on (item list, batch size), never on what was
cached before, where a run was interrupted, or how many processes share the work.

The seam for sharding: :func:`owned_chunks` says which chunks process ``rank`` of ``world``
computes (round robin); every process reads every chunk from the shared cache when it
assembles, so any split of the chunks gives the same matrix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import BadInputError
from ..sources.base import Item

DEFAULT_CHUNK_ITEMS = 256


def chunk_size_for(batch_size: int, chunk_items: int = DEFAULT_CHUNK_ITEMS) -> int:
    """The smallest multiple of ``batch_size`` that holds at least ``chunk_items`` items."""
    return batch_size * max(1, math.ceil(chunk_items / batch_size))


@dataclass(frozen=True)
class Plan:
    """``n`` items with ids ``ids`` in chunks of ``chunk_size``, batches of ``batch_size``."""

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


def make_plan(ids: Sequence[str], batch_size: int, chunk_items: int = DEFAULT_CHUNK_ITEMS) -> Plan:
    return Plan(tuple(ids), batch_size, chunk_size_for(batch_size, chunk_items))


def owned_chunks(plan: Plan, rank: int = 0, world: int = 1) -> list[int]:
    """The chunks process ``rank`` of ``world`` computes: every ``world``-th one from ``rank``."""
    if world < 1 or not 0 <= rank < world:
        raise BadInputError(f"shard {rank + 1}/{world}: need 1 <= K <= N")
    return list(range(rank, plan.n_chunks, world))


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
