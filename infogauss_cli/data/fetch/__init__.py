"""Fetching datasets (docs/data.md): manifests, resumable md5-verified downloads, safe unpacking
(an absolute path, ``..`` or a link rejects the whole archive) and the completion marker."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infogauss_cli import __version__
from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.core.preflight import default_cache_dir
from infogauss_cli.core.progress import note, steps
from infogauss_cli.data.fetch.http import CHUNK_BYTES, Network, check_reachable, download, human

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Archive:
    """One archive under the base URL; ``members``: patterns of the entries to extract."""

    url_path: str
    md5: str
    size: int | None  # None: unknown
    members: tuple[str, ...]

    @property
    def filename(self) -> str:
        return self.url_path.rpartition("/")[2]


@dataclass(frozen=True)
class Manifest:
    """A dataset: its archives at ``base_url``, extracted into ``<data_dir>/<subdir>``."""

    name: str
    base_url: str
    subdir: str
    archives: tuple[Archive, ...]

    @property
    def marker_name(self) -> str:
        return f".{self.name}.complete.json"


COCO_VAL2017 = Manifest(
    "coco-val2017",
    "http://images.cocodataset.org/",
    "coco",
    (
        Archive(
            "zips/val2017.zip", "442b8da7639aecaf257c1dceb8ba8c80", 815_585_330, ("val2017/*.jpg",)
        ),
        Archive(
            "annotations/annotations_trainval2017.zip",
            "f4bbac642086de4f52a3fdda2de5fa2c",
            252_907_541,
            ("annotations/captions_val2017.json",),
        ),
    ),
)
MANIFESTS: dict[str, Manifest] = {COCO_VAL2017.name: COCO_VAL2017}


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did: ``files`` extracted into ``root`` (0 when ``already_present``)."""

    root: Path
    marker: Path
    files: int
    downloaded_bytes: int
    already_present: bool
    elapsed_s: float


@dataclass(frozen=True)
class DownloadFile:
    """An archive, or a partial download of one, in ``<root>/downloads``."""

    path: Path
    bytes: int
    partial: bool


@dataclass(frozen=True)
class DatasetStatus:
    """What is on disk: files matching each member pattern, the completion marker's content."""

    name: str
    root: Path
    complete: bool
    marker: dict[str, Any] | None
    members: dict[str, int]
    downloads: tuple[DownloadFile, ...] = ()


def resolve_data_dir(data_dir: PathLike | None = None) -> Path:
    """``data_dir``, else ``$INFOGAUSS_DATA``, else ``<user cache dir>/infogauss/data``."""
    return Path(data_dir).expanduser() if data_dir else default_cache_dir("INFOGAUSS_DATA", "data")


def read_marker(manifest: Manifest, data_dir: PathLike | None = None) -> dict[str, Any] | None:
    """The completion marker's content, or None when absent or unreadable (= incomplete)."""
    path = resolve_data_dir(data_dir) / manifest.subdir / manifest.marker_name
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("dataset") == manifest.name else None


def dataset_status(manifest: Manifest, data_dir: PathLike | None = None) -> DatasetStatus:
    """What of ``manifest`` is on disk under ``data_dir`` (``infogauss data info``)."""
    root = resolve_data_dir(data_dir) / manifest.subdir
    marker, folder = read_marker(manifest, data_dir), root / "downloads"
    patterns = [pattern for archive in manifest.archives for pattern in archive.members]
    members = {pattern: sum(p.is_file() for p in root.glob(pattern)) for pattern in patterns}
    downloads = tuple(
        DownloadFile(p, p.stat().st_size, p.name.endswith(".part"))
        for p in sorted(folder.glob("*"))
        if p.is_file()
    )
    return DatasetStatus(manifest.name, root, marker is not None, marker, members, downloads)


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry must not be extracted (absolute path, ``..``, symlink), or None."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "has a '..' component (path traversal)"
    return "is a symbolic link" if stat.S_ISLNK(info.external_attr >> 16) else None


def _matches(name: str, pattern: str) -> bool:
    """Component-wise glob: ``val2017/*.jpg`` matches ``val2017/1.jpg``, not ``val2017/a/1.jpg``."""
    parts, pats = name.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(map(fnmatch.fnmatchcase, parts, pats))


def select_members(path: Path, archive: Archive) -> list[zipfile.ZipInfo]:
    """The entries to extract; RunError for a bad zip, any unsafe entry or a missing member."""
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
    return [i for i in files if any(_matches(i.filename, p) for p in archive.members)]


def extract_members(path: Path, infos: list[zipfile.ZipInfo], root: Path) -> int:
    """Extract ``infos`` under ``root``, each through a temporary name (CRC checked): a count."""
    root.mkdir(parents=True, exist_ok=True)
    base = root.resolve()
    with zipfile.ZipFile(path) as zf, steps(f"extracting {path.name}", len(infos)) as advance:
        for info in infos:
            target = (root / info.filename.replace("\\", "/")).resolve()
            if not target.is_relative_to(base):  # never outside root (select_members checked)
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
                tmp.unlink(missing_ok=True)
            advance()
    return len(infos)


