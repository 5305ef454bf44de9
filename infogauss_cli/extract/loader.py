"""Items -> collated CPU batches: a DataLoader whose workers load (the source's item loader:
decode an image, read a text), prepare (``Encoder.prepare``) and collate (tokenise captions a
batch at a time). Unreadable items come back as markers, are dropped from the batch and named.
Pinned memory on CUDA."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from typing import Any

from infogauss_cli.data.sources.base import Item, ItemLoadError
from infogauss_cli.extract.cpu_decode import (
    JpegTensorOr,
    TensorResizeCrop,
    fast_cpu_decode,
    tensor_path,
)
from infogauss_cli.extract.transforms import (
    gpu_decode_params,
    pixel_key,
    split_normalize,
    unwrap_prepare,
)
from infogauss_cli.extract.workers import CalibratedLoader, ThreadedBatches, loading_threads

TEXT_CHUNK_ITEMS = 2048  # text chunks: wide enough for length buckets, still small (6 MB at 768-d)


def bucket_batches(
    plan: Any, chunks: Sequence[int], lengths: Sequence[int] | Mapping[int, int]
) -> list[list[int]]:
    """Length-bucketed batches: the items of each chunk sorted by ``lengths`` (stable; indexed
    by item index), cut into batches of ``plan.batch_size``; a batch never spans chunks, and
    which items share a batch depends only on the chunk's items, so a resumed run batches the
    same way. The writer restores the items' order."""
    out = []
    for c in chunks:
        start, stop = plan.bounds(c)
        order = sorted(range(start, stop), key=lambda i: lengths[i])
        out += [order[b : b + plan.batch_size] for b in range(0, len(order), plan.batch_size)]
    return out


LENGTH_GROUP = 256  # texts per token_lengths call


def text_lengths(
    items: Sequence[Item],
    collate: Any = None,
    indices: Iterable[int] | None = None,
) -> dict[int, int]:
    """Item index -> token count (of ``indices``, default every item) from the encoder's
    ``collate.token_lengths(texts)`` (the built-in transformers and sentence-transformers
    collates have one; a plugin's text collate may add one), which is what a batch pads to;
    characters (whitespace-trimmed) where there is none, it pads to a fixed length or it fails.
    Characters are a poor proxy: on pydoc sentences, batches sorted by characters computed 1.6x
    the tokens of batches sorted by tokens (code and symbols tokenise densely). A text's count
    depends on that text only, so batches stay a function of the chunk."""
    idx = list(range(len(items)) if indices is None else indices)
    out: dict[int, int] = {}
    for g in range(0, len(idx), LENGTH_GROUP):
        group = idx[g : g + LENGTH_GROUP]
        texts = [str(items[i].text) for i in group]
        counts = _token_counts(collate, texts) if collate is not None else None
        if counts is None:
            counts = [len(t.strip()) for t in texts]
        out.update(zip(group, counts, strict=True))
    return out


def _token_counts(collate: Any, texts: list[str]) -> list[int] | None:
    """Tokens per text from the collate's own ``token_lengths(texts)`` (a tokenizer call
    without padding or tensors); None where it has none, returns None (fixed-length batches,
    nothing to gain) or fails. The collate itself is not called: tokenising happens a batch at
    a time, in the loader."""
    counter = getattr(collate, "token_lengths", None)
    if not callable(counter):
        return None
    try:
        got = counter(texts)
        counts = [int(v) for v in got] if got is not None else []
    except Exception:  # an odd tokenizer: the character proxy still sorts
        return None
    return counts if len(counts) == len(texts) else None


def default_workers(device: str, tower: str) -> int:
    """CUDA: every core but one decodes (at most 32; an H200 eats a few thousand small images
    a second, more than 8 PIL processes make). CPU: none to start with; for images the engine
    then chooses the count from the measured decode and forward rates after the first batch
    (:class:`~.workers.CalibratedLoader`); text none (tokenising is cheap)."""
    cpus = os.cpu_count() or 1
    if device.startswith("cuda"):
        return max(1, min(32, cpus - 1))
    return 0


def loader_workers(requested: int | None, device: str, tower: str) -> tuple[int, bool]:
    """(worker processes, calibrate): ``--workers`` as given, else :func:`default_workers`,
    and for CPU images the count chosen after the first batch instead (``calibrate``, see
    :func:`make_loader`)."""
    if requested is not None:
        return requested, False
    return default_workers(device, tower), tower == "image" and not device.startswith("cuda")


