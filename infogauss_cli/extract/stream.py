"""A stream of items (any iterable that is not a sequence), consumed chunk by chunk.

Read ``chunk_items`` items; look the chunk up in the cache (its sidecar holds the digest of its
ids: a chunk is reused only for the same ids); compute it if missing and write it; drop the
items; read the next chunk. Memory holds one chunk of items (plus the ids read so far), never
the whole stream. The cache entry of a stream is keyed on the data fingerprint with a
``stream`` marker instead of the item count and ids (they are known only at the end); when the
stream ends, ``stream.json`` in the entry records the count and the ids' digest.

Several processes (``--shard K/N``, torchrun): every process reads the whole stream, counting
items, and computes only the chunks it owns (chunk ``c`` goes to rank ``c mod world``, which is
what :func:`~.plan.chunk_owners` gives for equal chunks); the items of other chunks are not
loaded. A chunk computed here is bit-identical (CPU) to the same chunk of the list path: the
same items, the same batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from ..atomic import atomic_write_bytes
from ..errors import BadInputError, RunError
from ..sources.base import Item, default_loader, item_count
from ..store import CacheEntry, Chunk, ids_digest
from .job import Job, Share, chunk_size_of, feed, inference
from .loader import bucket_batches, default_workers, make_loader, text_lengths
from .plan import Plan, check_items, make_plan
from .progress import make_progress
from .result import raise_if_skipped
from .runner import Runner
from .writer import ChunkWriter

MANIFEST = "stream.json"


class _Shifted:
    """The cache entry as a one-chunk plan sees it: its chunk 0 is the stream's chunk
    ``index``, starting at item ``start``."""

    def __init__(self, entry: CacheEntry, index: int, start: int) -> None:
        self.entry, self.index, self.start = entry, index, start
        self.path = entry.path

    def write_chunk(self, chunk: Chunk, ids: Any) -> None:
        shifted = replace(
            chunk, index=self.index, start=self.start + chunk.start, stop=self.start + chunk.stop
        )
        self.entry.write_chunk(shifted, ids)


def chunks_of(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Lists of ``size`` consecutive items (the last may be shorter). The caller drops each
    list before asking for the next, so that at most one chunk of items is alive."""
    buf: list[Item] = []
    for item in items:
        buf.append(item)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