def _local_archives(mirror: str, manifest: Manifest) -> tuple[Path, list[Path]] | None:
    """The folder ``mirror`` and the archives in it; None for an http(s) URL."""
    if m := re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", mirror):
        if m[1].lower() not in ("http", "https"):
            raise BadInputError(f"--mirror {mirror!r}: use an http(s):// URL or a local folder")
        return None
    if not (folder := Path(mirror).expanduser()).is_dir():
        raise BadInputError(f"--mirror {mirror!r}: not an http(s):// URL nor an existing folder")
    paths = []
    for a in manifest.archives:
        candidates = [folder / a.url_path, folder / a.filename]
        if (found := next((p for p in candidates if p.is_file()), None)) is None:
            looked = ", ".join(map(str, candidates))
            raise BadInputError(f"--mirror {mirror}: no {a.filename} (looked for {looked})")
        paths.append(found)
    return folder, paths


def _download_all(manifest: Manifest, folder: Path, base: str, net: Network) -> int:
    """Download the archives missing from ``folder`` (host and free space checked first)."""
    if not (missing := [a for a in manifest.archives if not (folder / a.filename).is_file()]):
        return 0
    names = tuple(a.filename for a in manifest.archives)
    check_reachable(base + missing[0].url_path, net.timeout_s, names)
    if None not in (sizes := [a.size for a in missing]):
        parts = [folder / f"{a.filename}.part" for a in missing]
        need = 2 * sum(sizes) - sum(p.stat().st_size for p in parts if p.exists())  # + extracted
        folder.mkdir(parents=True, exist_ok=True)
        if (free := shutil.disk_usage(folder).free) < need:
            raise RunError(
                f"not enough free space in {folder}: {human(free)} free, about {human(need)} "
                "needed; free some space or use --dir / $INFOGAUSS_DATA elsewhere"
            )
    fetched = 0
    for archive in missing:
        note(f"downloading {base + archive.url_path} ({human(archive.size)})")
        fetched += download(base + archive.url_path, folder / archive.filename, archive.size, net)
    return fetched


def fetch(
    manifest: Manifest = COCO_VAL2017,
    data_dir: PathLike | None = None,
    *,
    mirror: str | None = None,
    force: bool = False,
    keep_archives: bool = False,
    net: Network = Network(),
) -> FetchResult:
    """Make ``<data_dir>/<manifest.subdir>`` complete (unless it is, and not ``force``).
    ``mirror``: another base URL, or a local folder holding the archives (never deleted)."""
    t0 = time.perf_counter()
    root = resolve_data_dir(data_dir) / manifest.subdir
    marker = root / manifest.marker_name
    if not force and read_marker(manifest, data_dir) is not None:
        return FetchResult(root, marker, 0, 0, True, time.perf_counter() - t0)
    local = _local_archives(mirror, manifest) if mirror else None
    base = (mirror if mirror and local is None else manifest.base_url).rstrip("/") + "/"
    marker.unlink(missing_ok=True)  # incomplete from here until the end
    downloads = root / "downloads"
    fetched = 0 if local else _download_all(manifest, downloads, base, net)
    paths = local[1] if local else [downloads / a.filename for a in manifest.archives]
    pairs = list(zip(manifest.archives, paths, strict=True))
    for archive, path in pairs:  # every checksum before anything is extracted
        h = hashlib.md5()
        with open(path, "rb") as f, steps(f"md5 {path.name}", path.stat().st_size, "B") as advance:
            while chunk := f.read(CHUNK_BYTES):
                h.update(chunk)
                advance(len(chunk))
        if (digest := h.hexdigest()) != archive.md5.lower():
            where = f"in {path}"
            if local is None:
                path.unlink()
                where = "(deleted; rerun to download it again)"
            raise RunError(
                f"checksum mismatch for {archive.filename}: md5 {digest}, expected "
                f"{archive.md5} {where}; nothing was extracted. "
                "If this keeps happening, the server or --mirror serves another file"
            )
        note(f"verified {archive.filename} (md5 {digest})")
    chosen = [(path, select_members(path, archive)) for archive, path in pairs]  # inspect all
    n_files = sum(extract_members(path, infos, root) for path, infos in chosen)
    note(f"extracted {n_files} files into {root}")
    info = {
        "dataset": manifest.name,
        "completed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "archives": {a.filename: a.md5 for a in manifest.archives},
        "files": n_files,
        "source": str(local[0]) if local is not None else base,
        "tool": {"name": "infogauss", "version": __version__},
    }
    atomic_write_bytes(marker, (json.dumps(info, indent=2) + "\n").encode())
    if local is None and not keep_archives:
        shutil.rmtree(downloads, ignore_errors=True)
    return FetchResult(root, marker, n_files, fetched, False, time.perf_counter() - t0)
