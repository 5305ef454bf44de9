"""CPU forward passes without page faults: glibc's malloc told to keep freed memory.

By default glibc serves large allocations (a batch's activations: megabytes each) with
``mmap`` and gives them back with ``munmap`` when they are freed, so every forward pass faults
its activations in again, page by page: efficientnet_lite0 at batch 16 on a 2-core machine
took 55,000 page faults and a quarter of its CPU time in the kernel per batch.
:func:`keep_freed_memory` sets ``M_MMAP_MAX = 0`` (every allocation from the heap) and
``M_TRIM_THRESHOLD`` to 1 GiB (freed memory is kept for the next batch instead of returned to
the kernel): the same forward pass ran 1.4-1.8x faster, with the same peak memory
(docs/performance.md). The memory stays with the process for its later allocations. PyTorch's
CPU tuning guide gets the same from jemalloc or tcmalloc with ``LD_PRELOAD``; this needs no
preload. Applied once per process by CPU runs of the engine; ``INFOGAUSS_MALLOC_TUNING=0``
turns it off. Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import functools
import os

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve every allocation from the heap and to keep up to 1 GiB of
    freed memory (see the module docstring); True when it took effect. Once per process."""
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
