"""Content identity of weights: the sha256 of a file (or a folder's files), hashed once per
(path, size, mtime, inode) and remembered in the default cache folder under a file lock."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.safe_paths import default_cache_dir

HASH_MEMO = ".weights-sha256.json"
LOCK_TIMEOUT_S = 60  # another process updating the memo this long: skip remembering
_memo: dict[str, str] = {}


def memo_file() -> Path:
    return default_cache_dir() / HASH_MEMO


def _read_memo(path: Path) -> dict[str, str]:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def stream_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 4 MiB blocks (``sha256sum FILE`` gives the same)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _remember(key: str, digest: str) -> None:
    """Add ``key -> digest`` to the memo file (locked read, update, atomic rewrite); a read-only
    cache only costs the hashing again next time."""
    from filelock import FileLock, Timeout

    path = memo_file()
    with contextlib.suppress(OSError, Timeout):
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
            stored = _read_memo(path)
            stored[key] = digest
            atomic_write_bytes(path, json.dumps(stored).encode())


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, memoised in memory and in the default cache folder."""
    st = path.stat()
    key = f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    if key in _memo:
        return _memo[key]
    digest = _read_memo(memo_file()).get(key)
    if not isinstance(digest, str):
        digest = stream_sha256(path)
        _remember(key, digest)
    _memo[key] = digest
    return digest


def content_digest(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and each file's sha256): the
    same weights give the same digest wherever they are installed."""
    path = Path(path).resolve()
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256(b"infogauss.folder/v1\n")
    for p in sorted(path.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(f"{p.relative_to(path).as_posix()}\0{file_sha256(p)}\n".encode())
    return h.hexdigest()


def path_identity(path: Path) -> str:
    """The cache key's identity of local weights: their content digest, not their path."""
    kind = "file" if Path(path).is_file() else "dir"
    return f"{kind}:sha256:{content_digest(path)}"


def identity_sha256(identity: str | None) -> str | None:
    """The sha256 inside ``file:sha256:HEX`` / ``dir:sha256:HEX``, or None (random, hub)."""
    if not identity:
        return None
    kind, _, rest = identity.partition(":sha256:")
    if kind not in ("file", "dir") or len(rest) < 64:
        return None
    return rest[:64]
