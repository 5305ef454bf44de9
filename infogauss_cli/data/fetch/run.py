"""``fetch``: a manifest's archives downloaded (or taken from a mirror), verified, inspected,
extracted, marked complete."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.data.fetch.archive import extract_members, md5_file, select_members
from infogauss_cli.data.fetch.http import Reporter, check_reachable, download, human
from infogauss_cli.data.fetch.manifest import (
    COCO_VAL2017,
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    FetchResult,
    Manifest,
    is_complete,
    resolve_data_dir,
)

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console


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
            f"not enough free space in {folder}: {human(free)} free, about {human(need)} "
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
    report = Reporter(console, progress)
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
                report.say(f"downloading {url} ({human(archive.size)})")
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
    from infogauss_cli import __version__
    from infogauss_cli.core.atomic import atomic_write_bytes

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
