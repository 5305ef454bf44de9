"""Items -> collated batches (item loader, ``Encoder.prepare``, collate) on worker processes or,
for CPU images, on threads between forward passes; unreadable items are dropped and named;
uint8 images are normalised on the device (:class:`DevicePrep`)."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.progress import note
from infogauss_cli.data.sources.base import Item, ItemLoadError
from infogauss_cli.data.sources.loaders import load_image
from infogauss_cli.extract import cpu_decode as dec

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infogauss_cli.extract.plan import EngineOptions
    from infogauss_cli.models.registry import Encoder

LENGTH_GROUP = 256  # texts per token_lengths call
LOAD_GROUP_ITEMS = 128  # items the loading threads load in one pause between forward passes
LOAD_GROUP_BYTES = 64 * 2**20  # ... and at most about this much of prepared inputs
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
Batch = dict[str, Any]


def text_lengths(items: Sequence[Item], collate: object = None) -> dict[int, int]:
    """Item index -> token count by the collate's own ``token_lengths(texts)``; characters where
    it has none, returns None or fails."""
    idx, counter, out = range(len(items)), getattr(collate, "token_lengths", None), {}
    for g in range(0, len(idx), LENGTH_GROUP):
        group = idx[g : g + LENGTH_GROUP]
        texts, counts = [str(items[i].text) for i in group], []
        if callable(counter):
            with contextlib.suppress(Exception):  # an odd tokenizer: characters still sort
                counts = [int(v) for v in counter(texts) or []]
        if len(counts) != len(texts):
            counts = [len(t.strip()) for t in texts]
        out.update(zip(group, counts, strict=True))
    return out


def default_workers(device: str, tower: str) -> int:
    """CUDA: every core but one loads (at most 32). CPU: no worker processes (images load on
    threads between forward passes; text tokenises in the collate)."""
    return max(1, min(32, (os.cpu_count() or 1) - 1)) if device.startswith("cuda") else 0


def loading_threads(device: str, tower: str) -> int:
    """Loading threads for CPU images: torch's thread count (at most 8); else 1."""
    if tower != "image" or device.startswith("cuda"):
        return 1
    import torch

    return max(1, min(8, torch.get_num_threads()))


@dataclass(frozen=True)
class Skip:
    """Marker for an item that could not be loaded or prepared."""

    reason: str


class ItemDataset:
    """``index`` (or a stream's ``(index, item)``) -> ``(index, prepared input | Skip)``; module
    level so that workers can pickle it."""

    def __init__(self, items: Sequence[Item], load: dec.Loader, prepare: dec.Prepare) -> None:
        self.items, self.load, self.prepare = items, load, prepare

    def __getitem__(self, key: int | tuple[int, Item]) -> tuple[int, Any]:
        index, item = key if isinstance(key, tuple) else (key, self.items[key])
        try:
            raw = self.load(item)
        except ItemLoadError as exc:
            return index, Skip(exc.reason)
        try:
            return index, self.prepare(raw)
        except Exception as exc:  # a decodable file the model's preprocessing rejects
            return index, Skip(f"preprocessing failed: {type(exc).__name__}: {exc}")


def collate_kept(collate: Callable[[list], Batch], samples: list[tuple[int, object]]) -> tuple:
    """Drop skipped markers, collate the rest: (indices, kept indices, batch, skipped)."""
    kept = [(i, x) for i, x in samples if not isinstance(x, Skip)]
    skipped = [(i, x.reason) for i, x in samples if isinstance(x, Skip)]
    batch = collate([x for _, x in kept]) if kept else None
    return [i for i, _ in samples], [i for i, _ in kept], batch, skipped


def load_groups(batches: Iterable[list[int]], items: Callable[[], int]) -> Iterator[list[list]]:
    """``batches`` in groups of whole batches of at least ``items()`` items (asked per group)."""
    group: list[list[int]] = []
    for batch in batches:
        group.append(batch)
        if sum(map(len, group)) >= items():
            yield group
            group = []
    if group:
        yield group


