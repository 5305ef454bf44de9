"""A stream of items (any iterable that is not a sequence), consumed chunk by chunk.

Read ``chunk_items`` items; look the chunk up in the cache (its sidecar holds the digest of its
ids: a chunk is reused only for the same ids); compute it if missing and write it; drop the
items; read the next chunk. Memory holds about one chunk of items (plus the batches prefetched
by the workers and the ids read so far), never the whole stream. One DataLoader serves the
whole stream: its batch sampler reads the stream in the main process and each index carries its
item to the worker that loads it (:class:`Carried`), so workers start once, not per chunk. An
error reading the stream (Ctrl-C, the source failing) ends it: the batches already handed out
are computed and written, then the error is raised.

The cache entry of a stream is keyed on the data fingerprint with a ``stream`` marker instead of
the item count and ids (they are known only at the end); when the stream ends, ``stream.json``
in the entry records the count and the ids' digest.

Several processes (``--shard K/N``, torchrun): every process reads the whole stream, counting
items, and computes only the chunks it owns (chunk ``c`` goes to rank ``c mod world``, which is
what :func:`~.plan.chunk_owners` gives for equal chunks); the items of other chunks are not
loaded. A chunk computed here is bit-identical (CPU) to the same chunk of the list path: the
same items, the same batches.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.data.sources.base import Item, item_count
from infogauss_cli.data.sources.loaders import default_loader
from infogauss_cli.extract.job import Job, Share, chunk_size_of, inference
from infogauss_cli.extract.loader import bucket_batches, make_loader, text_lengths
from infogauss_cli.extract.plan import Plan, check_items, make_plan
from infogauss_cli.extract.progress import make_progress
from infogauss_cli.extract.result import raise_if_skipped
from infogauss_cli.extract.runner import Runner
from infogauss_cli.extract.store import CacheEntry, Chunk, ids_digest
from infogauss_cli.extract.writer import ChunkWriter

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


class Carried(int):
    """A stream item's index that carries the item to the DataLoader worker that loads it (the
    workers cannot hold a stream): pickled with the index, dropped once the worker has it."""

    item: Item | None


def carried(index: int, item: Item) -> Carried:
    out = Carried(index)
    out.item = item
    return out


class CarriedItems:
    """The "item list" of a stream's DataLoader: ``items[index]`` is the item the index
    carries (taken from it, so that the index travels back light)."""

    def __getitem__(self, index: Carried) -> Item:
        item, index.item = index.item, None
        assert item is not None
        return item

    def __len__(self) -> int:
        return 0  # unknown; the batch sampler says what to load


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


@dataclass
class _Todo:
    """A chunk to compute: where it starts, its ids, its batches (chunk-local indices)."""

    start: int
    ids: list[str]
    batches: list[list[int]]


class _Stream:
    """One process reading a stream: the batch sampler of one DataLoader (reads the stream
    chunk by chunk in the main process, keeps cached chunks, yields the batches of the others
    with their items) and the loop that runs the batches into one writer per chunk."""

    def __init__(self, job: Job, device: str, precision: str, batch_size: int, size: int) -> None:
        self.job, self.device, self.precision = job, device, precision
        self.batch_size, self.size = batch_size, size
        self.entry: CacheEntry | None = None
        self.ids: list[str] = []
        self.seen: set[str] = set()
        self.done: dict[int, Chunk] = {}
        self.mine: list[int] = []
        self.cached: list[int] = []
        self.todo: dict[int, _Todo] = {}
        self.error: BaseException | None = None  # what stopped the stream, raised at the end
        self.advance: Callable[[int], None] = lambda k: None

    def sampler(self, items: Iterable[Item]) -> Iterator[list[Carried]]:
        """The batches to compute, read from the stream as the DataLoader asks for them; an
        error reading the stream ends it (kept in ``error``: the batches already handed out
        are still computed and written)."""
        chunks = chunks_of(items, self.size)
        c = 0
        while True:
            try:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                todo = self._take(c, chunk)
            except BaseException as exc:  # Ctrl-C or the source failing: finish what is out
                self.error = exc
                return
            if todo is not None:
                for batch in todo.batches:
                    yield [carried(todo.start + i, chunk[i]) for i in batch]
            chunk = None
            c += 1

    def _take(self, c: int, chunk: list[Item]) -> _Todo | None:
        """Chunk ``c``: check it, count it; None when another process owns it or the cache
        has it, else what to compute."""
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
            self.advance(len(ids))
            return None
        self.mine.append(c)
        if self.entry is not None:
            found, problem = self.entry.read_chunk(c, start, start + len(ids), ids, job.encoder.dim)
            if found is not None:
                if job.options.strict:
                    raise_if_skipped([(i, r) for _, i, r in found.skipped])
                self.done[c] = found
                self.cached.append(c)
                self.advance(len(ids))
                return None
            if problem is not None:
                job.say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
        local = make_plan(ids, self.batch_size, self.size)  # one chunk
        if self.job.options.bucket and job.encoder.tower == "text":
            batches = bucket_batches(local, [0], text_lengths(chunk, job.encoder.collate))
        else:
            batches = local.batches([0])
        self.todo[c] = _Todo(start, ids, batches)
        return self.todo[c]

    def run(self, runner: Runner, loader: Any) -> None:
        """Every batch through ``runner`` into its chunk's writer; a chunk is written as soon
        as its last batch is in."""
        writers: dict[int, tuple[ChunkWriter, dict[int, Chunk]]] = {}
        strict, dim = self.job.options.strict, self.job.encoder.dim
        try:
            for indices, kept, batch, skipped in loader:
                c = int(indices[0]) // self.size
                todo = self.todo[c]
                if c not in writers:
                    local_done: dict[int, Chunk] = {}
                    target = _Shifted(self.entry, c, todo.start) if self.entry else None
                    plan = make_plan(todo.ids, self.batch_size, self.size)
                    w = ChunkWriter(plan, todo.batches, target, local_done, dim, device=self.device)  # type: ignore[arg-type]
                    writers[c] = (w, local_done)
                writer, local_done = writers[c]
                lost = [(int(i) - todo.start, reason) for i, reason in skipped]
                if strict:
                    raise_if_skipped([(todo.ids[i], reason) for i, reason in lost])
                out = runner(batch, len(kept)) if kept else None
                writer.add([int(i) - todo.start for i in indices], lost, out, runner.batch_size)
                self.advance(len(indices))
                if writer.left[0] == 0:
                    writer.close()
                    got = local_done[0]
                    self.done[c] = replace(got, index=c, start=todo.start + got.start,
                                           stop=todo.start + got.stop)  # fmt: skip
                    del writers[c], self.todo[c]
        finally:
            for writer, _ in writers.values():  # incomplete chunks: not written
                with contextlib.suppress(BaseException):
                    writer.close()

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
    enc, options = job.encoder, job.options
    load = job.loader or default_loader(enc.tower)
    batches = state.sampler(items)
    pipe = make_loader(CarriedItems(), enc, load, batches, replace(options, device=dev))
    for note in pipe.notes:
        job.say(note)
    runner = Runner(enc, dev, prec, bs, job.say, pipe.device_prep, options.compile)
    bar = make_progress(job.console, job.progress, job.label)
    try:
        with inference(runner.cuda), bar:
            task = bar.add_task(job.label, total=item_count(items))
            state.advance = lambda k: bar.advance(task, k)
            state.run(runner, pipe.loader)
    except KeyboardInterrupt:
        raise state.interrupted() from None
    if isinstance(state.error, KeyboardInterrupt):
        raise state.interrupted()
    if state.error is not None:
        raise state.error
    if not state.ids:
        raise BadInputError("no items to embed")
    plan = make_plan(state.ids, bs, size)
    if state.entry is not None and job.shard.rank == 0:
        record_stream(state.entry, plan, job.say)
    computed = bool(set(state.mine) - set(state.cached))
    workers = pipe.workers
    return Share(
        plan, state.entry, state.done, state.mine, state.cached, dev, prec,
        runner if computed else None, workers if computed else 0,
    )  # fmt: skip


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