class Skip:
    """Marker for an item that could not be loaded or prepared."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class ItemDataset:
    """``index -> (index, prepared input | Skip)``; module level so that workers can pickle it."""

    def __init__(
        self, items: Sequence[Item], load: Callable[[Item], Any], prepare: Callable[[Any], Any]
    ) -> None:
        self.items, self.load, self.prepare = items, load, prepare

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        try:
            raw = self.load(self.items[index])
        except ItemLoadError as exc:
            return index, Skip(exc.reason)
        try:
            return index, self.prepare(raw)
        except Exception as exc:  # a decodable file the model's preprocessing rejects
            return index, Skip(f"preprocessing failed: {type(exc).__name__}: {exc}")


class Collate:
    """Drop skipped markers, collate the rest; return (indices, kept indices, batch, skipped)."""

    def __init__(self, collate: Callable[[list[Any]], dict[str, Any]]) -> None:
        self.collate = collate

    def __call__(self, samples: list[tuple[int, Any]]) -> tuple[Any, ...]:
        indices = [i for i, _ in samples]
        kept = [(i, x) for i, x in samples if not isinstance(x, Skip)]
        skipped = [(i, x.reason) for i, x in samples if isinstance(x, Skip)]
        batch = self.collate([x for _, x in kept]) if kept else None
        return indices, [i for i, _ in kept], batch, skipped


class DevicePrep:
    """On the device: uint8 pixels -> float, normalised (``(x / 255 - mean) / std``, the same
    arithmetic as ToTensor + Normalize); with ``gpu_decode`` (resize, crop) JPEG bytes are first
    decoded there (``torchvision.io.decode_jpeg``) and resized and cropped like the CPU path."""

    def __init__(
        self,
        key: str,
        mean: list[float],
        std: list[float],
        gpu_decode: tuple[Any, Any] | None = None,
    ) -> None:
        self.key, self.mean, self.std, self.gpu_decode = key, mean, std, gpu_decode

    def __call__(self, batch: dict[str, Any], device: str) -> dict[str, Any]:
        import torch

        batch = dict(batch)
        pixels = batch.get(self.key)
        if "jpeg" in batch:
            pixels = self._decode(batch.pop("jpeg"), batch.pop("order"), pixels, device)
        x = pixels.to(device, non_blocking=device.startswith("cuda")).float().div_(255)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        batch[self.key] = x.sub_(mean).div_(std)
        return batch

    def _decode(self, jpegs: list[Any], order: list[int], pixels: Any, device: str) -> Any:
        import torch

        io = torchvision_io()
        resize_crop = TensorResizeCrop(*self.gpu_decode)  # type: ignore[misc]
        dev = device if device.startswith("cuda") else "cpu"
        decoded = io.decode_jpeg(jpegs, mode=io.ImageReadMode.RGB, device=dev) if jpegs else []
        done = [resize_crop(im) for im in decoded]
        rest = list(pixels.to(dev)) if pixels is not None else []
        both = done + rest  # order: positions of the jpegs, then of the rest
        out = [None] * len(both)
        for pos, img in zip(order, both, strict=True):
            out[pos] = img
        return torch.stack(out)


TORCHVISION_IO_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"


@functools.cache
def torchvision_io() -> Any:
    """``torchvision.io`` (decode_jpeg, ImageReadMode), without its warning on every call that
    decoding moves to torchcodec (torchvision >= 0.29; a filter on that message, once per
    process)."""
    import warnings

    warnings.filterwarnings("ignore", TORCHVISION_IO_DEPRECATION, DeprecationWarning)
    import torchvision.io

    return torchvision.io


def load_jpeg_or(load: Callable[[Item], Any]) -> Callable[[Item], Any]:
    """An item loader that returns the raw bytes of a JPEG file (decoded later on the GPU) and
    otherwise calls ``load``."""
    return JpegOr(load)


class JpegOr:
    def __init__(self, load: Callable[[Item], Any]) -> None:
        self.load = load

    def __call__(self, item: Item) -> Any:
        from infogauss_cli.data.sources.images import (
            checked_jpeg_bytes,  # a bomb never reaches the GPU decoder
        )

        data = checked_jpeg_bytes(item) if item.image is None else None
        return self.load(item) if data is None else RawJpeg(data)


class RawJpeg:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class PrepareOr:
    """Raw JPEG bytes pass through; anything else goes through ``prepare``."""

    def __init__(self, prepare: Callable[[Any], Any]) -> None:
        self.prepare = prepare

    def __call__(self, raw: Any) -> Any:
        if isinstance(raw, RawJpeg):
            import torch

            return torch.frombuffer(bytearray(raw.data), dtype=torch.uint8)
        return self.prepare(raw)


class JpegCollate:
    """Collate a mix of JPEG byte tensors (1-D) and prepared uint8 images (3-D) into the
    encoder's batch ``key``."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, xs: list[Any]) -> dict[str, Any]:
        import torch

        jpeg = [(i, x) for i, x in enumerate(xs) if x.ndim == 1]
        rest = [(i, x) for i, x in enumerate(xs) if x.ndim != 1]
        batch: dict[str, Any] = {
            "jpeg": [x for _, x in jpeg],
            "order": [i for i, _ in jpeg] + [i for i, _ in rest],
        }
        batch[self.key] = torch.stack([x for _, x in rest]) if rest else None
        return batch


