"""Fetching datasets: download (resumable), verify (md5), unpack (only what is needed, safely).

A :class:`Manifest` names the archives of a dataset (file, path under the base URL, md5, size,
and which members to extract). :func:`fetch` makes ``<data_dir>/<manifest.subdir>`` complete:

1. download every archive into ``<root>/downloads/`` through a ``.part`` file; a partial file is
   resumed with an HTTP ``Range`` request (by a retry in the same run, or by the next run);
2. verify every archive's md5; a mismatch deletes the file and stops, nothing is extracted;
3. inspect every archive before extracting any: an entry with an absolute path, a ``..``
   component or a symbolic link rejects the whole archive;
4. extract only the members matching the manifest's patterns (``val2017/*.jpg``: one path
   component each, ``*`` never crosses a ``/``), each written atomically;
5. write the completion marker ``<root>/.<name>.complete.json``, then delete the archives
   (``keep_archives`` keeps them).

Where: ``data_dir`` defaults to ``$INFOGAUSS_DATA``, else ``<user cache dir>/infogauss/data``.
``mirror`` replaces the manifest's base URL (``http://host/path/`` + ``zips/val2017.zip``), or
names a local folder already holding the archives (``DIR/zips/val2017.zip`` or
``DIR/val2017.zip``), which are verified and extracted in place, never deleted.

Network: the host name is resolved and connected to with a short timeout (10 s), so an offline
machine gets :class:`~infogauss_cli.errors.RunError` ("cannot reach ...") within seconds.
Standard library only; rich draws the progress bars when a console is passed.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fnmatch
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadInputError, RunError

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

COCO_BASE_URL = "http://images.cocodataset.org/"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Archive:
    """One downloadable archive: ``url_path`` is relative to the manifest's base URL;
    ``members`` are the '/'-separated patterns of the entries to extract (empty: all files)."""

    filename: str
    url_path: str
    md5: str
    size: int | None = None
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A dataset: where its archives are (``base_url``), and the folder under the data dir they
    are extracted into (``subdir``)."""

    name: str
    base_url: str
    subdir: str
    archives: tuple[Archive, ...]

    @property
    def marker_name(self) -> str:
        return f".{self.name}.complete.json"


COCO_VAL2017 = Manifest(
    name="coco-val2017",
    base_url=COCO_BASE_URL,
    subdir="coco",
    archives=(
        Archive(
            "val2017.zip",
            "zips/val2017.zip",
            md5="442b8da7639aecaf257c1dceb8ba8c80",
            size=815_585_330,
            members=("val2017/*.jpg",),
        ),
        Archive(
            "annotations_trainval2017.zip",
            "annotations/annotations_trainval2017.zip",
            md5="f4bbac642086de4f52a3fdda2de5fa2c",
            size=252_907_541,
            members=("annotations/captions_val2017.json",),
        ),
    ),
)
MANIFESTS: dict[str, Manifest] = {COCO_VAL2017.name: COCO_VAL2017}


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did. ``root`` holds the extracted files; ``files`` counts the members
    extracted (0 when ``already_present``)."""

    name: str
    root: Path
    marker: Path
    files: int
    downloaded_bytes: int
    already_present: bool
    elapsed_s: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DownloadFile:
    """An archive, or a partial download of one, in ``<root>/downloads``."""

    path: Path
    bytes: int
    partial: bool


@dataclass(frozen=True)
class DatasetStatus:
    """What :func:`dataset_status` found: ``members`` counts the files on disk matching each
    member pattern of the manifest; ``marker`` is the completion marker's content, if any."""

    name: str
    data_dir: Path
    root: Path
    complete: bool
    marker: dict[str, Any] | None
    members: dict[str, int]
    downloads: tuple[DownloadFile, ...] = field(default=())


