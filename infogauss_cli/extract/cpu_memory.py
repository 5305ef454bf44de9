"""CPU forward passes without page faults: glibc's malloc told to keep freed memory.

glibc serves large allocations (a batch's activations) with ``mmap`` and returns them when
freed, so every forward pass faults its activations in again; ``M_MMAP_MAX = 0`` and a 1 GiB
``M_TRIM_THRESHOLD`` keep them for the next batch (docs/performance.md). Once per process for
CPU runs; ``INFOGAUSS_MALLOC_TUNING=0`` turns it off; elsewhere than glibc it does nothing."""

from __future__ import annotations

import functools
import os

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Apply the tuning (once per process); True when it took effect."""
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
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
