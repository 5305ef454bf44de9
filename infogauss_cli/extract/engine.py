"""The engine: plan -> cached chunks -> run the rest -> assemble.

The cache key is made of the encoder's fingerprint, tower and dim, the data fingerprint,
precision, device type, batch size and chunk size (:mod:`.plan`), so an interrupted run resumed
with the same command is bit-identical to an uninterrupted one on CPU (a CUDA out-of-memory
back-off splits later batches in halves; CUDA is not bit-deterministic anyway). Completed chunks
are reused and verified; a corrupt chunk is recomputed. Ctrl-C keeps every complete chunk.
The caller's module is put in eval mode and moved to the device in place.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BadInputError, RunError
from ..sources.base import Item, default_loader, fingerprint_items
from ..store import CacheEntry, Chunk, EmbeddingCache, ids_digest
from .loader import TEXT_CHUNK_ITEMS, bucket_batches, default_workers, make_loader, text_lengths
from .plan import DEFAULT_CHUNK_ITEMS, Plan, check_items, make_plan, owned_chunks
from .progress import make_progress
from .result import Extraction, assemble, raise_if_skipped
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
        "batch_size": plan.batch_size,
        "chunk_size": plan.chunk_size,
    }
    if decode != "cpu" and encoder.tower == "image":  # decoded on the device: other pixels
        parts["decode"] = decode
    return store.entry(parts, label=f"{encoder.model_id}-{encoder.tower}").open()


def read_cached(
    entry: CacheEntry, plan: Plan, dim: int, say: Callable[[str], None]
) -> dict[int, Chunk]:
    """The verified chunks already in the cache; a corrupt one is named and left to recompute."""
    done: dict[int, Chunk] = {}
    for c in range(plan.n_chunks):
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
) -> None:
    """Feed every loader batch through ``runner`` into ``writer`` (``completed``: items already
    cached, for the bar); on Ctrl-C keep the complete chunks and raise a RunError."""
    import torch

    ids = writer.plan.ids
    it = iter(loader)
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if runner.cuda:
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest convs
    try:
        with torch.inference_mode(), bar:
            task = bar.add_task(bar.label, total=writer.plan.n, completed=completed)
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
    bucket: bool = True,
    compile: bool = False,
    decode: str = "cpu",
) -> Extraction:
    """Embed ``items`` (a list or a stream) with ``encoder``; return raw float32 embeddings of
    the readable items.

    ``cache``: an :class:`EmbeddingCache` or a cache folder (None: no cache). The data part of
    the cache key is ``data_fingerprint`` (default: a fingerprint of the item ids and their
    content/file stats). ``loader`` turns an item into the encoder's raw input in the workers
    (default: :func:`~infogauss_cli.sources.base.default_loader`). Messages (back-off, corrupt
    chunks) go to ``console`` and into ``Extraction.notes``; the progress bar shows only when
    ``progress`` and the console is a terminal. With ``strict``, an unreadable item is a
    BadInputError naming it (as soon as it is met) instead of being skipped. ``chunk_items``:
    items per cache chunk (default 256 for images, 2048 for text). ``bucket``: text batches
    sorted by length within each chunk (results in the items' order). ``compile``:
    ``torch.compile`` the module. ``decode``: ``gpu`` decodes JPEG files on the CUDA device.
    """
    t0 = time.perf_counter()
    tower = encoder.tower
    items = items if isinstance(items, Sequence) else list(items)
    check_items(items, tower)
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    _check_sizes(batch_size, workers)
    if chunk_items is None:
        chunk_items = TEXT_CHUNK_ITEMS if tower == "text" else DEFAULT_CHUNK_ITEMS
    plan = make_plan(
        [it.id for it in items], batch_size or default_batch_size(dev, tower), chunk_items
    )
    notes: list[str] = []

    def say(message: str) -> None:
        notes.append(message)
        if console is not None:
            console.print(f"[yellow]{message}[/yellow]", highlight=False)

    entry = None
    done: dict[int, Chunk] = {}
    if cache is not None:
        data = data_fingerprint or fingerprint_items("items", items)
        entry = _open_cache(cache, encoder, plan, data, prec, dev, decode)
        done = read_cached(entry, plan, encoder.dim, say)
    if strict:
        raise_if_skipped([(i, r) for ch in done.values() for _, i, r in ch.skipped])
    n_cached = sum(ch.stop - ch.start for ch in done.values())
    todo = [c for c in owned_chunks(plan) if c not in done]
    nw, runner = 0, None
    if todo:
        bucketed = bucket and tower == "text"
        batches = (
            bucket_batches(plan, todo, text_lengths(items)) if bucketed else plan.batches(todo)
        )
        nw = min(default_workers(dev, tower) if workers is None else workers, len(batches))
        pipe = make_loader(
            items, encoder, loader or default_loader(tower), batches, nw, dev, decode
        )
        for note in pipe.notes:
            say(note)
        runner = Runner(encoder, dev, prec, plan.batch_size, say, pipe.device_prep, compile)
        bar = make_progress(console, progress, f"{encoder.model_id} {tower}")
        writer = ChunkWriter(plan, batches, entry, done, encoder.dim, device=dev)
        data_loader = pipe.loader
        run_chunks(runner, data_loader, writer, bar, completed=n_cached, strict=strict)
    emb, kept_ids, skipped = assemble(plan, done, say)
    elapsed = time.perf_counter() - t0
    return Extraction(
        embeddings=emb,
        ids=tuple(kept_ids),
        skipped=tuple(skipped),
        model_id=encoder.model_id,
        tower=tower,
        device=dev,
        precision=prec,
        batch_size=runner.batch_size if runner is not None else plan.batch_size,
        workers=nw,
        extract_s=elapsed,
        items_per_s=plan.n / elapsed if elapsed > 0 else float("inf"),
        from_cache=n_cached / plan.n,
        cache_path=str(entry.path) if entry is not None else None,
        notes=tuple(notes),
    )
