"""Input checks, row norms, views and subsampling of an (n, d) embedding matrix; the memory
budget, and memory-mapped input read in row blocks whose pages are handed back once used."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import GIB, MIB, MIN_BUDGET

MIN_ROWS = 20  # the D'Agostino-Pearson test (scipy's kurtosistest) needs n >= 20
View = Literal["l2", "raw"]
VIEWS: tuple[str, ...] = ("l2", "raw")

_CHUNK_ELEMS = 1 << 18  # rows are processed in cache-sized chunks of about this many elements


class InvalidEmbeddingsError(BadInputError):
    """The embedding matrix cannot be diagnosed (wrong shape, dtype, non-finite values...)."""


def check_numeric(a: np.ndarray) -> np.ndarray:
    """Reject non-numeric and complex dtypes; bool/int -> float64 (floats are kept)."""
    kind = a.dtype.kind
    if kind == "c":
        raise InvalidEmbeddingsError(
            f"embeddings are complex ({a.dtype}); pass a real matrix (e.g. x.real or abs(x))"
        )
    if kind in "biu" or (kind == "f" and a.dtype.itemsize > 8):
        return a.astype(np.float64)
    if kind == "f":
        return a
    what = {"O": "Python objects", "U": "strings", "S": "bytes", "M": "dates", "m": "timedeltas"}
    raise InvalidEmbeddingsError(
        f"embeddings must be numeric, got dtype {a.dtype} ({what.get(kind, 'not numbers')}); "
        "convert with np.asarray(x, dtype=np.float32)"
    )


def check_finite(a: np.ndarray) -> None:
    """Raise naming how many NaN and Inf values a 2-D ``a`` holds and where the first ones sit."""
    rows = [i + np.flatnonzero(~np.isfinite(b).all(1)) for i, b in row_blocks(a)]
    bad_rows = np.concatenate(rows)
    if not bad_rows.size:
        return
    bad = a[bad_rows]
    n_nan, n_inf = int(np.count_nonzero(np.isnan(bad))), int(np.count_nonzero(np.isinf(bad)))
    where = np.argwhere(~np.isfinite(bad))
    where[:, 0] = bad_rows[where[:, 0]]
    first = ", ".join(str(tuple(int(i) for i in p)) for p in where[:5])
    first += ", ..." if len(where) > 5 else ""
    raise InvalidEmbeddingsError(
        f"embeddings contain non-finite values: {n_nan} NaN and {n_inf} Inf, first at "
        f"(row, col) {first}; drop or repair those rows"
    )


def validate_matrix(x: object) -> np.ndarray:
    """``x`` as a finite real (n >= 20, d >= 1) matrix (bool, int: float64), else a one-line
    :class:`InvalidEmbeddingsError`."""
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise InvalidEmbeddingsError(
            f"embeddings are not a rectangular numeric array (ragged rows?): {exc}"
        ) from None
    a = check_numeric(a)
    if a.ndim != 2:
        hint = {
            0: "a single number is not a matrix",
            1: "a single embedding? stack several rows, or reshape with x.reshape(-1, d)",
        }.get(a.ndim, "flatten the leading axes, e.g. x.reshape(-1, x.shape[-1])")
        raise InvalidEmbeddingsError(
            f"expected a 2-D (n, d) embedding matrix, got {a.ndim}-D shape {a.shape}; {hint}"
        )
    n, d = a.shape
    if d < 1:
        raise InvalidEmbeddingsError(f"embedding matrix has no columns (shape {a.shape})")
    if n < MIN_ROWS:
        raise InvalidEmbeddingsError(
            f"embedding matrix needs at least {MIN_ROWS} rows (the D'Agostino-Pearson test "
            f"needs n >= {MIN_ROWS}); got {n}"
        )
    check_finite(a)
    return a


def row_norms(x: np.ndarray) -> np.ndarray:
    """L2 norm of every row, accumulated in float64 (chunked: no full float64 copy)."""
    out = np.empty(x.shape[0])
    for i, block in row_blocks(x, x.shape[1], _CHUNK_ELEMS):
        c = block.astype(np.float64, copy=False)
        with np.errstate(over="ignore"):
            out[i : i + len(c)] = np.sqrt(np.einsum("ij,ij->i", c, c))
    # squares overflow near 1e154 and underflow near 1e-154: redo those rows scaled by 2^-e
    for i in np.flatnonzero(~np.isfinite(out) | (out < 1e-140)):
        c = x[i].astype(np.float64)
        e = int(np.frexp(np.max(np.abs(c)))[1])
        out[i] = np.ldexp(float(np.linalg.norm(np.ldexp(c, -e))), e)
    return out


def view_dtype(dtype: np.dtype) -> type:
    """The dtype of the l2 view: float32 for float32/float16 input, float64 otherwise."""
    return np.float32 if dtype in (np.float32, np.float16) else np.float64


def l2_normalise(x: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """Rows divided by their L2 norm in float64; float32 stays float32 (rounded once)."""
    norms = row_norms(x) if norms is None else norms
    check_nonzero(norms)
    out = np.empty(x.shape, dtype=view_dtype(x.dtype))
    for i, block in row_blocks(x, x.shape[1], _CHUNK_ELEMS):
        np.divide(block, norms[i : i + len(block), None], out=out[i : i + len(block)])
    return out


def check_nonzero(norms: np.ndarray) -> None:
    """Raise naming the all-zero rows (the l2 view cannot normalise them)."""
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        first = ", ".join(str(int(i)) for i in zero[:5]) + (", ..." if zero.size > 5 else "")
        raise InvalidEmbeddingsError(
            f"{zero.size} of {norms.shape[0]} rows are all zeros (rows {first}): the l2 view "
            "cannot normalise them; drop them or use the raw view"
        )


def apply_view(x: np.ndarray, view: View) -> np.ndarray:
    """The matrix the per-coordinate tests see: ``l2`` rows scaled to unit norm, ``raw`` as is."""
    return l2_normalise(x) if view == "l2" else x


def sample_indices(rows: int, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` of ``rows`` rows, seeded (all when n is None or >= ``rows``)."""
    if n is None or n >= rows:
        return np.arange(rows)
    if n < 1:
        raise BadInputError(f"sample size n must be positive, got {n}")
    return np.sort(np.random.default_rng(seed).choice(rows, int(n), replace=False, shuffle=False))


