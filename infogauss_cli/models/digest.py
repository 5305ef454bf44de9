"""Content identity of weights: sha256 of a file or a folder's files, memoised per (path, size,
mtime, inode) in the default cache folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.preflight import default_cache_dir

HASH_MEMO = ".weights-sha256.json"
_memo: dict[str, str] = {}


def _read_memo(path: Path) -> dict[str, str]:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def stream_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (as ``sha256sum FILE``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, memoised in memory and in the cache folder (if writable)."""
    from filelock import FileLock, Timeout

    st = path.stat()
    key = f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    if key in _memo:
        return _memo[key]
    memo = default_cache_dir() / HASH_MEMO
    digest = _read_memo(memo).get(key)
    if not isinstance(digest, str):
        digest = stream_sha256(path)
        with contextlib.suppress(OSError, Timeout):  # a read-only cache, or a stuck lock: skip
            memo.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(memo) + ".lock", timeout=60):
                atomic_write_bytes(memo, json.dumps({**_read_memo(memo), key: digest}).encode())
    _memo[key] = digest
    return digest


def content_digest(path: str | Path) -> str:
    """sha256 of a file, or of a folder's relative names and file digests (location-free)."""
    path = Path(path).resolve()
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256(b"infogauss.folder/v1\n")
    for p in sorted(path.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(f"{p.relative_to(path).as_posix()}\0{file_sha256(p)}\n".encode())
    return h.hexdigest()


def path_identity(path: Path) -> str:
    kind = "file" if Path(path).is_file() else "dir"
    return f"{kind}:sha256:{content_digest(path)}"


def identity_sha256(identity: str | None) -> str | None:
    """The sha256 inside ``file:sha256:HEX`` / ``dir:sha256:HEX``, or None (random, hub)."""
    kind, _, rest = (identity or "").partition(":sha256:")
    return rest[:64] if kind in ("file", "dir") and len(rest) >= 64 else None
