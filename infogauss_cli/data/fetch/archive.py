"""Archives: md5, safe inspection (no absolute paths, ``..`` or links) and extraction of the
wanted members only, each file written atomically."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.progress import steps
from infogauss_cli.data.fetch.manifest import CHUNK_BYTES, Archive


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f, steps(f"md5 {path.name}", path.stat().st_size, "B") as advance:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
            advance(len(chunk))
    return h.hexdigest()


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry must not be extracted (absolute path, ``..``, symlink, NUL), or None."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "has a '..' component (path traversal)"
    if "\0" in name:
        return "has a NUL byte in its name"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def _matches(name: str, pattern: str) -> bool:
    """Component-wise glob: ``val2017/*.jpg`` matches ``val2017/1.jpg``, not ``val2017/a/1.jpg``."""
    parts, pats = name.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(map(fnmatch.fnmatchcase, parts, pats))


def select_members(path: Path, archive: Archive) -> list[zipfile.ZipInfo]:
    """The entries to extract; RunError if ``path`` is not a zip, has any unsafe entry (the
    whole archive is rejected) or lacks a wanted member."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise RunError(f"{archive.filename} is not a readable zip archive ({exc})") from None
    for info in infos:
        if reason := unsafe_reason(info):
            raise RunError(
                f"refusing to extract {archive.filename}: entry {info.filename!r} {reason}; "
                "nothing was extracted (the archive is not the expected one)"
            )
    files = [i for i in infos if not i.is_dir()]
    for pattern in archive.members:
        if not any(_matches(i.filename, pattern) for i in files):
            raise RunError(f"{archive.filename} has no entry matching {pattern!r}")
    if not archive.members:
        return files
    return [i for i in files if any(_matches(i.filename, p) for p in archive.members)]


def extract_members(path: Path, infos: list[zipfile.ZipInfo], root: Path) -> int:
    """Extract ``infos`` of zip ``path`` under ``root``, each file through a temporary name
    (its CRC checked); returns the number of files."""
    root.mkdir(parents=True, exist_ok=True)
    base = root.resolve()
    with zipfile.ZipFile(path) as zf, steps(f"extracting {path.name}", len(infos)) as advance:
        for info in infos:
            target = (root / info.filename.replace("\\", "/")).resolve()
            if unsafe_reason(info) or not target.is_relative_to(base):  # never outside root
                raise RunError(f"refusing to extract {info.filename!r}: outside {root}")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                with zf.open(info) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK_BYTES)
                os.replace(tmp, target)
            except zipfile.BadZipFile as exc:
                raise RunError(f"{path.name}: entry {info.filename!r} is corrupt ({exc})") from None
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            advance()
    return len(infos)
