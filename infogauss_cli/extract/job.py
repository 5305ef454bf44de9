"""One extraction call (:class:`Job`): its settings, cache key and messages; cached chunks."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.progress import note
from infogauss_cli.core.safe_text import markup_safe
from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.cpu_decode import decode_key
from infogauss_cli.extract.loader import TEXT_CHUNK_ITEMS
from infogauss_cli.extract.options import EngineOptions
from infogauss_cli.extract.plan import CHUNK_ENV, Plan, default_chunk_items
from infogauss_cli.extract.runner import default_batch_size, resolve_device, resolve_precision
from infogauss_cli.extract.store import CacheEntry, Chunk, EmbeddingCache, ids_digest

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.registry import Encoder

LoadItem = Callable[[Item], Any]
MANIFEST = "stream.json"


@dataclass
class Job:
    encoder: Encoder
    options: EngineOptions
    cache: EmbeddingCache | None = None
    data_fingerprint: str | None = None
    loader: LoadItem | None = None
    notes: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        self.notes.append(message)
        note(f"[yellow]{markup_safe(message)}[/yellow]")

    def settings(self) -> tuple[str, str, int, int | None]:
        """(device, precision, batch size, chunk items or None for the default), resolved."""
        o, tower = self.options, self.encoder.tower
        dev = resolve_device(o.device)
        prec = resolve_precision(o.precision, dev)
        bs = o.batch_size or default_batch_size(dev, tower)
        return dev, prec, bs, chunk_items_for(o.chunk_items, tower)

    def cache_entry(
        self, plan: Plan | None, data: str, precision: str, device: str, chunk_size: int
    ) -> CacheEntry:
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
        parts["precision"] = precision
        parts["device_type"] = "cuda" if device.startswith("cuda") else "cpu"
        parts["chunk_size"] = chunk_size
        decode = decode_key(enc, self.options.decode)
        if decode:  # torch's resize (fast), GPU decode: other pixels
            parts["decode"] = decode
        return self.cache.entry(parts, label=f"{enc.model_id}-{enc.tower}")


def read_cached(
    entry: CacheEntry,
    plan: Plan,
    dim: int,
    say: Callable[[str], None],
    chunks: Iterable[int] | None = None,
) -> dict[int, Chunk]:
    """The verified chunks (of ``chunks``, default all); a corrupt one is named, recomputed."""
    done: dict[int, Chunk] = {}
    for c in sorted(range(plan.n_chunks) if chunks is None else chunks):
        start, stop = plan.bounds(c)
        chunk, problem = entry.read_chunk(c, start, stop, plan.ids[start:stop], dim)
        if chunk is not None:
            done[c] = chunk
        elif problem is not None:
            say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
    return done


@contextlib.contextmanager
def inference(cuda: bool) -> Iterator[None]:
    """``torch.inference_mode`` with cuDNN benchmarking on CUDA (fixed input sizes)."""
    import torch

    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = before or cuda
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.backends.cudnn.benchmark = before


def chunk_items_for(chunk_items: int | None, tower: str) -> int | None:
    """The chunk size asked for (None: the default), text chunks wider by default."""
    if chunk_items is None and tower == "text" and not os.environ.get(CHUNK_ENV):
        return TEXT_CHUNK_ITEMS
    return chunk_items


def chunk_size_of(chunk_items: int | None) -> int:
    return default_chunk_items() if chunk_items is None else chunk_items


class Carried(int):
    item: Item | None


class CarriedItems:
    """A stream's "item list": ``items[index]`` is the item the index carries."""

    def __getitem__(self, index: Carried) -> Item:
        item, index.item = index.item, None
        assert item is not None
        return item

    def __len__(self) -> int:
        return 0  # unknown; the batch sampler says what to load


def carried(index: int, item: Item) -> Carried:
    out = Carried(index)
    out.item = item
    return out


def record_stream(entry: CacheEntry, plan: Plan, say: Callable[[str], None]) -> None:
    """``stream.json``: count and ids' digest of the stream that completed this entry."""
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
