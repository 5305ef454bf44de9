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

Several processes (:mod:`infogauss_cli.distributed`): each computes the chunks
:func:`~.plan.owned_chunks` gives it; under torchrun the ranks then meet and rank 0 assembles
from the shared cache (the others return a :class:`ShardWork`); a ``--shard K/N`` piece returns
its :class:`ShardWork` at once. The caller's module is put in eval mode and moved to the device
in place.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..distributed import Shard, exchange, raise_first_failure, wait_for
from ..errors import BadInputError, InfogaussError, RunError
from ..sources.base import Item, default_loader, fingerprint_items
from ..store import CacheEntry, Chunk, EmbeddingCache, ids_digest
from .loader import TEXT_CHUNK_ITEMS, bucket_batches, default_workers, make_loader, text_lengths
from .plan import Plan, check_items, chunk_owners, make_plan, owned_chunks
from .progress import make_progress
from .result import ASSEMBLED, Extraction, assemble, raise_if_skipped
from .runner import Runner, default_batch_size, resolve_device, resolve_precision
from .writer import ChunkWriter

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from ..backends.base import Encoder


def _open_cache(
    cache: EmbeddingCache | str | os.PathLike[str],
    encoder: Encoder,
    plan: Plan,
    data: str,
    precision: str,
    device: str,
    decode: str = "cpu",
) -> CacheEntry:
    store = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache(cache)
    parts = {
        "model_id": encoder.model_id,
        "encoder": dict(encoder.fingerprint),
        "tower": encoder.tower,
        "dim": encoder.dim,
        "data": data,
        "n_items": plan.n,
        "ids": ids_digest(plan.ids),
        "precision": precision,
        "device_type": "cuda" if device.startswith("cuda") else "cpu",
        "chunk_size": plan.chunk_size,
    }
    if decode != "cpu" and encoder.tower == "image":  # decoded on the device: other pixels
        parts["decode"] = decode
    return store.entry(parts, label=f"{encoder.model_id}-{encoder.tower}").open()


def read_cached(
    entry: CacheEntry,
    plan: Plan,
    dim: int,
    say: Callable[[str], None],
    chunks: Iterable[int] | None = None,
) -> dict[int, Chunk]:
    """The verified chunks (of ``chunks``, default all) already in the cache; a corrupt one is
    named and left to recompute."""
    done: dict[int, Chunk] = {}
    for c in range(plan.n_chunks) if chunks is None else chunks:
        start, stop = plan.bounds(c)
        chunk, problem = entry.read_chunk(c, start, stop, plan.ids[start:stop], dim)
        if chunk is not None:
            done[c] = chunk
        elif problem is not None:
            say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
    return done


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
    import torch

    ids = writer.plan.ids
    it = iter(loader)
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if runner.cuda:
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest convs
    try:
        with torch.inference_mode(), bar:
            task = bar.add_task(bar.label, total=total or writer.plan.n, completed=completed)
            for indices, kept, batch, skipped in it:
                if strict:
                    raise_if_skipped([(ids[i], reason) for i, reason in skipped])
                out = runner(batch, len(kept)) if kept else None
                writer.add(indices, skipped, out, runner.batch_size)
                bar.advance(task, len(indices))
            writer.close()
    except KeyboardInterrupt:
        if writer.entry is None:
            raise RunError("interrupted (the cache was off, nothing was kept)") from None
        writer.close()  # complete chunks not yet written: keep them
        cached = sum(ch.stop - ch.start for ch in writer.done.values())
        raise RunError(
            f"interrupted; rerun the same command to resume ({cached} of {writer.plan.n} items "
            "cached)"
        ) from None
    finally:
        del it
        if writer.thread is not None:  # an error above: stop the writer thread anyway
            with contextlib.suppress(BaseException):
                writer.close()
        torch.backends.cudnn.benchmark = cudnn_benchmark