def nbytes(sample: object) -> int:
    """The bytes of the arrays in a prepared input (nested in dicts, lists, tuples); else 0."""
    if isinstance(sample, (dict, list, tuple)):
        return sum(map(nbytes, sample.values() if isinstance(sample, dict) else sample))
    size = getattr(sample, "nbytes", 0)
    return size if isinstance(size, int) else 0


class ThreadedBatches:
    """``batches`` -> collated batches in order, loaded by ``threads`` threads (the decoders
    release the GIL) a group of whole batches at a time (:func:`load_groups`): the first batch
    alone, then up to ``group_items`` items or ``group_bytes`` of inputs. The next group starts
    when this one's batches are taken: loading never competes with the forward pass."""

    def __init__(
        self,
        dataset: ItemDataset,
        collate: Callable[[list], object],
        batches: Iterable[list[int]],
        threads: int,
        group_items: int = LOAD_GROUP_ITEMS,
        group_bytes: int = LOAD_GROUP_BYTES,
    ) -> None:
        self.dataset, self.collate, self.batches, self.threads = dataset, collate, batches, threads
        self.max_items, self.group_bytes, self.group_items = group_items, group_bytes, 1

    def __iter__(self) -> Iterator[Any]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads, thread_name_prefix="infogauss-load") as pool:
            for group in load_groups(self.batches, lambda: self.group_items):
                # an error or Ctrl-C while a group loads: map cancels the items not yet started
                loaded = list(pool.map(self.dataset.__getitem__, [i for b in group for i in b]))
                largest = max(map(nbytes, loaded), default=0)
                cap = self.group_bytes // largest if largest else self.max_items
                self.group_items = min(self.max_items, cap)  # the next group's
                for batch in group:
                    yield self.collate(loaded[: len(batch)])
                    loaded = loaded[len(batch) :]


class DevicePrep:
    """On the device: uint8 pixels -> ``(x / 255 - mean) / std`` (ToTensor + Normalize's
    arithmetic); with ``gpu`` the batch is a list where JPEG bytes (1-D) are decoded there
    first and resized and cropped by ``gpu``, like the ``fast`` path."""

    def __init__(
        self, key: str, mean: list[float], std: list[float], gpu: dec.TensorResizeCrop | None = None
    ) -> None:
        self.key, self.mean, self.std, self.gpu_decode = key, mean, std, gpu

    def __call__(self, batch: Batch, device: str) -> Batch:
        import torch

        pixels = batch[self.key]
        if isinstance(pixels, list):
            pixels = self._decode(pixels, device if device.startswith("cuda") else "cpu")
        x = pixels.to(device, non_blocking=device.startswith("cuda")).float().div_(255)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return {**batch, self.key: x.sub_(mean).div_(std)}

    def _decode(self, xs: list[torch.Tensor], dev: str) -> torch.Tensor:
        import warnings

        import torch

        warnings.filterwarnings("ignore", "The image decoding and encoding", DeprecationWarning)
        import torchvision.io as io  # (its warning above: decoding moves to torchcodec)

        jpeg = [i for i, x in enumerate(xs) if x.ndim == 1]
        rgb = io.ImageReadMode.RGB
        decoded = io.decode_jpeg([xs[i] for i in jpeg], mode=rgb, device=dev) if jpeg else []
        out = [x.to(dev) for x in xs]
        for i, img in zip(jpeg, decoded, strict=True):
            out[i] = self.gpu_decode(img)
        return torch.stack(out)


def jpeg_or(load: dec.Loader, item: Item) -> Any:
    """``--decode gpu``'s loader: a complete JPEG file's bytes as a 1-D uint8 tensor; else load."""
    data = dec.complete_jpeg(item) if item.image is None else None
    if data is None:
        return load(item)
    import torch

    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def prepare_or(prepare: dec.Prepare, raw: object) -> object:
    """JPEG bytes (a 1-D tensor from :func:`jpeg_or`) pass through; anything else: ``prepare``."""
    return raw if getattr(raw, "ndim", None) == 1 else prepare(raw)


