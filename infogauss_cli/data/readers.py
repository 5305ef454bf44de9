"""Read an embedding matrix a user already has (``infogauss check FILE``; formats: SUPPORTED).
Every failure is one BadInputError line."""

from __future__ import annotations

import json
import stat
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from infogauss_cli.core.errors import BadInputError, first_line

if TYPE_CHECKING:  # pragma: no cover
    import torch

SUPPORTED = ".npy, .npz, .safetensors, .pt, .pth, .csv, .tsv, .parquet"
_SPECIAL = {"FIFO (named pipe)": stat.S_ISFIFO, "character device": stat.S_ISCHR}
_SPECIAL |= {"block device": stat.S_ISBLK, "socket": stat.S_ISSOCK}


def read_matrix(path: str | Path, key: str | None = None) -> np.ndarray:
    """Load the array stored in ``path`` (``key`` selects one array of a multi-array file)."""
    path = Path(path)
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise BadInputError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; supported: {SUPPORTED}"
        )
    if not path.exists():
        raise BadInputError(f"file not found: {path}")
    if path.is_dir():
        raise BadInputError(f"{path} is a folder, not a file")
    if not path.is_file():
        mode = path.stat().st_mode
        kind = next((k for k, test in _SPECIAL.items() if test(mode)), "special file")
        raise BadInputError(
            f"{path} is not a regular file (it is a {kind}); save the matrix to a file first"
        )
    if path.stat().st_size == 0:
        raise BadInputError(f"{path} is empty (0 bytes)")
    if key is not None and suffix in (".npy", ".csv", ".tsv", ".parquet"):
        raise BadInputError(f"--key does not apply to {suffix} files (they hold one array)")
    try:
        return reader(path, key)
    except BadInputError:
        raise
    except Exception as exc:  # any reader failure means the file is not what it claims
        raise BadInputError(f"cannot read {path}: {first_line(exc)}") from None


def _choose(names: list[str], key: str | None, path: Path) -> str:
    if key is not None and key not in names:
        raise BadInputError(f"{path.name}: no key {key!r}; keys: {', '.join(names) or 'none'}")
    if key is not None or len(names) == 1:
        return key or names[0]
    if not names:
        raise BadInputError(f"{path.name} holds no arrays")
    raise BadInputError(
        f"{path.name} holds several arrays; choose one with --key: {', '.join(names)}"
    )


def _truncated(path: Path, need: int, have: int) -> BadInputError:
    return BadInputError(
        f"cannot read {path.name}: the file is truncated (its header declares {need:,} bytes "
        f"of data, it holds {max(have, 0):,}); copy or save it again"
    )


