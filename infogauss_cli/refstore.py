"""Simulated references on disk, so that a repeated audit does not simulate them twice.

One ``.npz`` per (n, d, view, seed, columns, format) key (see
``infogauss_cli.diagnostics.reference``), in ``$INFOGAUSS_REFERENCES``, else
``$INFOGAUSS_CACHE/references``, else ``<user cache dir>/infogauss/references``. Writes are
atomic (temporary file in the same folder, then ``os.replace``); an entry that cannot be read
(truncated, corrupt, wrong arrays) is ignored, removed and simulated again.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


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
    """``get``/``put`` of named arrays under one folder (never raises on a bad entry)."""

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
            with np.load(f, allow_pickle=False) as z:
                return {k: np.array(z[k]) for k in z.files}
        except Exception:  # corrupt or truncated: drop it, simulate again
            f.unlink(missing_ok=True)
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        f = self._file(key)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{f.name}.", suffix=".tmp")
        except OSError:  # read-only or full disk: the reference is still used, just not kept
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, f)
        except OSError:
            Path(tmp).unlink(missing_ok=True)


def use_disk_store(path: str | Path | None = None) -> None:
    """Keep simulated references on disk (the default folder unless ``path``), once per
    process; a store set explicitly before is left in place."""
    from .diagnostics.reference import get_store, set_store

    if get_store() is None or path is not None:
        set_store(DiskReferenceStore(path))


__all__ = ["DiskReferenceStore", "default_reference_dir", "use_disk_store"]
