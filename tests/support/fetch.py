"""Shared test helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import stat
import zipfile

import pytest

from infogauss_cli.data.fetch import (
    COCO_VAL2017,
    read_marker,
)
from tests.support.coco import file_name, image_ids, make_coco
from tests.support.range_server import RangeServer

VAL, ANN = "val2017.zip", "annotations_trainval2017.zip"


N_IMAGES = 4


def make_zip(members: dict[str, bytes | None], symlinks: tuple[str, ...] = ()) -> bytes:
    """A zip of ``members`` (None: a directory entry); ``symlinks`` are stored as links."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if data is None:
                zf.writestr(zipfile.ZipInfo(name), b"")
            else:
                zf.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    src = make_coco(tmp_path_factory.mktemp("src"), n_images=N_IMAGES, truncated=0)
    val: dict[str, bytes | None] = {"val2017/": None}
    for p in sorted(src.images_dir.iterdir()):
        val[f"val2017/{p.name}"] = p.read_bytes()
    val["val2017/sub/nested.jpg"] = b"not wanted"
    val["README.txt"] = b"not wanted"
    ann = {
        "annotations/": None,
        "annotations/captions_val2017.json": src.ann_path.read_bytes(),
        "annotations/instances_val2017.json": b"{}",
        "annotations/captions_train2017.json": b"{}",
    }
    return {VAL: make_zip(val), ANN: make_zip(ann)}


def manifest_for(archives: dict[str, bytes], sizes: bool = True, **md5s: str):
    """COCO_VAL2017 with the md5s and sizes of the test archives (``md5s`` overrides, keyed
    val/ann)."""
    keys = {VAL: "val", ANN: "ann"}
    parts = tuple(
        dataclasses.replace(
            a,
            md5=md5s.get(keys[a.filename], hashlib.md5(archives[a.filename]).hexdigest()),
            size=len(archives[a.filename]) if sizes else None,
        )
        for a in COCO_VAL2017.archives
    )
    return dataclasses.replace(COCO_VAL2017, archives=parts)


def served(archives: dict[str, bytes], **kw) -> RangeServer:
    files = {f"/{a.url_path}": archives[a.filename] for a in COCO_VAL2017.archives}
    return RangeServer(files, **kw)


def _assert_complete(data, archives_kept=False):
    root = data / "coco"
    assert read_marker(COCO_VAL2017, data) is not None
    assert sorted(p.name for p in (root / "val2017").iterdir()) == [
        file_name(i) for i in image_ids(N_IMAGES)
    ]
    assert sorted(p.name for p in (root / "annotations").iterdir()) == ["captions_val2017.json"]
    assert not (root / "README.txt").exists()
    assert (root / "downloads").exists() == archives_kept
