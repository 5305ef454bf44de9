"""The engine: plan -> cached chunks -> run this process's share -> meet -> assemble.

The cache key is made of what determines the embeddings: the encoder's fingerprint (model
identity, weights content hash or hub revision, preprocessing, library versions), tower and dim,
the data fingerprint and item ids, precision, device type and the chunk size (:mod:`.plan`). It
holds neither the batch size nor the number of processes nor any install path, so a run resumed
with another batch size, another ``--shard`` split or another torchrun world size reuses every
finished chunk. An interrupted run resumed with the same command is bit-identical to an
uninterrupted one on CPU (a CUDA out-of-memory back-off splits later batches in halves; CUDA is
not bit-deterministic anyway); chunks computed at another batch size may differ from these in
the last bits (each chunk's sidecar records its batch size). Completed chunks are reused and
verified; a corrupt chunk is recomputed. Ctrl-C keeps every complete chunk.

A stream (any iterable that is not a sequence: a generator, a source that yields) is consumed
chunk by chunk (:mod:`.stream`): read ``chunk_items`` items, look the chunk up in the cache,
compute it if missing, write it, drop the items, read the next; its cache entry is keyed on the
data fingerprint with a ``stream`` marker instead of the item ids (each chunk's sidecar still
holds its ids' digest, so a chunk is reused only for the same ids).

Several processes (:mod:`infogauss_cli.extract.distributed`): each computes the chunks
:func:`~.plan.owned_chunks` gives it; under torchrun the ranks then meet and rank 0 assembles
from the shared cache (the others return a :class:`ShardWork`); a ``--shard K/N`` piece returns
its :class:`ShardWork` at once. The caller's module is put in eval mode and moved to the device
in place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError, InfogaussError, RunError
from infogauss_cli.data.sources.base import Item, fingerprint_items
from infogauss_cli.data.sources.loaders import default_loader
from infogauss_cli.extract.distributed import Shard, exchange, raise_first_failure, wait_for
from infogauss_cli.extract.job import (
    Job,
    Share,
    as_cache,
    chunk_size_of,
    feed,
    inference,
    read_cached,
)
from infogauss_cli.extract.loader import bucket_batches, make_loader, text_lengths
from infogauss_cli.extract.options import EngineOptions
from infogauss_cli.extract.plan import Plan, check_items, chunk_owners, make_plan, owned_chunks
from infogauss_cli.extract.progress import make_progress
from infogauss_cli.extract.result import ASSEMBLED, Extraction, assemble, raise_if_skipped
from infogauss_cli.extract.runner import Runner, probe_ceiling
from infogauss_cli.extract.store import CacheEntry, Chunk, EmbeddingCache
from infogauss_cli.extract.writer import ChunkWriter

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from infogauss_cli.models.backends.base import Encoder

__all__ = ["EngineOptions", "ShardWork", "extract", "read_cached", "read_the_rest", "run_chunks"]


def run_chunks(
    runner: Runner,
    loader: Any,
    writer: ChunkWriter,
    bar: Any,
    *,
    completed: int = 0,
    strict: bool = False,
    total: int | None = None,
) -> None:
    """Feed every loader batch through ``runner`` into ``writer`` (``completed``: items already
    cached, of ``total`` (default: all items) for the bar); on Ctrl-C keep the complete chunks
    and raise a RunError."""
    try:
        with inference(runner.cuda), bar:
            task = bar.add_task(bar.label, total=total or writer.plan.n, completed=completed)
            feed(runner, loader, writer, lambda k: bar.advance(task, k), strict)
    except KeyboardInterrupt:
        if writer.entry is None:
            raise RunError("interrupted (the cache was off, nothing was kept)") from None
        cached = sum(ch.stop - ch.start for ch in writer.done.values())
        raise RunError(
            f"interrupted; rerun the same command to resume ({cached} of {writer.plan.n} items "
            "cached)"
        ) from None


def _items_in(plan: Plan, chunks: Iterable[int]) -> int:
    return sum(plan.bounds(c)[1] - plan.bounds(c)[0] for c in chunks)


@dataclass(frozen=True)
class ShardWork:
    """What a process that does not assemble returns (a ``--shard K/N`` piece, or a torchrun
    rank other than 0): its share of the chunks, done and in the cache."""

    model_id: str
    tower: str
    shard: Shard
    chunks: tuple[int, ...]  # the chunks this process owns
    computed: int  # of them, computed by this call
    items: int  # items in this process's chunks
    total_chunks: int
    extract_s: float
    cache_path: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def cached(self) -> int:
        """Chunks of this share that were in the cache already."""
        return len(self.chunks) - self.computed

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.shard.label} of {self.model_id} {self.tower}: {len(self.chunks)} of "
            f"{self.total_chunks} cache chunks ({self.items} items), {self.computed} computed, "
            f"{self.cached} already cached, {self.extract_s:.1f} s"
        )


def extract(
    encoder: Encoder,
    items: Sequence[Item] | Iterable[Item],
    options: EngineOptions = EngineOptions(),
    *,
    cache: EmbeddingCache | str | os.PathLike[str] | None = None,
    data_fingerprint: str | None = None,
    loader: Callable[[Item], Any] | None = None,
    shard: Shard = Shard(),
    console: Console | None = None,
    progress: bool = True,
) -> Extraction | ShardWork:
    """Embed ``items`` (a list, or a stream read chunk by chunk) with ``encoder``; return the raw
        float32 embeddings of the readable items (an :class:`Extraction`), or this process's
        :class:`ShardWork` when ``shard`` says that another process assembles.

        ``options``: how to compute (:class:`~.options.EngineOptions`: device, precision, batch
        size, workers, chunk size, buckets, compile, decode, strict). ``cache``: an
        :class:`EmbeddingCache` or a cache folder (None: no cache; several processes need one). The
        data part of the cache key is ``data_fingerprint`` (default: a fingerprint of the item ids
        and their content/file stats; a cached stream needs one, as it is read only once).
        ``loader`` turns an item into the encoder's raw input in the workers (default:
        :func:`~infogauss_cli.data.sources.loaders.default_loader`). Messages (back-off, corrupt
    chunks) go
        to ``console`` and into ``notes``; the progress bar shows only when ``progress`` and the
        console is a terminal. ``shard``: this process's share
        (:class:`~infogauss_cli.extract.distributed.Shard`; default: all of it).
    """
    t0 = time.perf_counter()
    job = Job(encoder, options, as_cache(cache), data_fingerprint, loader, shard, console, progress)
    if shard.synced:
        share, n_cached = _meet(job, items)
    else:
        share = _run_share(job, items)
        n_cached = _items_in(share.plan, share.cached)
    plan, entry = share.plan, share.entry
    where = str(entry.path) if entry is not None else None
    if not shard.assembles:
        work = ShardWork(
            model_id=encoder.model_id,
            tower=encoder.tower,
            shard=shard,
            chunks=tuple(share.mine),
            computed=len(share.mine) - len(share.cached),
            items=_items_in(plan, share.mine),
            total_chunks=plan.n_chunks,
            extract_s=time.perf_counter() - t0,
            cache_path=where,
            notes=tuple(job.notes),
        )
        if console is not None:
            console.print(work.summary(), highlight=False)
        return work
    scratch = None
    if entry is not None:  # an older version's assembled copy doubled the entry on disk
        entry.path.with_name(entry.path.name + ASSEMBLED).unlink(missing_ok=True)
        scratch = entry.path
    emb, kept_ids, skipped = assemble(plan, share.done, job.say, scratch)
    elapsed = time.perf_counter() - t0
    runner = share.runner
    return Extraction(
        embeddings=emb,
        ids=tuple(kept_ids),
        skipped=tuple(skipped),
        model_id=encoder.model_id,
        tower=encoder.tower,
        device=share.device,
        precision=share.precision,
        batch_size=runner.batch_size if runner is not None else plan.batch_size,
        workers=share.workers,
        extract_s=elapsed,
        items_per_s=plan.n / elapsed if elapsed > 0 else float("inf"),
        from_cache=n_cached / plan.n,
        cache_path=where,
        notes=tuple(job.notes),
    )


def _meet(job: Job, items: Any) -> tuple[Share, int]:
    """Under torchrun: this rank's share, then the meeting (a failure on any rank is an error
    on every rank); rank 0 then reads every other chunk. Returns (share, items that every rank
    together found in the cache)."""
    try:
        share, error = _run_share(job, items), None
    except (Exception, KeyboardInterrupt) as exc:
        share, error = None, exc
    code = (error.exit_code if isinstance(error, InfogaussError) else 3) if error else 0
    cached = _items_in(share.plan, share.cached) if share is not None else 0
    messages = exchange("chunks", code, str(error) if error else "", data=cached)
    if error is not None:
        raise error
    raise_first_failure(messages)
    assert share is not None and share.entry is not None
    if job.shard.assembles:
        read_the_rest(share.entry, share.plan, job.encoder.dim, share.done, job.shard)
    return share, sum(int(m.data or 0) for m in messages)


def _run_share(job: Job, items: Any) -> Share:
    """This process's share: plan, open the cache, read its cached chunks, compute the rest. A
    stream goes to :func:`.stream.run_stream`, chunk by chunk."""
    if not isinstance(items, Sequence):
        from infogauss_cli.extract.stream import run_stream

        return run_stream(job, items)
    encoder, shard, options = job.encoder, job.shard, job.options
    tower = encoder.tower
    check_items(items, tower)
    dev, prec, bs, chunk_items = job.settings()
    plan = make_plan([it.id for it in items], bs, chunk_items)
    probe = None  # CUDA, no --batch-size: loader batches at the probe's ceiling, runner from bs
    if options.batch_size is None and dev.startswith("cuda"):
        probe = probe_ceiling(bs, plan.chunk_size)
        plan = replace(plan, batch_size=probe)
    job.check_shared()
    mine = owned_chunks(plan, shard.rank, shard.world)
    entry, done = None, {}
    if job.cache is not None:
        data = job.data_fingerprint or fingerprint_items("items", items)
        entry = job.open_cache(plan, data, prec, dev, chunk_size_of(chunk_items))
        done = read_cached(entry, plan, encoder.dim, job.say, mine)
    if options.strict:
        raise_if_skipped([(i, r) for ch in done.values() for _, i, r in ch.skipped])
    share = Share(plan, entry, done, mine, sorted(done), dev, prec)
    todo = [c for c in mine if c not in done]
    if not todo:
        return share
    if options.bucket and tower == "text":
        todo_items = (i for c in todo for i in range(*plan.bounds(c)))
        batches = bucket_batches(plan, todo, text_lengths(items, encoder.collate, todo_items))
    else:
        batches = plan.batches(todo)
    load = job.loader or default_loader(tower)
    pipe = make_loader(items, encoder, load, batches, replace(options, device=dev))
    share.workers = pipe.workers
    for note in pipe.notes:
        job.say(note)
    share.runner = Runner(
        encoder, dev, prec, bs, job.say, pipe.device_prep, options.compile, probe_max=probe
    )
    bar = make_progress(job.console, job.progress, job.label)
    writer = ChunkWriter(plan, batches, entry, done, encoder.dim, device=dev)
    run_chunks(
        share.runner,
        pipe.loader,
        writer,
        bar,
        completed=_items_in(plan, share.cached),
        strict=options.strict,
        total=_items_in(plan, mine),
    )
    return share


def read_the_rest(
    entry: CacheEntry, plan: Plan, dim: int, done: dict[int, Chunk], shard: Shard
) -> None:
    """Rank 0 after the meeting: read every chunk the other ranks wrote into ``done``, waiting
    a while for a network file system; a chunk that stays unreadable is a
    :class:`BadInputError` naming its ranks (the cache folder is not shared)."""
    from infogauss_cli.extract.distributed import SHARED_HINT

    rest = [c for c in range(plan.n_chunks) if c not in done]
    wait_for([entry.chunk_paths(c)[1] for c in rest])
    problems: list[str] = []
    done.update(read_cached(entry, plan, dim, problems.append, rest))
    missing = [c for c in rest if c not in done]
    if missing:
        owners = chunk_owners(plan, shard.world)
        ranks = ", ".join(str(r) for r in sorted({owners[c] for c in missing}))
        why = f" ({problems[0]})" if problems else ""
        raise BadInputError(
            f"rank 0 cannot read {len(missing)} cache chunk(s) that rank(s) {ranks} wrote in "
            f"{entry.path}{why}: {SHARED_HINT}"
        )
