"""Items -> fixed cache chunks (never dependent on the batch size or the split, so any rerun
reuses every finished chunk) and their batches; which chunks a process owns (:class:`Shard`);
how the engine computes them (:class:`EngineOptions`)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item

SHARED_HINT = (
    "under torchrun every rank reads and writes one cache folder, so --cache-dir (or "
    "$INFOGAUSS_CACHE) must be on a file system that every node mounts at the same path "
    "(docs/scale.md)"
)


@dataclass(frozen=True)
class Shard:
    """``rank`` (0-based) of ``world``; ``mode``: ``single``, ``torchrun`` (ranks meet, rank 0
    reports) or ``job`` (``--shard K/N``: compute the piece and exit)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    mode: Literal["single", "torchrun", "job"] = "single"

    @property
    def synced(self) -> bool:
        return self.mode == "torchrun"

    @property
    def assembles(self) -> bool:
        return self.mode == "single" or (self.mode == "torchrun" and self.rank == 0)

    @property
    def label(self) -> str:
        if self.mode == "job":
            return f"shard {self.rank + 1}/{self.world}"
        return f"rank {self.rank} of {self.world}" if self.synced else "single process"

    def device(self, device: str) -> str:
        """Under torchrun, ``auto`` (with CUDA) and ``cuda`` mean ``cuda:LOCAL_RANK``."""
        d = (device or "auto").strip().lower()
        if not self.synced or d not in ("auto", "cuda"):
            return device
        import torch

        if d == "auto" and not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{self.local_rank}"


DEFAULT_CHUNK_ITEMS = 512
TEXT_CHUNK_ITEMS = 2048  # text chunks: wide enough for length buckets, still small (6 MB at 768-d)
CHUNK_ENV = "INFOGAUSS_CHUNK_ITEMS"


def chunk_size(chunk_items: int | None = None, tower: str = "image") -> int:
    """``chunk_items``, else ``$INFOGAUSS_CHUNK_ITEMS``, else 512 items (text: 2048)."""
    if chunk_items is not None:
        return chunk_items
    text = os.environ.get(CHUNK_ENV, "").strip()
    if not text:
        return TEXT_CHUNK_ITEMS if tower == "text" else DEFAULT_CHUNK_ITEMS
    if not text.isdigit() or int(text) < 1:
        raise BadInputError(f"{CHUNK_ENV}={text!r}: expected a positive number of items")
    return int(text)


@dataclass(frozen=True)
class Plan:
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
        start = chunk * self.chunk_size
        return start, min(self.n, start + self.chunk_size)

    def chunk_of(self, index: int) -> int:
        return index // self.chunk_size

    def batches(
        self, chunks: Iterable[int], lengths: Sequence[int] | Mapping[int, int] | None = None
    ) -> list[list[int]]:
        """Each chunk's items (sorted stably by ``lengths``, if given: length buckets) cut into
        batches; a batch never spans chunks, so a resumed run batches the same way."""
        out = []
        for c in chunks:
            order = list(range(*self.bounds(c)))
            if lengths is not None:
                order.sort(key=lengths.__getitem__)
            out += [order[b : b + self.batch_size] for b in range(0, len(order), self.batch_size)]
        return out


def make_plan(ids: Sequence[str], batch_size: int, chunk_items: int | None = None) -> Plan:
    return Plan(tuple(ids), batch_size, chunk_size(chunk_items))


def owned_chunks(plan: Plan, rank: int = 0, world: int = 1) -> list[int]:
    """Chunk ``c`` is rank ``c mod world``'s (equal chunks but the last: balanced by items)."""
    if world < 1 or not 0 <= rank < world:
        raise BadInputError(f"shard {rank + 1}/{world}: need 1 <= K <= N")
    return list(range(rank, plan.n_chunks, world))


def check_items(items: Sequence[Item], tower: str) -> None:
    """Non-empty, every item fit for ``tower``, ids unique."""
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
    """The sorted positions of the seeded subset of ``n`` of ``count`` items (None: all)."""
    if n is None or n >= count:
        return None
    import numpy as np

    keep = np.sort(np.random.default_rng(seed).choice(count, size=n, replace=False))
    return [int(i) for i in keep]


@dataclass(frozen=True)
class EngineOptions:
    """How ``extract`` computes (None: the device's default); ``bucket``: text batches sorted by
    length. Only precision, chunk size and decode enter the cache key."""

    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None
    workers: int | None = None
    chunk_items: int | None = None
    bucket: bool = True
    compile: bool = False
    decode: str = "cpu"
    strict: bool = False
    shard: Shard = field(default_factory=Shard, repr=False)

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise BadInputError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.workers is not None and self.workers < 0:
            raise BadInputError(f"--workers {self.workers}: must be 0 or more")
        if self.chunk_items is not None and self.chunk_items < 1:
            raise BadInputError(f"chunk size {self.chunk_items}: must be at least 1 item")
