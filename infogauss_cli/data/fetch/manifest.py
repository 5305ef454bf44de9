"""What a dataset's archives are (manifests), how downloads talk to the network, and where a
dataset lives on disk."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1 << 20
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Network:
    """Downloads: retries in a row without progress, back-off (doubling), connect and read
    timeouts in seconds."""

    retries: int = 5
    backoff_s: float = 1.0
    timeout_s: float = 10.0
    read_timeout_s: float = 60.0


@dataclass(frozen=True)
class Archive:
    """One archive: ``url_path`` under the manifest's base URL; ``members``: '/'-separated
    patterns of the entries to extract (empty: all files)."""

    filename: str
    url_path: str
    md5: str
    size: int | None = None
    members: tuple[str, ...] = ()


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
    """What :func:`~.fetch` did: ``files`` extracted into ``root`` (0 when ``already_present``)."""

    name: str
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
    data_dir: Path
    root: Path
    complete: bool
    marker: dict[str, Any] | None
    members: dict[str, int]
    downloads: tuple[DownloadFile, ...] = ()


def resolve_data_dir(data_dir: PathLike | None = None) -> Path:
    """``data_dir``, else ``$INFOGAUSS_DATA``, else ``<user cache dir>/infogauss/data``."""
    if data_dir or os.environ.get("INFOGAUSS_DATA"):
        return Path(data_dir or os.environ["INFOGAUSS_DATA"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("infogauss")) / "data"


def read_marker(manifest: Manifest, data_dir: PathLike | None = None) -> dict[str, Any] | None:
    """The completion marker's content, or None when absent or unreadable (= incomplete)."""
    path = resolve_data_dir(data_dir) / manifest.subdir / manifest.marker_name
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("dataset") == manifest.name else None


def is_complete(manifest: Manifest, data_dir: PathLike | None = None) -> bool:
    return read_marker(manifest, data_dir) is not None


def dataset_status(manifest: Manifest, data_dir: PathLike | None = None) -> DatasetStatus:
    """What of ``manifest`` is on disk under ``data_dir`` (``infogauss data info``)."""
    data = resolve_data_dir(data_dir)
    root, marker = data / manifest.subdir, read_marker(manifest, data)
    members = {
        pattern: sum(p.is_file() for p in root.glob(pattern)) if root.is_dir() else 0
        for archive in manifest.archives
        for pattern in archive.members
    }
    folder = root / "downloads"
    downloads = tuple(
        DownloadFile(p, p.stat().st_size, p.name.endswith(".part"))
        for p in (sorted(folder.iterdir()) if folder.is_dir() else ())
        if p.is_file()
    )
    return DatasetStatus(manifest.name, data, root, marker is not None, marker, members, downloads)
