"""Manifests (what a dataset's archives are) and where a dataset lives on disk."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
