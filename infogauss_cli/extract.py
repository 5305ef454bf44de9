"""Encoder x items -> float32 embeddings: devices, precision, batching, workers, progress, cache.

Determinism: the item list is cut into chunks of ``chunk_size`` items (the smallest multiple of
the batch size >= 256) and every chunk into batches of ``batch_size`` consecutive items, so which
items share a batch depends only on (item list, batch size), never on what was cached before or
where a run was interrupted. Batch and chunk size are part of the cache key, so an interrupted
run resumed with the same command is bit-identical to an uninterrupted one on CPU. (A CUDA
out-of-memory back-off splits later batches in halves; CUDA is not bit-deterministic anyway.)

Precision: ``auto`` is bf16 autocast on CUDA (fp16 where the GPU has no bf16) and fp32 on CPU.
``bf16`` on CPU casts a copy of the weights to bfloat16 instead of using autocast: CPU autocast
is pathological for ``nn.MultiheadAttention`` (open_clip ViT-B/16 image, 2 cores: fp32 290
ms/img, autocast 857, weights cast 106; resnet34 55 / 24 / 23). ``fp16`` on CPU is refused.

Data: a DataLoader whose workers decode and preprocess (``Encoder.prepare``) and collate
(tokenising captions a batch at a time); unreadable items come back as markers and are dropped
and named, never breaking a batch. Pinned memory and non-blocking copies on CUDA; results stay
on the device until their chunk is complete and the next batch is launched, then come back.
Encoders flagged ``channels_last`` run channels-last on CPU too (efficientnet_lite0: 12 vs 21
ms/img).
The caller's module is put in eval mode and moved to the device in place.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import BadInputError, RunError
from .sources.base import Item, fingerprint_items
from .store import CacheEntry, Chunk, EmbeddingCache, ids_digest

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from rich.console import Console

    from .backends.base import Encoder

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEFAULT_CHUNK_ITEMS = 256
SKIPPED_SHOWN = 5  # how many skipped items messages name


@dataclass(frozen=True)
class Extraction:
    """The result of :func:`extract`. ``embeddings`` are raw float32 ``(n, dim)`` rows in item
    order of the kept items; ``skipped`` lists ``(id, reason)`` of items that could not be read;
    ``from_cache`` is the share of items served from the cache."""

    embeddings: np.ndarray
    ids: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    model_id: str
    tower: str
    device: str
    precision: str
    batch_size: int
    workers: int
    extract_s: float
    items_per_s: float
    from_cache: float
    cache_path: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])


# ---- resolution of the compute options ---------------------------------------------------------
def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda:0`` if CUDA is available else ``cpu``; ``cuda`` -> ``cuda:0``;
    ``cuda:I`` checked against the GPUs present. Returns the canonical name."""
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
    """``auto`` -> bf16 on CUDA (fp16 without bf16 support), fp32 on CPU. fp16 on CPU is an
    error. Returns one of fp32, bf16, fp16."""
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


def default_batch_size(device: str, tower: str) -> int:
    cuda = device.startswith("cuda")
    if tower == "text":
        return 512 if cuda else 64
    return 256 if cuda else 16


