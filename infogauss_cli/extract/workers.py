"""CPU image batches loaded on threads of this process between two forward passes: the JPEG
decoders and the resize kernels release the GIL, so a batch is decoded on every core (2 cores:
about 2x one thread), never while the forward pass needs them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

LOAD_GROUP_ITEMS = 128  # items the loading threads load in one pause between forward passes
LOAD_GROUP_BYTES = 64 * 2**20  # ... and at most about this much of prepared inputs


def loading_threads(device: str, tower: str) -> int:
    """Loading threads for CPU images: torch's thread count (at most 8); else 1."""
    if tower != "image" or device.startswith("cuda"):
        return 1
    import torch

    return max(1, min(8, torch.get_num_threads()))


def load_groups(
    batches: Iterable[list[int]], items: Callable[[], int]
) -> Iterator[list[list[int]]]:
    """``batches`` in groups of whole batches holding at least ``items()`` items (asked before
    each group; the last may hold fewer); a stream's batches are read one group ahead."""
    group: list[list[int]] = []
    for batch in batches:
        group.append(batch)
        if sum(map(len, group)) >= items():
            yield group
            group = []
    if group:
        yield group


def nbytes(sample: Any) -> int:
    """The bytes of the arrays in a prepared input (nested in dicts, lists, tuples); else 0."""
    if isinstance(sample, dict):
        return sum(nbytes(v) for v in sample.values())
    if isinstance(sample, (list, tuple)):
        return sum(nbytes(v) for v in sample)
    size = getattr(sample, "nbytes", 0)
    return size if isinstance(size, int) else 0


class ThreadedBatches:
    """``batches`` (lists of ``dataset`` indices) -> collated batches, in order, loaded by
    ``threads`` threads a group of whole batches at a time (:func:`load_groups`): the first
    batch alone, then up to ``group_items`` items or ``group_bytes`` of prepared inputs. The next
    group starts when this one's batches are taken, so each pause between forward passes pays
    once for starting (OpenMP threads still spinning, cold caches, the last straggler)."""

    def __init__(
        self,
        dataset: Any,
        collate: Callable[[list[Any]], Any],
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