def _npy(path: Path, key: str | None) -> np.ndarray:
    """Memory-mapped (larger than memory is fine); a damaged header or truncation is refused."""
    from numpy.lib import format as npy_format

    with path.open("rb") as fh:
        try:
            version = npy_format.read_magic(fh)
            read = npy_format.read_array_header_1_0 if version == (1, 0) else None
            shape, _, dtype = (read or npy_format.read_array_header_2_0)(fh)
        except Exception:  # ValueError, SyntaxError, KeyError... for a bad header
            raise BadInputError(
                f"cannot read {path.name}: not a .npy file, or its header is damaged (no valid "
                "shape and dtype); save the array again with numpy.save"
            ) from None
        offset = fh.tell()
    if dtype.hasobject:
        raise BadInputError(
            f"cannot read {path.name}: it holds Python objects (dtype object), not "
            "numbers, and unpickling would run code: save a numeric array"
        )
    need, have = int(np.prod(shape, dtype=object)) * dtype.itemsize, path.stat().st_size - offset
    if have < need:
        raise _truncated(path, need, have)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _npz(path: Path, key: str | None) -> np.ndarray:
    with path.open("rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise BadInputError(f"cannot read {path.name}: not a .npz file (not a zip archive)")
    with np.load(path, allow_pickle=False) as npz:
        return npz[_choose(list(npz.files), key, path)]


# safetensors dtypes numpy reads as they are (little-endian); others (BF16...) go through torch
_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
_ST_DTYPES |= {"I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def _safetensors(path: Path, key: str | None) -> np.ndarray:
    """Memory-mapped; BF16 and other dtypes numpy lacks are loaded through safetensors + torch."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        raw = fh.read(8)
        length = struct.unpack("<Q", raw)[0] if len(raw) == 8 else size
        if length > min(100 << 20, size - 8):
            raise BadInputError(f"cannot read {path}: not a safetensors file (bad header size)")
        header = json.loads(fh.read(length))
    if not isinstance(header, dict):
        raise BadInputError(f"cannot read {path}: not a safetensors file (bad header)")
    name = _choose(sorted(k for k in header if k != "__metadata__"), key, path)
    info = header[name]
    try:  # validated: sizes >= 0 and 0 <= begin <= end (a negative offset reads the header)
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(b) for b in info["data_offsets"])
        dtype = _ST_DTYPES.get(str(info.get("dtype")))
    except (KeyError, TypeError, ValueError):  # not a mapping, or a missing key
        shape, begin, end, dtype = (-1,), -1, -1, None
    need = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize if dtype else end - begin
    if any(s < 0 for s in shape) or not 0 <= begin <= end or end - begin != need:
        raise BadInputError(
            f"cannot read {path.name}: not a valid safetensors file (tensor {name!r} has a "
            "bad shape or byte range in the header)"
        )
    if dtype is None:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            return _tensor_to_numpy(fh.get_tensor(name))
    start = 8 + length
    if start + end > size:
        raise _truncated(path, end, size - start)
    if end == begin:
        return np.empty(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=start + begin, shape=shape)


def _tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    import torch

    tensor = tensor.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()  # numpy has no bfloat16
    return tensor.numpy()


def _torch(path: Path, key: str | None) -> np.ndarray:
    import pickle

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise BadInputError(
            f"{path.name}: not a plain tensor file (loading is restricted to tensors for safety, "
            f"weights_only=True): {first_line(exc)}"
        ) from None
    if isinstance(obj, Mapping):  # weights_only: tensors, never numpy arrays
        arrays = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        obj = arrays[_choose(list(arrays), key, path)]
    elif key is not None:
        raise BadInputError(f"{path.name} holds a single tensor; drop --key")
    if not isinstance(obj, torch.Tensor):
        raise BadInputError(f"{path.name} holds a {type(obj).__name__}, expected a tensor")
    return _tensor_to_numpy(obj)


def _table(path: Path, key: str | None) -> np.ndarray:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    # utf-8-sig: a byte-order mark (Excel's CSV export) must not make row 1 look like a header
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        lines = [line for line in fh if line.strip()]
    if not lines:
        raise BadInputError(f"{path.name}: holds no rows of numbers (only blank lines)")
    try:
        list(map(float, lines[0].strip().split(delimiter)))
        skip = 0
    except ValueError:
        skip = 1  # a header row
    if len(lines) <= skip:
        raise BadInputError(f"{path.name}: holds a header row and no rows of numbers")
    try:
        return np.loadtxt(lines[skip:], delimiter=delimiter, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise BadInputError(f"{path.name}: not a numeric table: {first_line(exc)}") from None


def _parquet(path: Path, key: str | None) -> np.ndarray:
    import pyarrow as pa  # a dependency of datasets
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise BadInputError(
            f"cannot read {path.name}: not a valid Parquet file (truncated or damaged: "
            f"{first_line(exc)})"
        ) from None
    if table.num_columns == 0 or table.num_rows == 0:
        raise BadInputError(
            f"{path.name}: holds no data ({table.num_rows} rows, {table.num_columns} columns)"
        )
    first, lists = table.schema.field(0), (pa.types.is_list, pa.types.is_fixed_size_list)
    if table.num_columns == 1 and any(t(first.type) for t in lists):  # a vector per row
        values = table.column(0).to_pylist()
        lengths = sorted({len(v) if v is not None else 0 for v in values})
        if len(lengths) > 1:
            raise BadInputError(
                f"{path.name}: the vectors in column {first.name!r} have different lengths "
                f"({', '.join(map(str, lengths[:5]))}); every row needs the same dimension"
            )
        return np.asarray(values, dtype=np.float64)
    numeric = (pa.types.is_integer, pa.types.is_floating)
    bad = [f.name for f in table.schema if not any(t(f.type) for t in numeric)]
    if bad:
        raise BadInputError(f"{path.name}: non-numeric columns: {', '.join(bad[:5])}")
    return np.column_stack([table.column(i).to_numpy() for i in range(table.num_columns)])


_READERS: dict[str, Callable[[Path, str | None], np.ndarray]] = {".npy": _npy, ".npz": _npz}
_READERS |= {".safetensors": _safetensors, ".pt": _torch, ".pth": _torch, ".parquet": _parquet}
_READERS |= {".csv": _table, ".tsv": _table}
