"""Items -> collated CPU batches: a DataLoader whose workers load (the source's item loader:
decode an image, read a text), prepare (``Encoder.prepare``) and collate (tokenise captions a
batch at a time). Unreadable items come back as markers, are dropped from the batch and named.
Pinned memory on CUDA."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..sources.base import Item, ItemLoadError


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


def make_loader(
    items: Sequence[Item],
    encoder: Any,
    load: Callable[[Item], Any],
    batches: list[list[int]],
    workers: int,
    device: str,
) -> Any:
    """A DataLoader over ``batches`` (lists of item indices) yielding :class:`Collate` tuples."""
    import torch

    cuda = device.startswith("cuda")
    extra: dict[str, Any] = {"prefetch_factor": 4 if cuda else 2} if workers > 0 else {}
    return torch.utils.data.DataLoader(
        ItemDataset(items, load, encoder.prepare),
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=Collate(encoder.collate),
        pin_memory=cuda,
        **extra,
    )
