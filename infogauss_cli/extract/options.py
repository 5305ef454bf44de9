"""How the engine computes: :class:`EngineOptions`, one frozen object handed to ``extract``."""

from __future__ import annotations

from dataclasses import dataclass, field

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Compute
from infogauss_cli.extract.plan import Shard


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
