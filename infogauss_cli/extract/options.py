"""How the engine computes: :class:`EngineOptions`, one frozen object handed to :func:`extract`.

None of these options enters the cache key except ``precision`` (resolved), ``chunk_items``
and ``decode`` (for image towers whose pixels differ from the model's transforms: see
:func:`~.cpu_decode.decode_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Compute


@dataclass(frozen=True)
class EngineOptions:
    """``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``), ``precision`` (``auto``, ``fp32``,
    ``bf16``, ``fp16``), ``batch_size`` and ``workers`` (None: the device's default),
    ``chunk_items`` (items per cache chunk; None: :func:`~.plan.default_chunk_items`, text towers
    2,048), ``bucket`` (text batches sorted by length within each chunk; results keep the items'
    order), ``compile`` (``torch.compile`` the module), ``decode`` (``cpu``: the model's own
    transforms, pixel for pixel; ``exact``: the same; ``fast``: Resize + CenterCrop by torch's
    uint8 kernel where the transforms allow (other pixels); ``gpu``: JPEG files decoded on the
    CUDA device) and ``strict``
    (an unreadable item is a BadInputError naming it, as soon as it is met, instead of being
    skipped)."""

    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None
    workers: int | None = None
    chunk_items: int | None = None
    bucket: bool = True
    compile: bool = False
    decode: str = "cpu"
    strict: bool = False

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise BadInputError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.workers is not None and self.workers < 0:
            raise BadInputError(f"--workers {self.workers}: must be 0 or more")
        if self.chunk_items is not None and self.chunk_items < 1:
            raise BadInputError(f"chunk size {self.chunk_items}: must be at least 1 item")


def engine_options(
    compute: Compute, device: str | None = None, strict: bool = False
) -> EngineOptions:
    """The engine options of ``compute`` (``device``: one already resolved for this process,
    e.g. a torchrun rank's GPU)."""
    return EngineOptions(
        device=compute.device if device is None else device,
        precision=compute.precision,
        batch_size=compute.batch_size,
        workers=compute.workers,
        compile=compute.compile,
        decode=compute.decode,
        strict=strict,
    )
