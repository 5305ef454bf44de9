"""Atomic file writes: readers see the old file or the new one, never half of one.

One home for every writer of the package (cache chunks, embeddings, reports, plots, the fetch
marker): a temporary file in the same folder (permissions from the umask), flushed and fsynced,
renamed over the target, and the folder fsynced so the rename survives a crash.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, parents: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``parents``: create missing folders first)."""
    path = Path(path)
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, parents: bool = True) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically, creating missing folders."""
    atomic_write_bytes(path, text.encode("utf-8"), parents=parents)