def _check_sizes(batch_size: int | None, workers: int | None) -> None:
    if batch_size is not None and batch_size < 1:
        raise BadInputError(f"--batch-size {batch_size}: must be at least 1")
    if workers is not None and workers < 0:
        raise BadInputError(f"--workers {workers}: must be 0 or more")


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


@dataclass
class _Share:
    """One process's share, done: the plan, the cache entry, the chunks at hand."""

    plan: Plan
    entry: CacheEntry | None
    done: dict[int, Chunk]
    mine: list[int]
    cached: list[int]  # chunks of ``mine`` found in the cache
    device: str
    precision: str
    runner: Runner | None = None
    workers: int = 0


def extract(
    encoder: Encoder,
    items: Sequence[Item] | Iterable[Item],
    *,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
    workers: int | None = None,
    cache: EmbeddingCache | str | os.PathLike[str] | None = None,
    data_fingerprint: str | None = None,
    chunk_items: int | None = None,
    progress: bool = True,
    console: Console | None = None,
    strict: bool = False,
    loader: Callable[[Item], Any] | None = None,
    shard: Shard = Shard(),
    bucket: bool = True,
    compile: bool = False,
    decode: str = "cpu",
) -> Any:
    """Embed ``items`` (a list or a stream) with ``encoder``; return the raw float32 embeddings
    of the readable items (an :class:`Extraction`), or this process's :class:`ShardWork` when
    ``shard`` says that another process assembles.

    ``cache``: an :class:`EmbeddingCache` or a cache folder (None: no cache; several processes
    need one). The data part of the cache key is ``data_fingerprint`` (default: a fingerprint of
    the item ids and their content/file stats). ``chunk_items``: items per cache chunk (default
    :func:`~.plan.default_chunk_items`). ``loader`` turns an item into the encoder's raw input
    in the workers (default: :func:`~infogauss_cli.sources.base.default_loader`). Messages
    (back-off, corrupt chunks) go to ``console`` and into ``notes``; the progress bar shows only
    when ``progress`` and the console is a terminal. With ``strict``, an unreadable item is a
    BadInputError naming it (as soon as it is met) instead of being skipped. ``shard``: this
    process's share (:class:`~infogauss_cli.distributed.Shard`; default: all of it).
    ``bucket``: text batches sorted by length within each chunk (text chunks default to 2,048
    items; results in the items' order). ``compile``: ``torch.compile`` the module.
    ``decode``: ``gpu`` decodes JPEG files on the CUDA device (docs/performance.md).
    """
    t0 = time.perf_counter()
    kw = dict(locals())
    notes: list[str] = []

    def say(message: str) -> None:
        notes.append(message)
        if console is not None:
            from ..safe_text import markup_safe

            console.print(f"[yellow]{markup_safe(message)}[/yellow]", highlight=False)

    if shard.synced:
        share, n_cached = _meet(encoder, items, kw, say)
    else:
        share = _run_share(encoder, items, kw, say)
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
            notes=tuple(notes),
        )
        if console is not None:
            console.print(work.summary(), highlight=False)
        return work
    # the assembled matrix: a memory-mapped file next to the entry's folder, not a concatenation
    assembled = entry.path.with_name(entry.path.name + ASSEMBLED) if entry is not None else None
    emb, kept_ids, skipped = assemble(plan, share.done, say, assembled)
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
        notes=tuple(notes),
    )


def _meet(
    encoder: Encoder, items: Any, kw: dict[str, Any], say: Callable[[str], None]
) -> tuple[_Share, int]:
    """Under torchrun: this rank's share, then the meeting (a failure on any rank is an error
    on every rank); rank 0 then reads every other chunk. Returns (share, items that every rank
    together found in the cache)."""
    try:
        share, error = _run_share(encoder, items, kw, say), None
    except (Exception, KeyboardInterrupt) as exc:
        share, error = None, exc
    code = (error.exit_code if isinstance(error, InfogaussError) else 3) if error else 0
    cached = _items_in(share.plan, share.cached) if share is not None else 0
    messages = exchange("chunks", code, str(error) if error else "", data=cached)
    if error is not None:
        raise error
    raise_first_failure(messages)
    assert share is not None and share.entry is not None
    if kw["shard"].assembles:
        read_the_rest(share.entry, share.plan, encoder.dim, share.done, kw["shard"])
    return share, sum(int(m.data or 0) for m in messages)


