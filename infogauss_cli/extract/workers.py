"""Who decodes CPU images: DataLoader worker processes, as many as the measured rates call for,
or threads of this process between two forward passes (:class:`ThreadedBatches`)."""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

MIN_DECODE_SHARE = 0.05  # decoding under 5% of the forward pass: no worker process for it
WORKER_HEADROOM = 1.5  # workers at nice +5 get part of a core while the forward pass runs
MIN_WORKER_CPUS = 3  # fewer cores: no worker processes, whatever the rates


def workers_for_rates(decode_s: float, forward_s: float, cpus: int) -> int:
    """CPU image workers from measured rates: ``decode_s`` seconds per item to load and prepare
    in one process, ``forward_s`` seconds per item of the forward pass (which uses every core).
    None when decoding costs under ``MIN_DECODE_SHARE`` of the forward pass (serial decoding
    then costs under 5%, and a worker process would take cores from the forward pass); else
    enough to keep pace (``decode_s / forward_s`` processes, with ``WORKER_HEADROOM``), at
    least 1 and at most half the cores. Under 3 cores, none: the two-thread forward pass uses
    both cores, so a worker cannot overlap it; the batches are then loaded on threads between
    forward passes (:class:`ThreadedBatches`; docs/performance.md)."""
    if cpus < MIN_WORKER_CPUS or forward_s <= 0 or decode_s <= 0:
        return 0
    need = decode_s / forward_s
    if need < MIN_DECODE_SHARE:
        return 0
    return max(1, min(cpus // 2, math.ceil(need * WORKER_HEADROOM)))


class CalibratedLoader:
    """CPU images with no ``--workers``: the first batch is loaded in this process, timed, and
    the time until the next batch is asked for (the forward pass) too; the worker count for the
    other batches then comes from :func:`workers_for_rates`. Under ``MIN_WORKER_CPUS`` cores
    the rule's answer is none whatever the rates, so nothing is measured: one loader takes every
    batch. ``workers`` is the count chosen (None before the first batch is done)."""

    def __init__(
        self,
        make: Callable[[Iterable[Any], int], Any],
        batches: Iterable[Any],
        cpus: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.make, self.batches, self.clock = make, batches, clock
        self.cpus = cpus or os.cpu_count() or 1
        self.workers: int | None = None
        self.rates: tuple[float, float] | None = None

    def __iter__(self) -> Any:
        if self.cpus < MIN_WORKER_CPUS:
            self.workers = 0
            yield from self.make(self.batches, 0)
            return
        batches = iter(self.batches)  # a list, or a stream's batches as they are read
        t0 = self.clock()
        first = next(batches, None)
        if first is None:
            return
        loader = self.make([first], 0)
        out = next(iter(loader))
        t1 = self.clock()
        yield out
        n = max(1, len(first))
        load_s = getattr(loader, "load_s", None)  # threads: their summed time, one process's
        self.rates = ((t1 - t0 if load_s is None else load_s) / n, (self.clock() - t1) / n)
        second = next(batches, None)
        if second is None:
            self.workers = 0
            return
        self.workers = workers_for_rates(*self.rates, self.cpus)
        if isinstance(self.batches, Sized):
            self.workers = min(self.workers, len(self.batches) - 1)
        yield from self.make(itertools.chain([second], batches), self.workers)


def loading_threads(device: str, tower: str) -> int:
    """Threads that load a CPU image batch in this process when there are no worker processes:
    as many as torch's (the cores the forward pass uses; at most 8). The JPEG decoders
    (simplejpeg's, PIL's) and the resize kernels (torch's, PIL's) release the GIL, so a batch
    is decoded on every core in the pause between two forward passes instead of on one (2
    cores: 1.7-2.2x faster loading; docs/performance.md). One for text (tokenising happens in
    the collate) and on CUDA (worker processes load there)."""
    if tower != "image" or device.startswith("cuda"):
        return 1
    import torch

    return max(1, min(8, torch.get_num_threads()))


LOAD_GROUP_ITEMS = 128  # items the loading threads load in one pause between forward passes
LOAD_GROUP_BYTES = 64 * 2**20  # ... and at most about this much of prepared inputs


def load_groups(
    batches: Iterable[list[int]], items: Callable[[], int]
) -> Iterator[list[list[int]]]:
    """``batches`` in consecutive groups of whole batches holding at least ``items()`` items
    (asked before each group; the last group may hold fewer); a stream's batches are read one
    group ahead, no more."""
    group: list[list[int]] = []
    held = 0
    for batch in batches:
        group.append(batch)
        held += len(batch)
        if held >= items():
            yield group
            group, held = [], 0
    if group:
        yield group


def nbytes(sample: Any) -> int:
    """The bytes of the arrays in a prepared input (a tensor, an array, or a dict, list or tuple
    of them); 0 for anything else."""
    if isinstance(sample, dict):
        return sum(nbytes(v) for v in sample.values())
    if isinstance(sample, (list, tuple)):
        return sum(nbytes(v) for v in sample)
    size = getattr(sample, "nbytes", 0)
    return size if isinstance(size, int) else 0


class ThreadedBatches:
    """``batches`` (lists of ``dataset`` indices) -> collated batches, in order, their items
    loaded by a pool of ``threads`` threads. Items are loaded ``group_items`` at a time (whole
    batches, :func:`load_groups`): the next group is not started until the batches of this one
    are taken, so loading never competes with the forward pass for the cores, and each pause
    between forward passes pays once for what it costs to start (the forward pass's threads
    still spinning, cold caches, the pool's last straggler). The first group is the first batch
    alone; the largest input of a group bounds the next to ``group_bytes`` (at least a batch).
    ``load_s``: the loading time summed over the items so far (what one thread would take)."""

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
        self.max_items, self.group_bytes = group_items, group_bytes
        self.group_items = 1  # the first batch alone
        self.load_s = 0.0

    def _load(self, index: int) -> tuple[Any, float]:
        t = time.perf_counter()
        sample = self.dataset[index]
        return sample, time.perf_counter() - t

    def __iter__(self) -> Iterator[Any]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads, thread_name_prefix="infogauss-load") as pool:
            for group in load_groups(self.batches, lambda: self.group_items):
                # an error or Ctrl-C while a group loads: map cancels the items not yet started
                loaded = list(pool.map(self._load, [i for batch in group for i in batch]))
                self.load_s += sum(dt for _, dt in loaded)
                largest = max((nbytes(sample) for sample, _ in loaded), default=0)
                cap = self.group_bytes // largest if largest else self.max_items
                self.group_items = min(self.max_items, cap)  # the next group's
                start = 0
                for batch in group:
                    samples = [sample for sample, _ in loaded[start : start + len(batch)]]
                    start += len(batch)
                    yield self.collate(samples)
