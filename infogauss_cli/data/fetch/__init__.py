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
machine gets :class:`~infogauss_cli.core.errors.RunError` ("cannot reach ...") within seconds.
Standard library only; rich draws the progress bars when a console is passed. Modules:
:mod:`.manifest` (what and where), :mod:`.http` (reachability, resumable download),
:mod:`.archive` (md5, safe inspection, extraction), :mod:`.run` (:func:`fetch`).
"""

from __future__ import annotations

from infogauss_cli.data.fetch.archive import (
    extract_members,
    md5_file,
    select_members,
    unsafe_reason,
)
from infogauss_cli.data.fetch.http import check_reachable, download
from infogauss_cli.data.fetch.manifest import (
    CHUNK_BYTES,
    COCO_BASE_URL,
    COCO_VAL2017,
    CONNECT_TIMEOUT_S,
    MANIFESTS,
    READ_TIMEOUT_S,
    Archive,
    DatasetStatus,
    DownloadFile,
    FetchResult,
    Manifest,
    dataset_root,
    dataset_status,
    default_data_dir,
    is_complete,
    marker_path,
    read_marker,
    resolve_data_dir,
)
from infogauss_cli.data.fetch.run import fetch

__all__ = [
    "CHUNK_BYTES",
    "COCO_BASE_URL",
    "COCO_VAL2017",
    "CONNECT_TIMEOUT_S",
    "MANIFESTS",
    "READ_TIMEOUT_S",
    "Archive",
    "DatasetStatus",
    "DownloadFile",
    "FetchResult",
    "Manifest",
    "check_reachable",
    "dataset_root",
    "dataset_status",
    "default_data_dir",
    "download",
    "extract_members",
    "fetch",
    "is_complete",
    "marker_path",
    "md5_file",
    "read_marker",
    "resolve_data_dir",
    "select_members",
    "unsafe_reason",
]