def subsample(x: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, sorted indices) of :func:`sample_indices`: ``x`` itself when all are drawn."""
    idx = sample_indices(x.shape[0], n, seed)
    return (x if idx.size == x.shape[0] else take_rows(x, idx)), idx


@dataclass(frozen=True, eq=False)
class NormStats:
    """Row norms ||z||: ``cv`` = std (ddof=1) / mean (NaN if undefined), and per row."""

    cv: float
    mean: float
    norms: np.ndarray = field(repr=False)


def stats_from_norms(norms: np.ndarray) -> NormStats:
    """:class:`NormStats` of the precomputed norms of n >= 2 rows (float64, then read-only)."""
    norms = np.asarray(norms, dtype=np.float64)
    norms.setflags(write=False)
    top = float(norms.max())
    e = int(np.frexp(top)[1]) if np.isfinite(top) and top > 0 else 0
    scaled = np.ldexp(norms, -e)  # exact: mean and std neither overflow nor underflow
    mean = float(np.ldexp(scaled.mean(), e))
    cv = float(scaled.std(ddof=1) / scaled.mean()) if mean > 0 else float("nan")
    return NormStats(cv, mean, norms)


ROW_BLOCK_BYTES = 4 * MIB  # rows per block when a pass reads a matrix row by row


def default_budget() -> int:
    """1/32 of the physical memory, between 256 MiB and 8 GiB (256 MiB when unknown)."""
    try:
        ram = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 256 * MIB
    return int(min(max(ram // 32, 256 * MIB), 8 * GIB))


def resolve_budget(budget: int | None) -> int:
    """``budget`` in bytes, or the default; at least :data:`MIN_BUDGET`."""
    return max(int(budget) if budget is not None else default_budget(), MIN_BUDGET)


def row_blocks(
    x: np.ndarray, row_bytes: int | None = None, block_bytes: int = ROW_BLOCK_BYTES
) -> Iterator[tuple[int, np.ndarray]]:
    """``(i, x[i : i + step])`` by blocks of ``block_bytes`` (a row: ``row_bytes``, default its
    size); a read-only memory map's pages are handed back after each block."""
    rows = MappedRows(x)
    row_bytes = x.shape[1] * x.dtype.itemsize if row_bytes is None else row_bytes
    step = max(1, block_bytes // max(row_bytes, 1))
    for i in range(0, x.shape[0], step):
        yield i, x[i : i + step]
        rows.release(i, i + step)


class MappedRows:
    """``release(r0, r1)`` drops the pages of rows ``[r0, r1)`` of a read-only memory map."""

    def __init__(self, a: np.ndarray) -> None:
        self._mm: mmap.mmap | None = None
        self._stride = int(a.strides[0]) if a.ndim else 0
        if not (a.ndim and a.strides[-1] == a.dtype.itemsize and self._stride > 0):
            return  # (column-major files are read as they are: their pages stay resident)
        obj: object = a  # find the read-only map through the ``base`` chain
        while obj is not None and not isinstance(obj, mmap.mmap):  # a bare map: mode unknown
            mm = getattr(obj, "_mmap", None)
            if isinstance(obj, np.memmap) and obj.mode == "r" and hasattr(mm, "madvise"):
                base = np.frombuffer(mm, dtype=np.uint8).__array_interface__["data"][0]
                self._offset = int(a.__array_interface__["data"][0] - base)
                self._mm = mm
                return
            obj = getattr(obj, "base", None)

    @property
    def mapped(self) -> bool:
        return self._mm is not None

    def release(self, r0: int, r1: int) -> None:
        if self._mm is None or r1 <= r0:
            return
        start = self._offset + r0 * self._stride
        start -= start % mmap.PAGESIZE
        stop = min(self._offset + r1 * self._stride, len(self._mm))
        if stop > start:
            try:
                self._mm.madvise(mmap.MADV_DONTNEED, start, stop - start)
            except (OSError, ValueError):  # pragma: no cover - best effort
                self._mm = None


def take_rows(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``x[idx]`` for sorted ``idx`` (on a memory map, in blocks with the pages released)."""
    rows = MappedRows(x)
    if not rows.mapped:
        return x[idx]
    out = np.empty((idx.size, *x.shape[1:]), dtype=x.dtype)
    step = max(1, ROW_BLOCK_BYTES // max(x[:1].nbytes, 1))  # x[:1]: one row
    for k in range(0, idx.size, step):
        part = idx[k : k + step]
        out[k : k + part.size] = x[part]
        rows.release(int(part[0]), int(part[-1]) + 1)
    return out


def read_columns(x: np.ndarray, j0: int, j1: int) -> np.ndarray:
    """``x[:, j0:j1]`` as a new float64 array, read in row blocks."""
    out = np.empty((x.shape[0], j1 - j0))
    for i, block in row_blocks(x):
        out[i : i + len(block)] = block[:, j0:j1]
    return out