class _Stream:
    """The state of one process reading a stream: ids so far, chunks found or computed."""

    def __init__(self, job: Job, device: str, precision: str, batch_size: int, size: int) -> None:
        self.job, self.device, self.precision = job, device, precision
        self.batch_size, self.size = batch_size, size
        self.entry: CacheEntry | None = None
        self.ids: list[str] = []
        self.seen: set[str] = set()
        self.done: dict[int, Chunk] = {}
        self.mine: list[int] = []
        self.cached: list[int] = []
        self.runner: Runner | None = None
        self.workers = 0

    def step(self, c: int, chunk: list[Item], advance: Callable[[int], None]) -> None:
        """Chunk ``c``: check it, count it, then (when this process owns it) read it from the
        cache or compute it."""
        job = self.job
        check_items(chunk, job.encoder.tower)
        ids = [it.id for it in chunk]
        dup = next((i for i in ids if i in self.seen), None)
        if dup is not None:
            raise BadInputError(f"duplicate item id {dup!r}; ids must be unique")
        self.seen.update(ids)
        start = len(self.ids)
        self.ids += ids
        if c % job.shard.world != job.shard.rank:
            advance(len(chunk))
            return
        self.mine.append(c)
        if self.entry is not None:
            found, problem = self.entry.read_chunk(c, start, start + len(ids), ids, job.encoder.dim)
            if found is not None:
                if job.options.strict:
                    raise_if_skipped([(i, r) for _, i, r in found.skipped])
                self.done[c] = found
                self.cached.append(c)
                advance(len(chunk))
                return
            if problem is not None:
                job.say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
        self._compute(c, start, chunk, advance)

    def _compute(
        self, c: int, start: int, chunk: list[Item], advance: Callable[[int], None]
    ) -> None:
        job, options, enc = self.job, self.job.options, self.job.encoder
        local = make_plan([it.id for it in chunk], self.batch_size, self.size)  # one chunk
        if options.bucket and enc.tower == "text":
            batches = bucket_batches(local, [0], text_lengths(chunk))
        else:
            batches = local.batches([0])
        workers = (
            default_workers(self.device, enc.tower) if options.workers is None else options.workers
        )
        workers = min(workers, len(batches))
        self.workers = max(self.workers, workers)
        load = job.loader or default_loader(enc.tower)
        pipe = make_loader(chunk, enc, load, batches, workers, self.device, options.decode)
        if self.runner is None:
            for note in pipe.notes:
                job.say(note)
            self.runner = Runner(
                enc,
                self.device,
                self.precision,
                self.batch_size,
                job.say,
                pipe.device_prep,
                options.compile,
            )
        local_done: dict[int, Chunk] = {}
        target = _Shifted(self.entry, c, start) if self.entry is not None else None
        writer = ChunkWriter(local, batches, target, local_done, enc.dim, device=self.device)  # type: ignore[arg-type]
        feed(self.runner, pipe.loader, writer, advance, options.strict)
        got = local_done[0]
        self.done[c] = replace(got, index=c, start=start + got.start, stop=start + got.stop)

    def interrupted(self) -> RunError:
        if self.entry is None:
            return RunError("interrupted (the cache was off, nothing was kept)")
        kept = sum(ch.stop - ch.start for ch in self.done.values())
        return RunError(
            f"interrupted; rerun the same command to resume ({len(self.done)} chunk(s), {kept} "
            f"items of the stream, cached; a rerun reads the stream again and computes only the "
            "rest)"
        )


def run_stream(job: Job, items: Iterable[Item]) -> Share:
    """This process's share of a stream (see the module docstring)."""
    dev, prec, bs, chunk_items = job.settings()
    size = chunk_size_of(chunk_items)
    job.check_shared()
    state = _Stream(job, dev, prec, bs, size)
    if job.cache is not None:
        if job.data_fingerprint is None:
            raise BadInputError(
                "a stream of items is cached under its data fingerprint: pass data_fingerprint "
                "(the source's fingerprint), or a list of items, or no cache"
            )
        state.entry = job.open_cache(None, job.data_fingerprint, prec, dev, size)
    bar = make_progress(job.console, job.progress, job.label)
    try:
        with inference(dev.startswith("cuda")), bar:
            task = bar.add_task(job.label, total=item_count(items))
            chunks = chunks_of(items, size)
            c = 0
            while (chunk := next(chunks, None)) is not None:
                state.step(c, chunk, lambda k: bar.advance(task, k))
                chunk = None  # the items go before the next chunk is read
                c += 1
    except KeyboardInterrupt:
        raise state.interrupted() from None
    if not state.ids:
        raise BadInputError("no items to embed")
    plan = make_plan(state.ids, bs, size)
    if state.entry is not None and job.shard.rank == 0:
        record_stream(state.entry, plan, job.say)
    return Share(
        plan,
        state.entry,
        state.done,
        state.mine,
        state.cached,
        dev,
        prec,
        state.runner,
        state.workers,
    )


def record_stream(entry: CacheEntry, plan: Plan, say: Callable[[str], None]) -> None:
    """``stream.json``: the count and ids' digest of the stream that completed this entry (a
    different stream since: said, and rewritten)."""
    path = entry.path / MANIFEST
    now = {"n_items": plan.n, "ids": ids_digest(plan.ids), "chunks": plan.n_chunks}
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        before = None
    if before == now:
        return
    if isinstance(before, dict):
        say(
            f"the stream differs from the one last read into this cache entry "
            f"({before.get('n_items')} items then, {plan.n} now); chunks whose ids differ "
            "were recomputed"
        )
    atomic_write_bytes(path, json.dumps(now).encode())