# ---- where -------------------------------------------------------------------------------------
def default_data_dir() -> Path:
    """``$INFOGAUSS_DATA`` if set, else ``<user cache dir>/infogauss/data``."""
    env = os.environ.get("INFOGAUSS_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("infogauss")) / "data"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def dataset_root(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> Path:
    return resolve_data_dir(data_dir) / manifest.subdir


def marker_path(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> Path:
    return dataset_root(manifest, data_dir) / manifest.marker_name


def read_marker(
    manifest: Manifest, data_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The completion marker's content, or None when absent or unreadable (= incomplete)."""
    try:
        info = json.loads(marker_path(manifest, data_dir).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("dataset") == manifest.name else None


def is_complete(manifest: Manifest, data_dir: str | os.PathLike[str] | None = None) -> bool:
    return read_marker(manifest, data_dir) is not None


def dataset_status(
    manifest: Manifest, data_dir: str | os.PathLike[str] | None = None
) -> DatasetStatus:
    """What of ``manifest`` is on disk under ``data_dir`` (for ``infogauss data info``)."""
    data = resolve_data_dir(data_dir)
    root = data / manifest.subdir
    marker = read_marker(manifest, data)
    members = {}
    for archive in manifest.archives:
        for pattern in archive.members:
            members[pattern] = (
                sum(1 for p in root.glob(pattern) if p.is_file()) if root.is_dir() else 0
            )
    downloads = []
    folder = root / "downloads"
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file():
                downloads.append(DownloadFile(p, p.stat().st_size, p.name.endswith(".part")))
    return DatasetStatus(
        manifest.name, data, root, marker is not None, marker, members, tuple(downloads)
    )


# ---- helpers -----------------------------------------------------------------------------------
def md5_file(path: Path, advance: Callable[[int], None] | None = None) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
            if advance is not None:
                advance(len(chunk))
    return h.hexdigest()


def _human(n: int | None) -> str:
    if n is None:
        return "? bytes"
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} bytes"  # pragma: no cover


class _Reporter:
    """Messages and progress bars on a rich console; silent without one."""

    def __init__(self, console: Console | None, progress: bool) -> None:
        self.console = console
        self.enabled = bool(progress and console is not None and console.is_terminal)
        self.notes: list[str] = []

    def say(self, message: str) -> None:
        self.notes.append(message)
        if self.console is not None:
            self.console.print(message, highlight=False)

    @contextlib.contextmanager
    def bar(self, label: str, total: int | None, completed: int = 0) -> Iterator[Any]:
        """Yields ``advance(n)``; a byte progress bar when enabled."""
        if not self.enabled:
            yield lambda n: None
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        with progress:
            task = progress.add_task(label, total=total, completed=completed)
            yield lambda n: progress.advance(task, n)

    @contextlib.contextmanager
    def count_bar(self, label: str, total: int) -> Iterator[Any]:
        if not self.enabled:
            yield lambda n: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
        )
        with progress:
            task = progress.add_task(label, total=total)
            yield lambda n: progress.advance(task, n)


# ---- network -----------------------------------------------------------------------------------
def _unreachable(host: str, reason: Any, filenames: list[str]) -> RunError:
    files = " and ".join(filenames) or "the archives"
    return RunError(
        f"cannot reach {host} ({reason}): this machine looks offline, or the host is down. "
        f"Fetch on a machine with network and copy the data folder over, or pass --mirror URL "
        f"(an HTTP mirror, or a local folder holding {files})"
    )


def check_reachable(
    url: str, timeout_s: float = CONNECT_TIMEOUT_S, filenames: tuple[str, ...] = ()
) -> None:
    """Resolve and connect to ``url``'s host within ``timeout_s`` (DNS included, which socket
    timeouts do not cover); RunError "cannot reach ..." otherwise."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)

    def connect() -> None:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(connect)
    try:
        future.result(timeout=timeout_s + 1.0)
    except concurrent.futures.TimeoutError:
        reason = f"no answer within {timeout_s:.0f} s"
        raise _unreachable(host, reason, list(filenames)) from None
    except OSError as exc:
        raise _unreachable(host, exc.strerror or exc, list(filenames)) from None
    finally:
        pool.shutdown(wait=False)


def _set_read_timeout(resp: Any, timeout_s: float) -> None:
    """urllib uses one timeout for connect and reads; give reads a longer one."""
    sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout_s)


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def download(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    retries: int = 5,
    backoff_s: float = 1.0,
    timeout_s: float = CONNECT_TIMEOUT_S,
    read_timeout_s: float = READ_TIMEOUT_S,
    advance: Callable[[int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> int:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file with an HTTP
    Range request; returns the bytes fetched in this call. A dropped connection is retried
    (with Range) up to ``retries`` times in a row without progress; a failure leaves the
    ``.part`` file for the next call. The caller verifies the content (md5)."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    host = urllib.parse.urlsplit(url).hostname or url
    advance = advance or (lambda n: None)
    say = say or (lambda m: None)
    fetched, failures, answered = 0, 0, False
    while True:
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:  # not a prefix of the file we want
            part.unlink()
            advance(-have)
            have = 0
        if size is not None and have == size:
            break
        headers = {"User-Agent": "infogauss", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        error: BaseException | None = None
        try:
            resp = urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=timeout_s
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing after `have`: the part is the whole file
                break
            raise RunError(f"downloading {url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if not answered:  # never got an answer in this call: fail fast, no retries
                raise _unreachable(host, reason, [dest.name]) from None
            error = exc
        else:
            answered = True
            with resp:
                start, total, mode = have, None, "ab"
                if have and resp.status == 206:
                    m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
                    if not m or int(m[1]) != have:
                        raise RunError(
                            f"downloading {url}: the server answered the wrong range "
                            f"({resp.headers.get('Content-Range')!r} for bytes={have}-)"
                        )
                    total = None if m[3] == "*" else int(m[3])
                    say(f"resuming {dest.name} at {_human(have)}")
                else:  # a whole file (the server ignored Range, or there was nothing to resume)
                    if have:
                        say(f"{host} does not resume downloads; restarting {dest.name}")
                        advance(-have)
                    start, mode = 0, "wb"
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else size
                if size is not None and total is not None and total != size:
                    raise RunError(
                        f"downloading {url}: the server has {total} bytes, expected {size}; "
                        "is this the right file (check --mirror)?"
                    )
                _set_read_timeout(resp, read_timeout_s)
                progressed = 0
                try:
                    with open(part, mode) as f:
                        while chunk := resp.read(CHUNK_BYTES):
                            f.write(chunk)
                            progressed += len(chunk)
                            advance(len(chunk))
                except (OSError, http.client.HTTPException) as exc:
                    error = exc
                fetched += progressed
                if progressed:
                    failures = 0
                got = start + progressed
                if error is None and total is not None and got < total:
                    error = ConnectionError(f"connection closed at {got} of {total} bytes")
                if error is None:
                    break
        failures += 1
        if failures > retries:
            kept = part.stat().st_size if part.exists() else 0
            raise RunError(
                f"download of {dest.name} from {host} failed ({error}); {_human(kept)} kept in "
                f"{part}: rerun the same command to resume"
            ) from None
        say(f"{dest.name}: {error}; retrying ({failures}/{retries})")
        time.sleep(backoff_s * 2 ** (failures - 1))
    os.replace(part, dest)
    return fetched


# ---- archives ----------------------------------------------------------------------------------
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
    return len(parts) == len(pats) and all(
        fnmatch.fnmatchcase(a, p) for a, p in zip(parts, pats, strict=True)
    )


def select_members(path: Path, archive: Archive) -> list[zipfile.ZipInfo]:
    """The entries of ``path`` to extract; RunError if the archive is not a zip, has any unsafe
    entry (the whole archive is rejected), or lacks a wanted member."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise RunError(f"{archive.filename} is not a readable zip archive ({exc})") from None
    for info in infos:
        reason = unsafe_reason(info)
        if reason:
            raise RunError(
                f"refusing to extract {archive.filename}: entry {info.filename!r} {reason}; "
                "nothing was extracted (the archive is not the expected one)"
            )
    files = [i for i in infos if not i.is_dir()]
    if not archive.members:
        return files
    chosen = [i for i in files if any(_matches(i.filename, p) for p in archive.members)]
    for pattern in archive.members:
        if not any(_matches(i.filename, pattern) for i in chosen):
            raise RunError(f"{archive.filename} has no entry matching {pattern!r}")
    return chosen


def extract_members(
    path: Path,
    infos: list[zipfile.ZipInfo],
    root: Path,
    advance: Callable[[int], None] | None = None,
) -> int:
    """Extract ``infos`` of zip ``path`` under ``root``; each file is written to a temporary
    name and renamed, and its CRC checked. Returns the number of files."""
    root.mkdir(parents=True, exist_ok=True)
    base = root.resolve()
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            if unsafe_reason(info):  # checked already; never write outside root
                raise RunError(f"refusing to extract {info.filename!r}")
            target = (root / info.filename.replace("\\", "/")).resolve()
            if not target.is_relative_to(base):
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
            if advance is not None:
                advance(1)
    return len(infos)


# ---- the whole thing ---------------------------------------------------------------------------
def _local_mirror(mirror: str) -> Path | None:
    """A local folder named by ``mirror`` (a path or file:// URL), or None for http(s) URLs."""
    if mirror.startswith("file://"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(mirror).path))
    elif re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", mirror):
        scheme = mirror.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise BadInputError(f"--mirror {mirror!r}: use an http(s):// URL or a local folder")
        return None
    else:
        path = Path(mirror).expanduser()
    if not path.is_dir():
        raise BadInputError(f"--mirror {mirror!r}: not an http(s):// URL nor an existing folder")
    return path


def _check_space(folder: Path, need: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise RunError(
            f"not enough free space in {folder}: {_human(free)} free, about {_human(need)} "
            "needed; free some space or use --dir / $INFOGAUSS_DATA elsewhere"
        )


def fetch(
    manifest: Manifest = COCO_VAL2017,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    force: bool = False,
    keep_archives: bool = False,
    retries: int = 5,
    backoff_s: float = 1.0,
    timeout_s: float = CONNECT_TIMEOUT_S,
    read_timeout_s: float = READ_TIMEOUT_S,
    console: Console | None = None,
    progress: bool = True,
) -> FetchResult:
    """Download, verify and extract ``manifest`` into ``<data_dir>/<manifest.subdir>`` (see the
    module docstring). Nothing is done when the completion marker is there, unless ``force``.
    Raises RunError for network, checksum and archive failures, BadInputError for a bad
    ``mirror``."""
    t0 = time.perf_counter()
    data = resolve_data_dir(data_dir)
    root = data / manifest.subdir
    marker = root / manifest.marker_name
    report = _Reporter(console, progress)
    if not force and is_complete(manifest, data):
        return FetchResult(manifest.name, root, marker, 0, 0, True, time.perf_counter() - t0)
    local = _local_mirror(mirror) if mirror else None
    base = manifest.base_url if mirror is None or local is not None else mirror
    base = base.rstrip("/") + "/"
    with contextlib.suppress(OSError):
        marker.unlink()  # from here on the data is incomplete until the end
    downloads = root / "downloads"

    # 1. archives on disk: a local mirror's files, or downloads
    paths: list[Path] = []
    fetched = 0
    if local is not None:
        for archive in manifest.archives:
            candidates = [local / archive.url_path, local / archive.filename]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise BadInputError(
                    f"--mirror {mirror}: no {archive.filename} (looked for "
                    + ", ".join(str(p) for p in candidates)
                    + ")"
                )
            paths.append(found)
    else:
        missing = [a for a in manifest.archives if not (downloads / a.filename).is_file()]
        if missing:
            names = tuple(a.filename for a in manifest.archives)
            check_reachable(base + missing[0].url_path, timeout_s, names)
            sizes = [a.size for a in missing]
            if all(s is not None for s in sizes):
                have = sum(_part_size(downloads / a.filename) for a in missing)
                extracted = sum(sizes)  # type: ignore[arg-type]
                _check_space(downloads, sum(sizes) - have + extracted)  # type: ignore[arg-type]
        for archive in manifest.archives:
            dest = downloads / archive.filename
            if not dest.is_file():
                url = base + archive.url_path
                report.say(f"downloading {url} ({_human(archive.size)})")
                have = _part_size(dest)
                with report.bar(archive.filename, archive.size, have) as advance:
                    fetched += download(
                        url,
                        dest,
                        size=archive.size,
                        retries=retries,
                        backoff_s=backoff_s,
                        timeout_s=timeout_s,
                        read_timeout_s=read_timeout_s,
                        advance=advance,
                        say=report.say,
                    )
            paths.append(dest)

    # 2. checksums, all before anything is extracted
    for archive, path in zip(manifest.archives, paths, strict=True):
        with report.bar(f"md5 {archive.filename}", path.stat().st_size) as advance:
            digest = md5_file(path, advance)
        if digest != archive.md5.lower():
            where = f"in {path}"
            if local is None:
                path.unlink()
                where = "(deleted; rerun to download it again)"
            raise RunError(
                f"checksum mismatch for {archive.filename}: md5 {digest}, expected "
                f"{archive.md5} {where}; nothing was extracted. "
                "If this keeps happening, the server or --mirror serves another file"
            )
        report.say(f"verified {archive.filename} (md5 {digest})")

    # 3. inspect every archive, then 4. extract
    chosen = [
        select_members(path, archive)
        for archive, path in zip(manifest.archives, paths, strict=True)
    ]
    n_files = 0
    for archive, path, infos in zip(manifest.archives, paths, chosen, strict=True):
        with report.count_bar(f"extracting {archive.filename}", len(infos)) as advance:
            n_files += extract_members(path, infos, root, advance)
    report.say(f"extracted {n_files} files into {root}")

    # 5. marker, then clean up
    from . import __version__
    from .store import atomic_write_bytes

    info = {
        "dataset": manifest.name,
        "completed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "archives": [
            {"file": a.filename, "md5": a.md5, "size": a.size, "members": list(a.members)}
            for a in manifest.archives
        ],
        "files": n_files,
        "source": str(local) if local is not None else base,
        "tool": {"name": "infogauss", "version": __version__},
    }
    atomic_write_bytes(marker, (json.dumps(info, indent=2) + "\n").encode())
    if local is None and not keep_archives:
        for path in paths:
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            downloads.rmdir()
    return FetchResult(
        manifest.name,
        root,
        marker,
        n_files,
        fetched,
        False,
        time.perf_counter() - t0,
        tuple(report.notes),
    )


def _part_size(dest: Path) -> int:
    part = dest.with_name(dest.name + ".part")
    return part.stat().st_size if part.exists() else 0
