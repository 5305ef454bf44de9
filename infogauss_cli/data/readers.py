"""Read an embedding matrix a user already has (``infogauss check FILE``).

Formats: .npy, .npz, .safetensors, .pt/.pth (tensor or dict of tensors, ``weights_only``),
.csv/.tsv (numeric, optional header row), .parquet (numeric columns or one list column;
needs pyarrow). Every failure is a :class:`BadInputError` with one clear line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from infogauss_cli.core.errors import BadInputError, first_line

SUPPORTED = ".npy, .npz, .safetensors, .pt, .pth, .csv, .tsv, .parquet"


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
        raise BadInputError(
            f"{path} is not a regular file (it is a {_kind(path)}); save the matrix to a file first"
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


def _kind(path: Path) -> str:
    import stat

    mode = path.stat().st_mode
    for test, name in (
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def _choose(names: list[str], key: str | None, path: Path) -> str:
    """The array to read: ``key`` if given, else the only one."""
    if key is not None:
        if key not in names:
            raise BadInputError(f"{path.name}: no key {key!r}; keys: {', '.join(names) or 'none'}")
        return key
    if len(names) == 1:
        return names[0]
    if not names:
        raise BadInputError(f"{path.name} holds no arrays")
    raise BadInputError(
        f"{path.name} holds several arrays; choose one with --key: {', '.join(names)}"
    )


def _npy(path: Path, key: str | None) -> np.ndarray:
    with path.open("rb") as fh:
        magic = fh.read(6)
    if magic != b"\x93NUMPY":
        raise BadInputError(
            f"cannot read {path.name}: not a .npy file (no NumPy header at its start); "
            "save it with numpy.save"
        )
    _check_npy_size(path, _npy_header(path))
    try:
        # memory-mapped: pages are read when the diagnostics reach them, and handed back
        # after (diagnostics/blocks.py), so a matrix larger than memory can be checked
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickled" in str(exc) or "object" in str(exc):
            raise BadInputError(
                f"cannot read {path.name}: it holds Python objects (dtype object), not "
                "numbers, and unpickling would run code: save a numeric array"
            ) from None
        raise


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset from a .npy header; a damaged header is a clear error."""
    from numpy.lib import format as npy_format

    try:
        with path.open("rb") as fh:
            version = npy_format.read_magic(fh)
            read = (
                npy_format.read_array_header_1_0
                if version == (1, 0)
                else npy_format.read_array_header_2_0
            )
            shape, _, dtype = read(fh)
            return tuple(shape), dtype, fh.tell()
    except Exception:  # numpy raises ValueError, SyntaxError, KeyError... for a bad header
        raise BadInputError(
            f"cannot read {path.name}: its .npy header is damaged (no valid shape and dtype); "
            "save the array again with numpy.save"
        ) from None


def _check_npy_size(path: Path, header: tuple[tuple[int, ...], np.dtype, int]) -> None:
    """Refuse a .npy file holding fewer data bytes than its header declares (truncated)."""
    shape, dtype, offset = header
    if dtype.hasobject:
        return  # refused with its own message by np.load
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = path.stat().st_size - offset
    if have < need:
        raise BadInputError(_truncated(path, need, have))


def _truncated(path: Path, need: int, have: int) -> str:
    return (
        f"cannot read {path.name}: the file is truncated (its header declares {need:,} bytes "
        f"of data, it holds {max(have, 0):,}); copy or save it again"
    )


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
    """Lazily: the tensor is memory-mapped from the file (its header gives dtype, shape and
    byte range); BF16 and other dtypes numpy lacks are loaded through safetensors + torch."""
    header, data_start = _safetensors_header(path)
    name = _choose(sorted(k for k in header if k != "__metadata__"), key, path)
    info = header[name]
    shape, begin, end = _tensor_extent(path, name, info)
    dtype = _ST_DTYPES.get(str(info.get("dtype")))
    if dtype is None:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            return _tensor_to_numpy(fh.get_tensor(name))
    if end - begin != int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize:
        raise BadInputError(f"{path.name}: tensor {name!r} has a wrong byte range for its shape")
    if data_start + end > path.stat().st_size:
        raise BadInputError(_truncated(path, end, path.stat().st_size - data_start))
    if end == begin:
        return np.empty(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=data_start + begin, shape=shape)


