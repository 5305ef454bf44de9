"""Embeddings on disk: the resumable cache (folders of verified ``chunk-NNNNNN.npy`` with a
``.json`` sidecar, each written atomically) and the ``.npy``/``.safetensors`` output files."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Compute
from infogauss_cli.core.preflight import default_cache_dir, preflight_cache

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from infogauss_cli.extract.plan import Plan

CACHE_FORMAT = 2  # bump when the chunk layout or the extraction math changes
STALE_TMP_S = 3600  # a temporary file this old is a dead writer's (a chunk takes seconds)
EMBEDDINGS_SCHEMA = "infogauss.embeddings/v1"
OUTPUT_SUFFIXES = (".npy", ".safetensors")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ids_digest(ids: Iterable[str]) -> str:
    return sha256_hex(b"".join(i.encode() + b"\0" for i in ids))


def _npy_bytes(arr: np.ndarray) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@dataclass(frozen=True)
class Chunk:
    """Items ``[start, stop)``: rows of the kept ones, ``skipped`` (offset, id, reason)."""

    index: int
    start: int
    stop: int
    embeddings: np.ndarray
    skipped: tuple[tuple[int, str, str], ...] = ()
    batch_size: int = 0


@dataclass
class CacheEntry:
    path: Path
    key: str
    parts: dict[str, Any] = field(repr=False)

    @property
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    def chunk_paths(self, index: int) -> tuple[Path, Path]:
        stem = f"chunk-{index:06d}"
        return self.path / f"{stem}.npy", self.path / f"{stem}.json"

    def open(self) -> CacheEntry:
        """Create the folder and meta.json; remove temporary files of writers long gone."""
        self.path.mkdir(parents=True, exist_ok=True)
        meta = {"format": CACHE_FORMAT, "key": self.key, "parts": self.parts}
        atomic_write_bytes(self.meta_path, json.dumps(meta, indent=1, default=str).encode())
        now = time.time()
        for tmp in [*self.path.glob(".*.tmp"), *self.path.glob(".matrix.*.npy")]:
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > STALE_TMP_S:
                    tmp.unlink()
        return self

    def touch(self) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.meta_path)

    @classmethod
    def from_folder(cls, path: Path) -> CacheEntry | None:
        try:
            meta = json.loads((path / "meta.json").read_text())
            form, key, parts = meta.get("format"), meta["key"], meta["parts"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        ours = form == CACHE_FORMAT and isinstance(key, str) and isinstance(parts, dict)
        return cls(path, key, parts) if ours else None

    def check_chunk(
        self, index: int, expect: Mapping[str, object]
    ) -> tuple[dict, np.ndarray] | str:
        """A chunk's sidecar and float32 rows if they verify (sidecar fields ``expect``, sha256,
        shape), else what is wrong."""
        import numpy as np

        npy, side = self.chunk_paths(index)
        try:
            info = json.loads(side.read_text())
            if not isinstance(info, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as exc:
            return f"unreadable sidecar ({exc})"
        for name, value in expect.items():
            if info.get(name) != value:
                return f"sidecar {name} is {info.get(name)!r}, expected {value!r}"
        try:
            data = npy.read_bytes()
        except OSError:
            return "data file missing"
        if sha256_hex(data) != info.get("sha256"):
            return f"sha256 mismatch ({len(data)} bytes on disk)"
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError) as exc:
            return f"unreadable data ({exc})"
        shape = (info.get("rows"), info.get("dim"))
        if arr.dtype != np.float32 or arr.shape != shape:
            return f"data is {arr.dtype}{arr.shape}, expected float32{shape}"
        return info, arr

    def read_chunk(
        self, index: int, start: int, stop: int, ids: Sequence[str], dim: int
    ) -> tuple[Chunk | None, str | None]:
        """``(chunk, None)`` if it verifies, ``(None, None)`` if never written (or killed
        before its sidecar), ``(None, problem)`` if corrupt."""
        if not self.chunk_paths(index)[1].exists():
            return None, None
        expect = {"key": self.key, "index": index, "start": start, "stop": stop, "dim": dim}
        got = self.check_chunk(index, {**expect, "ids_sha256": ids_digest(ids)})
        if isinstance(got, str):
            return None, got
        info, arr = got
        try:
            skipped = tuple((int(o), str(i), str(r)) for o, i, r in info.get("skipped", []))
        except (TypeError, ValueError):
            return None, "malformed skipped list"
        if arr.shape[0] != (stop - start) - len(skipped):
            return None, f"{arr.shape[0]} rows for {stop - start} items, {len(skipped)} skipped"
        return Chunk(index, start, stop, arr, skipped, int(info.get("batch_size", 0))), None

    def read_chunks(
        self, plan: Plan, dim: int, say: Callable[[str], None], chunks: Iterable[int]
    ) -> dict[int, Chunk]:
        """The verified ``chunks``; a corrupt one is named (and recomputed)."""
        done: dict[int, Chunk] = {}
        for c in sorted(chunks):
            start, stop = plan.bounds(c)
            chunk, problem = self.read_chunk(c, start, stop, plan.ids[start:stop], dim)
            if chunk is not None:
                done[c] = chunk
            elif problem is not None:
                say(f"cache chunk {c} is corrupt ({problem}); recomputing it")
        return done

    def write_chunk(self, chunk: Chunk, ids: Sequence[str]) -> None:
        import numpy as np

        arr = np.ascontiguousarray(chunk.embeddings, dtype=np.float32)
        data = _npy_bytes(arr)
        npy, side = self.chunk_paths(chunk.index)
        atomic_write_bytes(npy, data)
        info = {
            "key": self.key,
            "index": chunk.index,
            "start": chunk.start,
            "stop": chunk.stop,
            "rows": int(arr.shape[0]),
            "dim": int(arr.shape[1]),
            "dtype": "float32",
            "sha256": sha256_hex(data),
            "ids_sha256": ids_digest(ids),
            "batch_size": chunk.batch_size,
            "skipped": [list(s) for s in chunk.skipped],
        }
        atomic_write_bytes(side, json.dumps(info).encode())


class EmbeddingCache:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def entry(self, parts: Mapping[str, object], *, label: str = "") -> CacheEntry:
        parts = {"format": CACHE_FORMAT, **parts}
        key = sha256_hex(
            json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
        )
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")[:48] or "model"
        name = f"{slug}-{key[:24]}" if label else key[:24]
        return CacheEntry(self.root / name, key, dict(parts))


def ids_sidecar(path: str | Path) -> Path:
    return Path(path).with_suffix(".ids.json")


def check_output_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise BadInputError(
            f"--out {path}: unknown extension {path.suffix or '(none)'!r}; "
            f"use {' or '.join(OUTPUT_SUFFIXES)}"
        )
    return path


def save_embeddings(
    path: str | Path,
    embeddings: np.ndarray,
    ids: Sequence[str],
    meta: Mapping[str, object] | None = None,
) -> list[Path]:
    """Write (n, dim) float32 ``embeddings`` with their ``ids`` and ``meta``; the files written
    (``.npy``: ids and meta in ``FILE.ids.json``; ``.safetensors``: in its header)."""
    import numpy as np

    path = check_output_path(path)
    arr = np.ascontiguousarray(embeddings, dtype=np.float32)
    ids = [str(i) for i in ids]
    meta = {"schema": EMBEDDINGS_SCHEMA, **dict(meta or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npy":
        atomic_write_bytes(path, _npy_bytes(arr))
        side = ids_sidecar(path)
        atomic_write_bytes(side, json.dumps({"ids": ids, "meta": meta}, default=str).encode())
        return [path, side]
    from safetensors.numpy import save

    header = {"ids": json.dumps(ids), "meta": json.dumps(meta, default=str)}
    atomic_write_bytes(path, save({"embeddings": arr}, metadata=header))
    return [path]


def check_cache_writable(compute: Compute) -> None:
    """The cache folder (when used) can be written, else an error naming the fix."""
    if compute.use_cache:
        preflight_cache(compute.cache_dir)