def default_workers(device: str, tower: str) -> int:
    """CUDA: ``min(8, cpus)`` decoding processes. CPU: images get ``cpus // 4`` workers, at
    least 1 and at most 4 (the forward pass uses every core; on 2 cores 0, 1 and 2 workers were
    within noise of each other, see benchmarks/extract.py, and one worker lets decoding overlap
    the forward pass where there are spare cores); text none (tokenising is cheap)."""
    cpus = os.cpu_count() or 1
    if device.startswith("cuda"):
        return min(8, cpus)
    if tower == "text" or cpus < 2:
        return 0
    return max(1, min(4, cpus // 4))


def chunk_size_for(batch_size: int, chunk_items: int = DEFAULT_CHUNK_ITEMS) -> int:
    """The smallest multiple of ``batch_size`` that holds at least ``chunk_items`` items."""
    return batch_size * max(1, math.ceil(chunk_items / batch_size))


# ---- data loading (runs in worker processes; module-level so it pickles) -----------------------
class _Skip:
    """Marker for an item that could not be loaded or prepared."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _ItemDataset:
    def __init__(self, items: Sequence[Item], prepare: Callable[[Any], Any], tower: str) -> None:
        self.items, self.prepare, self.tower = items, prepare, tower

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        from .sources.images import ImageLoadError, load_image

        item = self.items[index]
        try:
            raw = load_image(item) if self.tower == "image" else item.text
        except ImageLoadError as exc:
            return index, _Skip(exc.reason)
        try:
            return index, self.prepare(raw)
        except Exception as exc:  # a decodable file the model's preprocessing rejects
            return index, _Skip(f"preprocessing failed: {type(exc).__name__}: {exc}")


class _Collate:
    """Drop skipped markers, collate the rest; return (indices, kept indices, batch, skipped)."""

    def __init__(self, collate: Callable[[list[Any]], dict[str, Any]]) -> None:
        self.collate = collate

    def __call__(self, samples: list[tuple[int, Any]]) -> tuple[Any, ...]:
        indices = [i for i, _ in samples]
        kept = [(i, x) for i, x in samples if not isinstance(x, _Skip)]
        skipped = [(i, x.reason) for i, x in samples if isinstance(x, _Skip)]
        batch = self.collate([x for _, x in kept]) if kept else None
        return indices, [i for i, _ in kept], batch, skipped


# ---- the engine --------------------------------------------------------------------------------
def _check_items(items: Sequence[Item], tower: str) -> None:
    if not items:
        raise BadInputError("no items to embed")
    if tower == "text":
        bad = next((it for it in items if it.text is None), None)
        if bad is not None:
            raise BadInputError(f"item {bad.id!r} has no text; the text tower needs text items")
    else:
        bad = next((it for it in items if it.path is None and it.image is None), None)
        if bad is not None:
            raise BadInputError(f"item {bad.id!r} has no image; the image tower needs images")
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise BadInputError(f"duplicate item id {it.id!r}; ids must be unique")
        seen.add(it.id)


def _make_progress(console: Console | None, enabled: bool, label: str) -> Any:
    """A rich progress bar (items, items/s, elapsed, ETA); disabled unless ``enabled`` and the
    console is a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("- items/s" if speed is None else f"{speed:,.1f} items/s")

    console = console or Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
        transient=False,
    )
    progress.label = label  # type: ignore[attr-defined]
    return progress


class _Runner:
    """Moves batches to the device and runs the forward pass, halving the batch on CUDA OOM."""

    def __init__(
        self, encoder: Encoder, device: str, precision: str, batch_size: int, say: Callable
    ) -> None:
        import torch

        self.torch, self.device, self.precision, self.say = torch, device, precision, say
        self.cuda = device.startswith("cuda")
        self.batch_size = batch_size
        self.dim, self.model_id = encoder.dim, encoder.model_id
        module = encoder.module.eval()
        self.cast = None
        if precision == "bf16" and not self.cuda:
            # weights cast on a copy (the caller's module keeps its fp32 weights)
            module = copy.deepcopy(module).to(torch.bfloat16)
            self.cast = torch.bfloat16
        module = module.to(device)
        # channels_last helps CNNs on CPU too (oneDNN): efficientnet_lite0 12 vs 21 ms/img
        self.channels_last = bool(encoder.channels_last)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module, self.forward = module, encoder.forward

    def autocast(self) -> Any:
        if self.cuda and self.precision in ("bf16", "fp16"):
            dtype = self.torch.bfloat16 if self.precision == "bf16" else self.torch.float16
            return self.torch.autocast("cuda", dtype=dtype)
        return contextlib.nullcontext()

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        torch = self.torch
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

    def __call__(self, batch: dict[str, Any], rows: int) -> Any:
        """Embeddings (rows, dim) for a collated batch, still on the device (float32)."""
        torch = self.torch
        batch = self.to_device(batch)
        parts, start = [], 0
        while start < rows:
            b = self.batch_size
            sub = batch if (start == 0 and b >= rows) else _slice(batch, start, start + b)
            try:
                with self.autocast():
                    out = self.forward(self.module, sub)
            except torch.cuda.OutOfMemoryError:
                del sub
                if self.cuda:
                    torch.cuda.empty_cache()
                if b == 1:
                    raise RunError(
                        f"{self.model_id}: CUDA out of memory even with batch size 1 on "
                        f"{self.device}; free GPU memory (other processes?) or use another device"
                    ) from None
                self.batch_size = max(1, b // 2)
                self.say(f"CUDA out of memory at batch size {b}; backing off to {self.batch_size}")
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


def _raise_if_skipped(skipped: Sequence[tuple[str, str]]) -> None:
    """``--strict``: unreadable items are an error naming them."""
    if skipped:
        names = ", ".join(f"{i} ({r})" for i, r in skipped[:SKIPPED_SHOWN])
        more = len(skipped) - SKIPPED_SHOWN
        raise BadInputError(
            f"unreadable item(s) with --strict: {names}"
            + (f" and {more} more" if more > 0 else "")
            + "; fix or remove them, or drop --strict to skip them"
        )


def _slice(batch: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Rows [start, stop) of every batch-first tensor in a collated batch."""
    return {k: (v[start:stop] if hasattr(v, "shape") else v) for k, v in batch.items()}


def extract(
    encoder: Encoder,
    items: Sequence[Item],
    *,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
    workers: int | None = None,
    cache: EmbeddingCache | str | os.PathLike[str] | None = None,
    data_fingerprint: str | None = None,
    chunk_items: int = DEFAULT_CHUNK_ITEMS,
    progress: bool = True,
    console: Console | None = None,
    strict: bool = False,
) -> Extraction:
    """Embed ``items`` with ``encoder``; return raw float32 embeddings of the readable items.

    ``cache``: an :class:`EmbeddingCache` or a cache folder (None: no cache). The cache key is
    made of the encoder's fingerprint, tower and dim, ``data_fingerprint`` (default: a
    fingerprint of the item ids and their content/file stats), precision, device type, batch
    size and chunk size. Completed chunks are reused and verified; a corrupt chunk is recomputed.
    Messages (back-off, corrupt chunks) go to ``console`` and into ``Extraction.notes``; the
    progress bar shows only when ``progress`` and the console is a terminal. With ``strict``, an
    unreadable item is a BadInputError naming it (as soon as it is met) instead of being skipped.
    """
    import numpy as np
    import torch

    t0 = time.perf_counter()
    tower = encoder.tower
    _check_items(items, tower)
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    if batch_size is not None and batch_size < 1:
        raise BadInputError(f"--batch-size {batch_size}: must be at least 1")
    if workers is not None and workers < 0:
        raise BadInputError(f"--workers {workers}: must be 0 or more")
    bs = batch_size or default_batch_size(dev, tower)
    csize = chunk_size_for(bs, chunk_items)
    n = len(items)
    n_chunks = math.ceil(n / csize)
    ids = [it.id for it in items]
    notes: list[str] = []

    def say(message: str) -> None:
        notes.append(message)
        if console is not None:
            console.print(f"[yellow]{message}[/yellow]", highlight=False)

    # -- cache: what is done already
    entry: CacheEntry | None = None
    done: dict[int, Chunk] = {}
    if cache is not None:
        store = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache(cache)
        parts = {
            "model_id": encoder.model_id,
            "encoder": dict(encoder.fingerprint),
            "tower": tower,
            "dim": encoder.dim,
            "data": data_fingerprint or fingerprint_items("items", items),
            "n_items": n,
            "ids": ids_digest(ids),
            "precision": prec,
            "device_type": "cuda" if dev.startswith("cuda") else "cpu",
            "batch_size": bs,
            "chunk_size": csize,
        }
        entry = store.entry(parts, label=f"{encoder.model_id}-{tower}").open()
        for c in range(n_chunks):
            start, stop = c * csize, min(n, (c + 1) * csize)
            chunk, problem = entry.read_chunk(c, start, stop, ids[start:stop], encoder.dim)
            if chunk is not None:
                done[c] = chunk
            elif problem is not None:
                say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
    if strict:
        _raise_if_skipped([(i, r) for ch in done.values() for _, i, r in ch.skipped])
    n_cached = sum(ch.stop - ch.start for ch in done.values())
    todo = [c for c in range(n_chunks) if c not in done]

    nw = 0
    runner: _Runner | None = None
    if todo:
        batches = [
            list(range(b, min(b + bs, c * csize + csize, n)))
            for c in todo
            for b in range(c * csize, min(n, c * csize + csize), bs)
        ]
        nw = default_workers(dev, tower) if workers is None else workers
        nw = min(nw, len(batches))
        runner = _Runner(encoder, dev, prec, bs, say)
        loader_kwargs: dict[str, Any] = {}
        if nw > 0:
            loader_kwargs = {"prefetch_factor": 4 if dev.startswith("cuda") else 2}
        loader = torch.utils.data.DataLoader(
            _ItemDataset(items, encoder.prepare, tower),
            batch_sampler=batches,
            num_workers=nw,
            collate_fn=_Collate(encoder.collate),
            pin_memory=dev.startswith("cuda"),
            **loader_kwargs,
        )
        bar = _make_progress(console, progress, f"{encoder.model_id} {tower}")
        # per chunk: device tensors of its batches, skipped (offset, id, reason), batches left
        pending: dict[int, dict[str, Any]] = {}
        finished: list[int] = []  # chunks whose last batch was launched, not yet written
        per_chunk_batches: dict[int, int] = {}
        for batch_ids in batches:
            c = batch_ids[0] // csize
            per_chunk_batches[c] = per_chunk_batches.get(c, 0) + 1

        def finalize(c: int) -> None:
            state = pending.pop(c)
            start, stop = c * csize, min(n, (c + 1) * csize)
            dim = encoder.dim
            parts_ = [t.cpu().numpy() for t in state["out"]]
            arr = np.concatenate(parts_) if parts_ else np.zeros((0, dim), np.float32)
            chunk = Chunk(c, start, stop, arr, tuple(state["skipped"]), state["bs"])
            if entry is not None:
                entry.write_chunk(chunk, ids[start:stop])
            done[c] = chunk

        it = iter(loader)
        cudnn_benchmark = torch.backends.cudnn.benchmark
        if dev.startswith("cuda"):
            torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest convs
        try:
            with torch.inference_mode(), bar:
                task = bar.add_task(bar.label, total=n, completed=n_cached)
                for indices, kept, batch, skipped in it:
                    c = indices[0] // csize
                    state = pending.setdefault(
                        c, {"out": [], "skipped": [], "left": per_chunk_batches[c], "bs": bs}
                    )
                    if strict:
                        _raise_if_skipped([(ids[i], reason) for i, reason in skipped])
                    for i, reason in skipped:
                        state["skipped"].append((i - c * csize, ids[i], reason))
                    if kept:
                        state["out"].append(runner(batch, len(kept)))
                    state["bs"] = min(state["bs"], runner.batch_size)
                    # write chunks finished earlier, now that this batch's work is queued
                    while finished:
                        finalize(finished.pop(0))
                    state["left"] -= 1
                    if state["left"] == 0:
                        finished.append(c)
                    bar.advance(task, len(indices))
                while finished:
                    finalize(finished.pop(0))
        except KeyboardInterrupt:
            if entry is None:
                raise RunError("interrupted (the cache was off, nothing was kept)") from None
            while finished:  # complete chunks not yet written: keep them
                finalize(finished.pop(0))
            cached = sum(ch.stop - ch.start for ch in done.values())
            raise RunError(
                f"interrupted; rerun the same command to resume ({cached} of {n} items cached)"
            ) from None
        finally:
            del it
            torch.backends.cudnn.benchmark = cudnn_benchmark

    # -- assemble in item order
    embs, kept_ids, skipped_all = [], [], []
    for c in range(n_chunks):
        chunk = done[c]
        gone = {off for off, _, _ in chunk.skipped}
        kept_ids.extend(
            ids[i] for i in range(chunk.start, chunk.stop) if i - chunk.start not in gone
        )
        skipped_all.extend((item_id, reason) for _, item_id, reason in chunk.skipped)
        embs.append(chunk.embeddings)
    if not kept_ids:
        first = skipped_all[0] if skipped_all else ("?", "?")
        raise RunError(f"none of the {n} items could be read (first: {first[0]}: {first[1]})")
    emb = np.ascontiguousarray(np.concatenate(embs), dtype=np.float32)
    bad_rows = int((~np.isfinite(emb)).any(axis=1).sum())
    if bad_rows:
        say(f"{bad_rows} embedding rows contain NaN or inf (try --precision fp32)")
    elapsed = time.perf_counter() - t0
    return Extraction(
        embeddings=emb,
        ids=tuple(kept_ids),
        skipped=tuple(skipped_all),
        model_id=encoder.model_id,
        tower=tower,
        device=dev,
        precision=prec,
        batch_size=runner.batch_size if runner is not None else bs,
        workers=nw,
        extract_s=elapsed,
        items_per_s=n / elapsed if elapsed > 0 else float("inf"),
        from_cache=n_cached / n,
        cache_path=str(entry.path) if entry is not None else None,
        notes=tuple(notes),
    )


# ---- model + data spec -> extraction (what the commands call) ----------------------------------
def select_items(items: Sequence[Item], n: int | None, seed: int = 0) -> list[Item]:
    """A seeded random subset of ``n`` items, kept in their original order (all if ``n`` is
    None or not smaller than the list)."""
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise BadInputError(f"--n {n}: must be at least 1")
    import numpy as np

    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=n, replace=False))
    return [items[int(i)] for i in keep]


def resolve_towers(model_towers: Sequence[str], source: Any, tower: str = "all") -> list[str]:
    """The towers to embed: ``tower`` if both the model and the data have it; for ``all``,
    every tower of the model the data can feed."""
    tower = getattr(tower, "value", tower)
    data_towers = tuple(getattr(source, "towers", ()))
    name = getattr(source, "name", "the data")
    if tower == "all":
        towers = [t for t in model_towers if t in data_towers]
        if not towers:
            raise BadInputError(
                f"the model has towers {', '.join(model_towers)} but {name} feeds "
                f"{', '.join(data_towers) or 'none'}"
            )
        return towers
    if tower not in model_towers:
        raise BadInputError(
            f"the model has no {tower} tower (it has {', '.join(model_towers)}); "
            "choose another --tower"
        )
    if tower not in data_towers:
        raise BadInputError(
            f"{name} cannot feed the {tower} tower (it feeds {', '.join(data_towers)})"
        )
    return [tower]


def extract_model(
    entry: Any,
    source: Any,
    tower: str,
    *,
    n: int | None = None,
    seed: int = 0,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
    workers: int | None = None,
    cache: EmbeddingCache | str | os.PathLike[str] | None = None,
    progress: bool = True,
    console: Console | None = None,
    strict: bool = False,
) -> Extraction:
    """Build ``entry``'s encoder for ``tower`` and embed ``source`` (optionally a seeded
    subset of ``n`` items) through :func:`extract` (``strict``: unreadable items are an error)."""
    from .backends import build_encoder

    dev = resolve_device(device)  # fail on bad options before building a model
    resolve_precision(precision, dev)
    all_items = source.items(tower)
    items = select_items(all_items, n, seed)
    fingerprint = source.fingerprint(tower)
    if len(items) != len(all_items):
        fingerprint = f"{fingerprint}:subset:{n}:{seed}"
    encoder = build_encoder(entry, tower)
    return extract(
        encoder,
        items,
        device=dev,
        precision=precision,
        batch_size=batch_size,
        workers=workers,
        cache=cache,
        data_fingerprint=fingerprint,
        progress=progress,
        console=console,
        strict=strict,
    )
