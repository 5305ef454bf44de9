"""Device, precision and the forward pass: one collated batch -> float32 rows on the device
(the batch size halved on CUDA out of memory)."""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.core.options import PRECISIONS
from infogauss_cli.core.progress import note
from infogauss_cli.extract.loader import keep_freed_memory

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

    from infogauss_cli.models.registry import Encoder


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


GPU_DEVICE_NODES = ("/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def device_without_torch(device: str = "auto") -> str | None:
    """``cpu`` where :func:`resolve_device` gives it without importing torch; else None."""
    d = (device or "auto").strip().lower()
    no_gpu = d == "auto" and not any(map(os.path.exists, GPU_DEVICE_NODES))
    return "cpu" if d == "cpu" or no_gpu else None


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda:0`` or ``cpu``; ``cuda`` -> ``cuda:0``; ``cuda:I`` checked."""
    import torch

    d = (device or "auto").strip().lower()
    if d == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if d == "cpu":
        return "cpu"
    if d == "cuda" or d.startswith("cuda:"):
        index_text = d.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise BadInputError(f"--device {device!r}: expected cuda or cuda:I (I a GPU number)")
        if not torch.cuda.is_available():
            raise BadInputError(
                f"--device {device}: no CUDA device is available here; use --device cpu"
            )
        index, count = int(index_text), torch.cuda.device_count()
        if index >= count:
            raise BadInputError(f"--device {device}: only {count} CUDA device(s) (cuda:0..)")
        return f"cuda:{index}"
    raise BadInputError(f"--device {device!r}: unknown device; use auto, cpu, cuda or cuda:I")


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> bf16 on CUDA (fp16 without bf16), fp32 on CPU; fp16 on CPU is an error."""
    p = (getattr(precision, "value", precision) or "auto").strip().lower()
    if p not in PRECISIONS:
        raise BadInputError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    cuda = device.startswith("cuda")
    if p == "auto":
        if not cuda:
            return "fp32"
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if p == "fp16" and not cuda:
        raise BadInputError("--precision fp16 needs CUDA; on CPU use fp32 (default) or bf16")
    return p


def default_batch_size(device: str, tower: str, memory_gb: float | None = None) -> int:
    """CPU: 16 images / 64 texts; CUDA: 256 / 512 up to 40 GB, twice that above, 4x from 120 GB."""
    if not device.startswith("cuda"):
        return 64 if tower == "text" else 16
    if memory_gb is None:
        import torch

        ok = torch.cuda.is_available()
        memory_gb = torch.cuda.get_device_properties(device).total_memory / 2**30 if ok else 0.0
    scale = 4 if memory_gb >= 120 else 2 if memory_gb >= 40 else 1
    return (512 if tower == "text" else 256) * scale


class Runner:
    """The forward pass at ``batch_size``, halved on CUDA out of memory; ``device_prep``: what
    the device does to a batch first (uint8 images normalised)."""

    def __init__(
        self,
        encoder: Encoder,
        device: str,
        precision: str,
        batch_size: int,
        say: Callable[[str], None] = note,
        device_prep: Callable | None = None,
    ) -> None:
        import torch

        self.torch, self.device, self.precision, self.say = torch, device, precision, say
        self.cuda = device.startswith("cuda")
        if not self.cuda:
            keep_freed_memory()  # no page faults for each batch's activations
        self.batch_size = batch_size
        self.dim, self.model_id = encoder.dim, encoder.model_id
        castable = precision == "bf16" and not self.cuda and hasattr(encoder.module, "to")
        self.cast = torch.bfloat16 if castable else None
        self.channels_last = bool(encoder.channels_last)
        module = encoder.module.eval() if hasattr(encoder.module, "eval") else encoder.module
        if hasattr(module, "to"):
            if self.cast is not None:  # weights cast on a copy (the caller's keeps fp32 weights)
                module = copy.deepcopy(module).to(self.cast)
            module = module.to(device)
            if self.channels_last:
                module = module.to(memory_format=torch.channels_last)
        self.module, self.device_prep, self.forward = module, device_prep, encoder.forward

    def compile(self) -> None:
        """``--compile``: ``torch.compile`` (backend ``$INFOGAUSS_COMPILE_BACKEND``)."""
        if not callable(getattr(self.module, "forward", None)):
            raise BadInputError(f"--compile: {self.model_id} is not a torch module")
        backend = os.environ.get("INFOGAUSS_COMPILE_BACKEND", "inductor")
        self.module = self.torch.compile(self.module, backend=backend)

    def autocast(self) -> Any:
        if self.cuda and self.precision in ("bf16", "fp16"):
            dtype = self.torch.bfloat16 if self.precision == "bf16" else self.torch.float16
            return self.torch.autocast("cuda", dtype=dtype)
        return contextlib.nullcontext()

    def to_device(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        torch = self.torch
        if self.device_prep is not None:  # uint8 images: normalised on the device
            batch = self.device_prep(batch, self.device)
        out = {}
        for name, t in batch.items():
            if isinstance(t, torch.Tensor):
                t = t.to(self.device, non_blocking=self.cuda)
                if self.cast is not None and t.is_floating_point():
                    t = t.to(self.cast)
                if self.channels_last and t.ndim == 4:
                    t = t.contiguous(memory_format=torch.channels_last)
            out[name] = t
        return out

    def _back_off(self, b: int) -> None:
        self.torch.cuda.empty_cache()  # a no-op where CUDA never started
        if b == 1:
            raise RunError(
                f"{self.model_id}: CUDA out of memory even with batch size 1 on "
                f"{self.device}; free GPU memory (other processes?) or use another device"
            ) from None
        self.batch_size = max(1, b // 2)
        self.say(f"CUDA out of memory at batch size {b}; backing off to {self.batch_size}")

    def __call__(self, batch: dict[str, Tensor], rows: int) -> Tensor:
        torch = self.torch
        batch = self.to_device(batch)
        parts, start = [], 0
        while start < rows:
            b = self.batch_size
            sub = batch
            if start or b < rows:  # rows [start, start + b) of every batch-first tensor
                sub = {
                    k: (v[start : start + b] if hasattr(v, "shape") else v)
                    for k, v in batch.items()
                }
            try:
                with self.autocast():
                    out = self.forward(self.module, sub)
            except torch.cuda.OutOfMemoryError:
                del sub
                self._back_off(b)
                continue
            n_rows = min(b, rows - start)
            if out.ndim != 2 or out.shape[0] != n_rows or out.shape[1] != self.dim:
                raise RunError(
                    f"{self.model_id}: the encoder returned shape {tuple(out.shape)} for "
                    f"{n_rows} items; expected ({n_rows}, {self.dim})"
                )
            # a copy: a view (a CLS slice) would keep the whole hidden state alive
            parts.append(out.to(torch.float32, copy=True))
            start += n_rows
        return parts[0] if len(parts) == 1 else torch.cat(parts)
