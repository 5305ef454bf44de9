"""Simulated references on disk: one ``.npz`` per key in ``$INFOGAUSS_REFERENCES``, else
``$INFOGAUSS_CACHE/references``, else the user cache dir, written atomically with a format and a
sha256 of its key and arrays. An unreadable, stale or mismatched entry is never used: one
:class:`ReferenceCacheWarning`, the entry removed where allowed, and the caller simulates again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np

from infogauss_cli.diagnostics.refsim import get_store, set_store

_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
STORE_FORMAT = 2  # 1: no format nor checksum in the entry
_META = ("__format__", "__sha256__")
_WARNED: set[str] = set()


class ReferenceCacheWarning(UserWarning):
    """A cached reference was not used (unreadable, stale or not what was written)."""


def checksum(key: str, arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the key and every array's name, dtype, shape and bytes (sorted by name)."""
    h = hashlib.sha256(key.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _problem(key: str, z: dict[str, np.ndarray]) -> str | None:
    """Why a loaded entry must not be used, or None."""
    fmt = z.get("__format__")
    if fmt is None or fmt.shape != () or int(fmt) != STORE_FORMAT:
        return f"of another format ({'none' if fmt is None else fmt}, expected {STORE_FORMAT})"
    arrays = {k: v for k, v in z.items() if k not in _META}
    if str(z.get("__sha256__", "")) != checksum(key, arrays):
        return "not what was written (checksum mismatch)"
    return None


def reject(path: Path, why: str) -> None:
    """Warn once per entry that ``path`` is not used, and remove it where allowed."""
    if str(path) not in _WARNED:
        _WARNED.add(str(path))
        warnings.warn(
            f"cached reference {path} is {why}: not used, recomputed",
            ReferenceCacheWarning,
            stacklevel=3,
        )
    with contextlib.suppress(OSError):  # read-only folder: left there, never used
        path.unlink(missing_ok=True)


def default_reference_dir() -> Path:
    """Where references are kept (see the module docstring)."""
    env = os.environ.get("INFOGAUSS_REFERENCES")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("INFOGAUSS_CACHE")
    if cache:
        return Path(cache).expanduser() / "references"
    import platformdirs

    return Path(platformdirs.user_cache_dir("infogauss")) / "references"


class DiskReferenceStore:
    """``get``/``put`` of named arrays under one folder (never raises on a bad entry or a
    folder that cannot be written)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_reference_dir()

    def _file(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"bad reference key {key!r}")
        return self.path / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        f = self._file(key)
        if not f.is_file():
            return None
        try:
            with open(f, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                got = {k: np.array(z[k]) for k in z.files}
        except Exception:  # corrupt or truncated: drop it, simulate again
            reject(f, "unreadable (truncated or corrupt)")
            return None
        why = _problem(key, got)
        if why is not None:
            reject(f, why)
            return None
        return {k: v for k, v in got.items() if k not in _META}

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        f = self._file(key)
        sum_ = checksum(key, arrays)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{f.name}.", suffix=".tmp")
        except OSError:  # read-only or full disk: the reference is still used, just not kept
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                meta = {"__format__": np.array(STORE_FORMAT), "__sha256__": np.array(sum_)}
                np.savez(fh, **arrays, **meta)
            os.replace(tmp, f)
        except OSError:
            Path(tmp).unlink(missing_ok=True)


def use_disk_store(path: str | Path | None = None) -> None:
    """Keep simulated references on disk (the default folder unless ``path``), once per
    process; a store set explicitly before is left in place."""
    if get_store() is None or path is not None:
        set_store(DiskReferenceStore(path))
