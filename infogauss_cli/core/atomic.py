"""Atomic file writes: readers see the old file or the new one, never half of one.

One home for every writer of the package (cache chunks, embeddings, reports, plots, the fetch
marker): a temporary file in the same folder (permissions from the umask), flushed and fsynced,
renamed over the target, and the folder fsynced so the rename survives a crash. A link is
written through (its target is replaced, the link stays); a stream (a character device such as
``/dev/null``, a FIFO) is written directly, never replaced. An error names the path.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from pathlib import Path

# names of standard output: written to ``sys.stdout``, never opened
STDOUT_NAMES = ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


def is_stdout(target: object) -> bool:
    """``target`` names standard output (``-``, ``/dev/stdout``...)."""
    return target is not None and str(target) in STDOUT_NAMES


def is_stream(path: str | os.PathLike[str]) -> bool:
    """``path`` is (or links to) a character device or a FIFO: written directly."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` when it names nothing (a failed write or fsync)."""
    if exc.filename is None:
        exc.filename = str(path)
    return exc


def _write_stream(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:  # append: a device or FIFO is never truncated nor replaced
        f.write(data)
        f.flush()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, parents: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``parents``: create missing folders first)."""
    path = Path(path)
    try:
        if is_stream(path):
            _write_stream(path, data)
            return
        _replace_file(Path(os.path.realpath(path)), data, parents)
    except OSError as exc:
        raise _named(exc, path) from None


def _replace_file(path: Path, data: bytes, parents: bool) -> None:
    """Write ``data`` to a temporary file beside ``path`` (no link) and rename it over."""
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