class Pipeline:
    """The DataLoader (or a :class:`CalibratedLoader`) and what the runner does on the device
    before the forward pass."""

    def __init__(self, loader: Any, device_prep: DevicePrep | None, notes: list[str]) -> None:
        self.loader, self.device_prep, self.notes = loader, device_prep, notes

    def workers(self, default: int) -> int:
        """The worker count used: the calibrated one, else ``default``."""
        chosen = getattr(self.loader, "workers", None)
        return chosen if isinstance(chosen, int) else default


def _device_side(encoder: Any, load: Callable[[Item], Any], decode: str) -> tuple[Any, ...]:
    """(load, prepare, collate, DevicePrep or None, notes): what moves to the device."""
    prepare, collate, notes = encoder.prepare, encoder.collate, []
    tensor = tensor_path(encoder, decode)
    if tensor is not None:  # JPEGs decoded to tensors, resized by torch's uint8 kernel
        from infogauss_cli.data.sources.images import load_image

        resize_crop, key, (mean, std) = tensor
        load = JpegTensorOr(load) if load is load_image else load
        return load, resize_crop, collate, DevicePrep(key, mean, std), notes
    if decode in ("cpu", "fast") and encoder.tower == "image":  # Resize + CenterCrop fused
        load, prepare = fast_cpu_decode(load, prepare, decode == "fast") or (load, prepare)
    split = split_normalize(prepare) if encoder.tower == "image" else None
    try:
        key = pixel_key(collate) if split is not None else ""
    except Exception:  # an encoder with its own batch layout: keep its float path
        split = None
    if split is None:
        if decode == "gpu":
            notes.append("--decode gpu: the model's inputs are not standard images; using PIL")
        return load, prepare, collate, None, notes
    prepare, (mean, std) = split
    gpu = gpu_decode_params(unwrap_prepare(prepare)[0].transforms) if decode == "gpu" else None
    if decode == "gpu" and gpu is None:
        notes.append("--decode gpu: the transforms are not Resize + CenterCrop; using PIL")
    if gpu is not None:
        load, prepare, collate = load_jpeg_or(load), PrepareOr(prepare), JpegCollate(key)
    return load, prepare, collate, DevicePrep(key, mean, std, gpu), notes


def lower_priority(_worker_id: int) -> None:
    """CPU workers run at nice +5: on a machine whose cores the forward pass already uses
    (torch threads = cores), decoding then takes the time the forward pass leaves idle instead
    of preempting it."""
    import contextlib

    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)


def make_loader(
    items: Sequence[Item],
    encoder: Any,
    load: Callable[[Item], Any],
    batches: Iterable[list[Any]],
    workers: int,
    device: str,
    decode: str = "cpu",
    calibrate: bool = False,
) -> Pipeline:
    """A DataLoader over ``batches`` (lists of item indices) yielding :class:`Collate` tuples.
    Images whose ``prepare`` ends in ToTensor + Normalize travel as uint8 and are normalised on
    the device; with ``decode="gpu"`` JPEG files are decoded on the device too (others: PIL).
    ``batches``: a list, or a stream's batches as they are read. ``calibrate``: ``workers`` is
    ignored and chosen after the first batch (:class:`CalibratedLoader`)."""
    load, prepare, collate, prep, notes = _device_side(encoder, load, decode)
    dataset = ItemDataset(items, load, prepare)
    threads = loading_threads(device, encoder.tower)
    make = _LoaderMaker(dataset, Collate(collate), device.startswith("cuda"), threads)
    if calibrate and (len(batches) > 1 if isinstance(batches, Sized) else True):
        return Pipeline(CalibratedLoader(make, batches), prep, notes)
    return Pipeline(make(batches, workers), prep, notes)


class _LoaderMaker:
    """``(batches, workers) -> DataLoader`` over one dataset and collate (no workers and more
    than one loading thread: :class:`ThreadedBatches`)."""

    def __init__(self, dataset: ItemDataset, collate: Collate, cuda: bool, threads: int) -> None:
        self.dataset, self.collate, self.cuda, self.threads = dataset, collate, cuda, threads

    def __call__(self, batches: Iterable[list[Any]], workers: int) -> Any:
        import torch

        if workers == 0 and self.threads > 1:
            return ThreadedBatches(self.dataset, self.collate, batches, self.threads)
        cuda = self.cuda
        extra: dict[str, Any] = {"prefetch_factor": 4 if cuda else 2} if workers > 0 else {}
        if workers > 0 and not cuda:  # decoding fills the cores the forward pass leaves idle
            extra["worker_init_fn"] = lower_priority
        return torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=batches,
            num_workers=workers,
            collate_fn=self.collate,
            pin_memory=cuda,
            **extra,
        )
