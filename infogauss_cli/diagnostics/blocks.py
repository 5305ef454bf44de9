"""Bounded working memory: the memory budget, and memory-mapped input read in row blocks whose
pages are handed back to the kernel once used (a file larger than memory keeps a bounded RSS)."""

from __future__ import annotations

import mmap
import os

import numpy as np

from infogauss_cli.core.options import GIB, MIB, MIN_BUDGET

_DEFAULT_SHARE = 32  # the default budget is 1/32 of the physical memory...
_DEFAULT_RANGE = (256 * MIB, 8 * GIB)  # ...within these bounds
ROW_BLOCK_BYTES = 4 * MIB  # rows per block when a pass reads a matrix row by row


def physical_memory() -> int | None:
    """Bytes of RAM of this machine (None if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def default_budget() -> int:
    """1/32 of the physical memory, between 256 MiB and 8 GiB (256 MiB when unknown)."""
    ram = physical_memory()
    lo, hi = _DEFAULT_RANGE
    return lo if ram is None else int(min(max(ram // _DEFAULT_SHARE, lo), hi))


def resolve_budget(budget: int | None) -> int:
    """``budget`` in bytes, or the default; at least :data:`MIN_BUDGET`."""
    return max(int(budget) if budget is not None else default_budget(), MIN_BUDGET)


def row_step(row_bytes: int, block_bytes: int = ROW_BLOCK_BYTES) -> int:
    """Rows per block of about ``block_bytes``."""
    return max(1, block_bytes // max(row_bytes, 1))


class MappedRows:
    """``release(r0, r1)`` drops the pages of rows ``[r0, r1)`` of an array that views a
    read-only memory map (re-read from the page cache if touched again); else a no-op."""

    def __init__(self, a: np.ndarray) -> None:
        self._mm: mmap.mmap | None = None
        self._offset = 0
        self._stride = int(a.strides[0]) if a.ndim else 0
        mm = _read_only_mmap(a)
        row_contiguous = a.ndim >= 1 and (a.ndim == 1 or a.strides[-1] == a.dtype.itemsize)
        if mm is None or self._stride <= 0 or not row_contiguous or not hasattr(mm, "madvise"):
            return  # (column-major files are read as they are: their pages stay resident)
        base = np.frombuffer(mm, dtype=np.uint8)
        self._offset = int(a.__array_interface__["data"][0] - base.__array_interface__["data"][0])
        self._size = len(mm)
        self._mm = mm

    @property
    def mapped(self) -> bool:
        return self._mm is not None

    def release(self, r0: int, r1: int) -> None:
        if self._mm is None or r1 <= r0:
            return
        start = self._offset + r0 * self._stride
        stop = min(self._offset + r1 * self._stride, self._size)
        page = mmap.PAGESIZE
        start -= start % page
        if stop > start:
            try:
                self._mm.madvise(mmap.MADV_DONTNEED, start, stop - start)
            except (OSError, ValueError):  # pragma: no cover - best effort
                self._mm = None


def _read_only_mmap(a: np.ndarray) -> mmap.mmap | None:
    """The read-only ``mmap`` behind ``a`` (through its ``base`` chain), if any."""
    obj = a
    for _ in range(32):
        if isinstance(obj, np.memmap) and getattr(obj, "mode", None) == "r":
            mm = getattr(obj, "_mmap", None)
            if isinstance(mm, mmap.mmap):
                return mm
        base = getattr(obj, "base", None)
        if base is None:
            return None
        if isinstance(base, mmap.mmap):
            return None  # mapped, but we do not know its mode: leave it alone
        obj = base
    return None


def is_mapped(a: np.ndarray) -> bool:
    """Whether ``a`` views a read-only memory-mapped file."""
    return _read_only_mmap(a) is not None


def take_rows(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``x[idx]`` for sorted ``idx`` (on a memory map, in blocks with the pages released)."""
    rows = MappedRows(x)
    if not rows.mapped:
        return x[idx]
    out = np.empty((idx.size, *x.shape[1:]), dtype=x.dtype)
    step = row_step(int(np.prod(x.shape[1:], dtype=np.int64)) * x.dtype.itemsize)
    for k in range(0, idx.size, step):
        part = idx[k : k + step]
        out[k : k + part.size] = x[part]
        rows.release(int(part[0]), int(part[-1]) + 1)
    return out


def read_columns(x: np.ndarray, j0: int, j1: int) -> np.ndarray:
    """``x[:, j0:j1]`` as a new float64 array, read in row blocks."""
    rows = MappedRows(x)
    out = np.empty((x.shape[0], j1 - j0))
    step = row_step(int(x.shape[1]) * x.dtype.itemsize)
    for i in range(0, x.shape[0], step):
        out[i : i + step] = x[i : i + step, j0:j1]
        rows.release(i, i + step)
    return out
