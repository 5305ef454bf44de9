"""Atomic file writes: a temporary file beside the target, fsynced and renamed over it, so readers
see the old file or the new one. A link is written through; a stream (``/dev/null``, a FIFO) is
written directly."""

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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, parents: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``parents``: create missing folders first)."""
    path = Path(path)
    try:
        if is_stream(path):
            with open(path, "ab") as f:  # append: a device or FIFO is never truncated nor replaced
                f.write(data)
            return
        real = Path(os.path.realpath(path))  # a link is written through
        if parents:
            real.parent.mkdir(parents=True, exist_ok=True)
        tmp = real.with_name(f".{real.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, real)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if os.name == "posix":  # the rename survives a crash
            fd = os.open(real.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        exc.filename = str(path) if exc.filename is None else exc.filename
        raise exc from None


def atomic_write_text(path: str | os.PathLike[str], text: str, *, parents: bool = True) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically, creating missing folders."""
    atomic_write_bytes(path, text.encode("utf-8"), parents=parents)
