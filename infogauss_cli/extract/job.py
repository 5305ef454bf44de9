"""What one extraction call carries (:class:`Job`), one process's share of it (:class:`Share`),
and the pieces that both the list path (:mod:`.engine`) and the stream path (:mod:`.stream`)
use: the cache key, reading cached chunks, feeding loader batches through the runner."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.cpu_decode import decode_key
from infogauss_cli.extract.distributed import Shard
from infogauss_cli.extract.loader import TEXT_CHUNK_ITEMS
from infogauss_cli.extract.options import EngineOptions
from infogauss_cli.extract.plan import CHUNK_ENV, Plan, default_chunk_items
from infogauss_cli.extract.result import raise_if_skipped
from infogauss_cli.extract.runner import (
    Runner,
    default_batch_size,
    resolve_device,
    resolve_precision,
)
from infogauss_cli.extract.store import CacheEntry, Chunk, EmbeddingCache, ids_digest

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from infogauss_cli.extract.writer import ChunkWriter
    from infogauss_cli.models.backends.base import Encoder


@dataclass
class Job:
    """One :func:`~.engine.extract` call: the encoder, how to compute, where the chunks go, who
    computes what, where messages go (``notes`` collects them)."""

    encoder: Encoder
    options: EngineOptions
    cache: EmbeddingCache | None = None
    data_fingerprint: str | None = None
    loader: Callable[[Item], Any] | None = None
    shard: Shard = field(default_factory=Shard)
    console: Console | None = None
    progress: bool = True
    notes: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        self.notes.append(message)
        if self.console is not None:
            from infogauss_cli.core.safe_text import markup_safe

            self.console.print(f"[yellow]{markup_safe(message)}[/yellow]", highlight=False)

    @property
    def label(self) -> str:
        """The progress bar's label."""
        label = f"{self.encoder.model_id} {self.encoder.tower}"
        return label + (f" ({self.shard.label})" if self.shard.mode != "single" else "")

    def settings(self) -> tuple[str, str, int, int | None]:
        """(device, precision, batch size, chunk items or None for the default), resolved."""
        o, tower = self.options, self.encoder.tower
        dev = resolve_device(o.device)
        prec = resolve_precision(o.precision, dev)
        bs = o.batch_size or default_batch_size(dev, tower)
        return dev, prec, bs, chunk_items_for(o.chunk_items, tower)

    def check_shared(self) -> None:
        """Several processes meet in the cache: it must be on."""
        if self.cache is None and self.shard.mode != "single":
            how = "--shard" if self.shard.mode == "job" else "torchrun"
            raise BadInputError(
                f"{how} needs the embedding cache: it is where the pieces meet; drop --no-cache"
            )

    def open_cache(
        self, plan: Plan | None, data: str, precision: str, device: str, chunk_size: int
    ) -> CacheEntry:
        """The cache entry (:meth:`cache_entry`), its folder created."""
        return self.cache_entry(plan, data, precision, device, chunk_size).open()

    def cache_entry(
        self, plan: Plan | None, data: str, precision: str, device: str, chunk_size: int
    ) -> CacheEntry:
        """The cache entry: keyed on the item ids (``plan``) for a list, on the data
        fingerprint alone with a ``stream`` marker for a stream (``plan`` None)."""
        assert self.cache is not None
        enc = self.encoder
        parts: dict[str, Any] = {
            "model_id": enc.model_id,
            "encoder": dict(enc.fingerprint),
            "tower": enc.tower,
            "dim": enc.dim,
            "data": data,
        }
        if plan is not None:
            parts.update({"n_items": plan.n, "ids": ids_digest(plan.ids)})
        else:
            parts["stream"] = True
        parts.update(
            {
                "precision": precision,
                "device_type": "cuda" if device.startswith("cuda") else "cpu",
                "chunk_size": chunk_size,
            }
        )
        decode = decode_key(enc, self.options.decode)
        if decode:  # torch's resize (fast), GPU decode: other pixels
            parts["decode"] = decode
        return self.cache.entry(parts, label=f"{enc.model_id}-{enc.tower}")


@dataclass
class Share:
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


def as_cache(cache: EmbeddingCache | str | os.PathLike[str] | None) -> EmbeddingCache | None:
    if cache is None or isinstance(cache, EmbeddingCache):
        return cache
    return EmbeddingCache(cache)


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


def feed(
    runner: Runner, loader: Any, writer: ChunkWriter, advance: Callable[[int], None], strict: bool
) -> None:
    """Every loader batch through ``runner`` into ``writer``, then close it. On Ctrl-C the
    complete chunks are written and the KeyboardInterrupt goes on; on any error the writer
    thread is stopped."""
    ids = writer.plan.ids
    it = iter(loader)
    try:
        for indices, kept, batch, skipped in it:
            if strict:
                raise_if_skipped([(ids[i], reason) for i, reason in skipped])
            out = runner(batch, len(kept)) if kept else None
            writer.add(indices, skipped, out, runner.batch_size)
            advance(len(indices))
        writer.close()
    except KeyboardInterrupt:
        if writer.entry is not None:
            writer.close()  # complete chunks not yet written: keep them
        raise
    finally:
        del it
        if writer.thread is not None:  # an error above: stop the writer thread anyway
            with contextlib.suppress(BaseException):
                writer.close()


@contextlib.contextmanager
def inference(runner_cuda: bool) -> Any:
    """``torch.inference_mode`` with cuDNN benchmarking on CUDA (fixed input sizes)."""
    import torch

    cudnn_benchmark = torch.backends.cudnn.benchmark
    if runner_cuda:
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest convs
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark


def chunk_items_for(chunk_items: int | None, tower: str) -> int | None:
    """The chunk size asked for (None: the default), text chunks wider by default (length
    buckets)."""
    if chunk_items is None and tower == "text" and not os.environ.get(CHUNK_ENV):
        return TEXT_CHUNK_ITEMS
    return chunk_items


def chunk_size_of(chunk_items: int | None) -> int:
    return default_chunk_items() if chunk_items is None else chunk_items
