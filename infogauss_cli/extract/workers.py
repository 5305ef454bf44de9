"""How many DataLoader worker processes decode CPU images: chosen from measured rates."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

MIN_DECODE_SHARE = 0.05  # decoding under 5% of the forward pass: no worker process for it
WORKER_HEADROOM = 1.5  # workers at nice +5 get part of a core while the forward pass runs


def workers_for_rates(decode_s: float, forward_s: float, cpus: int) -> int:
    """CPU image workers from measured rates: ``decode_s`` seconds per item to load and prepare
    in one process, ``forward_s`` seconds per item of the forward pass (which uses every core).
    None when decoding costs under ``MIN_DECODE_SHARE`` of the forward pass (serial decoding
    then costs under 5%, and a worker process would take cores from the forward pass); else
    enough to keep pace (``decode_s / forward_s`` processes, with ``WORKER_HEADROOM``), at
    least 1 and at most half the cores. Under 3 cores, none: the two-thread forward pass uses
    both cores, so a worker cannot overlap it (on an idle 2-core machine one worker was within
    noise of serial decoding, docs/performance.md), and one process less is simpler."""
    if cpus < 3 or forward_s <= 0 or decode_s <= 0:
        return 0
    need = decode_s / forward_s
    if need < MIN_DECODE_SHARE:
        return 0
    return max(1, min(cpus // 2, math.ceil(need * WORKER_HEADROOM)))


class CalibratedLoader:
    """CPU images with no ``--workers``: the first batch is loaded in this process, timed, and
    the time until the next batch is asked for (the forward pass) too; the worker count for the
    other batches then comes from :func:`workers_for_rates`. ``workers`` is the count chosen
    (None before the first batch is done)."""

    def __init__(
        self,
        make: Callable[[list[list[int]], int], Any],
        batches: list[list[int]],
        cpus: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.make, self.batches, self.clock = make, batches, clock
        self.cpus = cpus or os.cpu_count() or 1
        self.workers: int | None = None
        self.rates: tuple[float, float] | None = None

    def __iter__(self) -> Any:
        first, rest = self.batches[:1], self.batches[1:]
        t0 = self.clock()
        out = next(iter(self.make(first, 0)))
        t1 = self.clock()
        yield out
        n = max(1, len(first[0]))
        self.rates = ((t1 - t0) / n, (self.clock() - t1) / n)
        self.workers = min(workers_for_rates(*self.rates, self.cpus), len(rest))
        if rest:
            yield from self.make(rest, self.workers)
