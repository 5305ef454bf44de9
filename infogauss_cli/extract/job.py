"""One extraction call: how it computes (:class:`EngineOptions`), and its :class:`Job`:
resolved settings, cache key and messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Compute
from infogauss_cli.core.progress import note
from infogauss_cli.core.safe_text import markup_safe
from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.cpu_decode import decode_key
from infogauss_cli.extract.plan import Plan, Shard, chunk_size
from infogauss_cli.extract.runner import default_batch_size, resolve_device, resolve_precision
from infogauss_cli.extract.store import CacheEntry, EmbeddingCache, ids_digest

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.registry import Encoder

LoadItem = Callable[[Item], Any]


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


def engine_options(
    compute: Compute, device: str | None = None, strict: bool = False, shard: Shard = Shard()
) -> EngineOptions:
    return EngineOptions(
        device=compute.device if device is None else device,
        precision=compute.precision,
        batch_size=compute.batch_size,
        workers=compute.workers,
        compile=compute.compile,
        decode=compute.decode,
        strict=strict,
        shard=shard,
    )


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

    def settings(self) -> tuple[str, str, int, int]:
        """(device, precision, batch size, chunk size), resolved."""
        o, tower = self.options, self.encoder.tower
        dev = resolve_device(o.device)
        prec = resolve_precision(o.precision, dev)
        bs = o.batch_size or default_batch_size(dev, tower)
        return dev, prec, bs, chunk_size(o.chunk_items, tower)

    def cache_entry(
        self, plan: Plan | None, data: str, precision: str, device: str, size: int
    ) -> CacheEntry:
        """The entry of this call's key (a stream, ``plan`` None: keyed without its ids)."""
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
        parts["chunk_size"] = size
        decode = decode_key(enc, self.options.decode)
        if decode:  # torch's resize (fast), GPU decode: other pixels
            parts["decode"] = decode
        return self.cache.entry(parts, label=f"{enc.model_id}-{enc.tower}")