def list_collate(key: str, xs: list[torch.Tensor]) -> Batch:
    """``--decode gpu``'s collate: JPEG bytes (1-D) and uint8 images (3-D) as a list."""
    return {key: list(xs)}


def device_side(
    encoder: Encoder, load: dec.Loader, decode: str, say: Callable[[str], None] = note
) -> tuple[Any, ...]:
    """(load, prepare, collate, DevicePrep or None) for ``--decode cpu/exact/fast/gpu``."""
    prepare, collate = encoder.prepare, encoder.collate
    default = load is load_image and encoder.tower == "image"
    split = dec.split_normalize(prepare) if encoder.tower == "image" else None
    try:
        key = dec.pixel_key(collate) if split is not None else ""
    except Exception:  # an encoder with its own batch layout: keep its float path
        split = None
    if split is None:
        if decode == "gpu":
            say("--decode gpu: the model's inputs are not standard images; using PIL")
        return dec.SimpleJpeg(load) if default else load, prepare, collate, None
    prepare, (mean, std) = split
    params = dec.resize_crop_params(prepare) if decode in ("fast", "gpu") else None
    resize_crop = dec.TensorResizeCrop(*params) if params is not None else None
    if decode == "fast" and resize_crop is not None:  # JPEGs decoded to tensors, torch resizes
        load = dec.SimpleJpeg(load, tensor=True) if default else load
        return load, resize_crop, collate, DevicePrep(key, mean, std)
    gpu = resize_crop if decode == "gpu" else None
    if decode == "gpu" and gpu is None:
        say("--decode gpu: the transforms are not Resize + CenterCrop; using PIL")
    if gpu is not None:
        load, prepare = functools.partial(jpeg_or, load), functools.partial(prepare_or, prepare)
        collate = functools.partial(list_collate, key)
    elif default:
        load = dec.SimpleJpeg(load)
    return load, prepare, collate, DevicePrep(key, mean, std, gpu)


@functools.cache
def keep_freed_memory() -> bool:
    """CPU forward passes without page faults: glibc's malloc keeps up to 1 GiB freed for the
    next batch, once per process (``INFOGAUSS_MALLOC_TUNING=0``: off); True if it applied."""
    if os.environ.get("INFOGAUSS_MALLOC_TUNING", "1") == "0":
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl has no such symbol)
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))


def lower_priority(_worker_id: int) -> None:
    """CPU worker processes run at nice +5: decoding takes the time the forward pass leaves."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)


def make_loader(
    items: Sequence[Item],
    encoder: Encoder,
    load: dec.Loader,
    batches: Iterable[list[int]] | Iterable[list[tuple[int, Item]]],
    options: EngineOptions,
    say: Callable[[str], None] = note,
) -> tuple[Iterable[tuple[Any, ...]], DevicePrep | None, int]:
    """(a loader over ``batches`` (of item indices, or a stream's (index, item)) yielding
    :func:`collate_kept` tuples, what the runner does on the device first, worker processes)
    for ``options.device`` (resolved), ``.workers`` (None: default) and ``.decode``."""
    import torch

    device, workers = options.device, options.workers
    load, prepare, collate, prep = device_side(encoder, load, options.decode, say)
    dataset, cuda = ItemDataset(items, load, prepare), device.startswith("cuda")
    collate_fn = functools.partial(collate_kept, collate)
    workers = default_workers(device, encoder.tower) if workers is None else workers
    workers = min(workers, len(batches)) if isinstance(batches, Sized) else workers
    threads = loading_threads(device, encoder.tower)
    if workers == 0 and threads > 1:
        return ThreadedBatches(dataset, collate_fn, batches, threads), prep, 0
    extra: dict[str, Any] = {"prefetch_factor": 4 if cuda else 2} if workers > 0 else {}
    if workers > 0 and not cuda:  # decoding fills the cores the forward pass leaves idle
        extra["worker_init_fn"] = lower_priority
    extra.update(batch_sampler=batches, num_workers=workers, collate_fn=collate_fn)
    return torch.utils.data.DataLoader(dataset, pin_memory=cuda, **extra), prep, workers