def _run_share(
    encoder: Encoder, items: Any, kw: dict[str, Any], say: Callable[[str], None]
) -> _Share:
    """This process's share: plan, open the cache, read its cached chunks, compute the rest
    (``kw``: :func:`extract`'s arguments)."""
    tower, shard, console = encoder.tower, kw["shard"], kw["console"]
    items = items if isinstance(items, Sequence) else list(items)
    check_items(items, tower)
    dev = resolve_device(kw["device"])
    prec = resolve_precision(kw["precision"], dev)
    _check_sizes(kw["batch_size"], kw["workers"])
    bs = kw["batch_size"] or default_batch_size(dev, tower)
    chunk_items = kw["chunk_items"]
    if chunk_items is None and tower == "text" and not os.environ.get("INFOGAUSS_CHUNK_ITEMS"):
        chunk_items = TEXT_CHUNK_ITEMS  # wide enough for length buckets
    plan = make_plan([it.id for it in items], bs, chunk_items)
    if kw["cache"] is None and shard.mode != "single":
        how = "--shard" if shard.mode == "job" else "torchrun"
        raise BadInputError(
            f"{how} needs the embedding cache: it is where the pieces meet; drop --no-cache"
        )
    mine = owned_chunks(plan, shard.rank, shard.world)
    entry, done = None, {}
    if kw["cache"] is not None:
        data = kw["data_fingerprint"] or fingerprint_items("items", items)
        entry = _open_cache(kw["cache"], encoder, plan, data, prec, dev, kw["decode"])
        done = read_cached(entry, plan, encoder.dim, say, mine)
    if kw["strict"]:
        raise_if_skipped([(i, r) for ch in done.values() for _, i, r in ch.skipped])
    share = _Share(plan, entry, done, mine, sorted(done), dev, prec)
    todo = [c for c in mine if c not in done]
    if not todo:
        return share
    if kw["bucket"] and tower == "text":
        todo_items = (i for c in todo for i in range(*plan.bounds(c)))
        batches = bucket_batches(plan, todo, text_lengths(items, encoder.collate, todo_items))
    else:
        batches = plan.batches(todo)
    workers = kw["workers"]
    share.workers = min(default_workers(dev, tower) if workers is None else workers, len(batches))
    load = kw["loader"] or default_loader(tower)
    pipe = make_loader(items, encoder, load, batches, share.workers, dev, kw["decode"])
    for note in pipe.notes:
        say(note)
    share.runner = Runner(encoder, dev, prec, plan.batch_size, say, pipe.device_prep, kw["compile"])
    data_loader = pipe.loader
    label = f"{encoder.model_id} {tower}"
    label += f" ({shard.label})" if shard.mode != "single" else ""
    bar = make_progress(console, kw["progress"], label)
    writer = ChunkWriter(plan, batches, entry, done, encoder.dim, device=dev)
    run_chunks(
        share.runner,
        data_loader,
        writer,
        bar,
        completed=_items_in(plan, share.cached),
        strict=kw["strict"],
        total=_items_in(plan, mine),
    )
    return share


def read_the_rest(
    entry: CacheEntry, plan: Plan, dim: int, done: dict[int, Chunk], shard: Shard
) -> None:
    """Rank 0 after the meeting: read every chunk the other ranks wrote into ``done``, waiting
    a while for a network file system; a chunk that stays unreadable is a
    :class:`BadInputError` naming its ranks (the cache folder is not shared)."""
    from ..distributed import SHARED_HINT

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