def _tensor_extent(path: Path, name: str, info: Any) -> tuple[tuple[int, ...], int, int]:
    """Shape and data byte range of one safetensors header entry, validated: non-negative
    sizes, ``0 <= begin <= end`` (a negative offset would read the header as data)."""
    try:
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(b) for b in info["data_offsets"])
    except (KeyError, TypeError, ValueError):  # a missing key, or not a mapping / list
        shape, begin, end = (-1,), -1, -1
    if any(s < 0 for s in shape) or not 0 <= begin <= end:
        raise BadInputError(
            f"cannot read {path.name}: not a valid safetensors file (tensor {name!r} has a "
            "bad shape or byte range in the header)"
        )
    return shape, begin, end


def _safetensors_header(path: Path) -> tuple[dict[str, Any], int]:
    """The JSON header of a .safetensors file and where its data start."""
    import json
    import struct

    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise BadInputError(f"cannot read {path}: not a safetensors file (too short)")
        (size,) = struct.unpack("<Q", raw)
        if size > min(100 << 20, path.stat().st_size - 8):
            raise BadInputError(f"cannot read {path}: not a safetensors file (bad header size)")
        header = json.loads(fh.read(size))
    if not isinstance(header, dict):
        raise BadInputError(f"cannot read {path}: not a safetensors file (bad header)")
    return header, 8 + size


def _tensor_to_numpy(tensor: Any) -> np.ndarray:
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
    if isinstance(obj, Mapping):
        arrays = {str(k): v for k, v in obj.items() if isinstance(v, (torch.Tensor, np.ndarray))}
        obj = arrays[_choose(list(arrays), key, path)]
    elif key is not None:
        raise BadInputError(f"{path.name} holds a single tensor; drop --key")
    if isinstance(obj, torch.Tensor):
        return _tensor_to_numpy(obj)
    if isinstance(obj, np.ndarray):
        return obj
    raise BadInputError(f"{path.name} holds a {type(obj).__name__}, expected a tensor")


def _delimited(delimiter: str) -> Callable[[Path, str | None], np.ndarray]:
    def read(path: Path, key: str | None) -> np.ndarray:
        # utf-8-sig: a byte-order mark (Excel's CSV export) must not make row 1 look like a header
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            lines = [line for line in fh if line.strip()]
        if not lines:
            raise BadInputError(f"{path.name}: holds no rows of numbers (only blank lines)")
        skip = 0 if _numeric_line(lines[0], delimiter) else 1  # a header row
        if len(lines) <= skip:
            raise BadInputError(f"{path.name}: holds a header row and no rows of numbers")
        try:
            return np.loadtxt(lines[skip:], delimiter=delimiter, ndmin=2, dtype=np.float64)
        except ValueError as exc:
            raise BadInputError(f"{path.name}: not a numeric table: {first_line(exc)}") from None

    return read


def _numeric_line(line: str, delimiter: str) -> bool:
    try:
        [float(x) for x in line.strip().split(delimiter)]
    except ValueError:
        return False
    return True


def _parquet(path: Path, key: str | None) -> np.ndarray:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BadInputError("reading .parquet needs pyarrow: pip install pyarrow") from None
    import pyarrow as pa

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
    if table.num_columns == 1 and (
        pa.types.is_list(table.schema.field(0).type)
        or pa.types.is_fixed_size_list(table.schema.field(0).type)
    ):  # one embedding vector per row
        values = table.column(0).to_pylist()
        lengths = sorted({len(v) if v is not None else 0 for v in values})
        if len(lengths) > 1:
            raise BadInputError(
                f"{path.name}: the vectors in column {table.schema.field(0).name!r} have "
                f"different lengths ({', '.join(map(str, lengths[:5]))}); every row needs the "
                "same dimension"
            )
        return np.asarray(values, dtype=np.float64)
    bad = [
        f.name
        for f in table.schema
        if not (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]
    if bad:
        raise BadInputError(f"{path.name}: non-numeric columns: {', '.join(bad[:5])}")
    return np.column_stack([table.column(i).to_numpy() for i in range(table.num_columns)])


_READERS: dict[str, Callable[[Path, str | None], np.ndarray]] = {
    ".npy": _npy,
    ".npz": _npz,
    ".safetensors": _safetensors,
    ".pt": _torch,
    ".pth": _torch,
    ".csv": _delimited(","),
    ".tsv": _delimited("\t"),
    ".parquet": _parquet,
}
