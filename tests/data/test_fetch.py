"""`fetch`: download (Range resume), md5, safe extraction, marker, against an HTTP server on
127.0.0.1 started by the tests. Never contacts a non-loopback address."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import zipfile

import pytest

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.core.options import DataOptions
from infogauss_cli.core.progress import listening
from infogauss_cli.data.fetch import (
    COCO_VAL2017,
    Network,
    dataset_status,
    download,
    fetch,
    read_marker,
    unsafe_reason,
)
from infogauss_cli.data.sources import parse_data_spec
from tests.support.coco import file_name, image_ids
from tests.support.fetch import ANN, N_IMAGES, VAL, _assert_complete, make_zip, manifest_for, served
from tests.support.range_server import RangeServer, closed_port


def test_complete_download_and_extraction(archives, tmp_path):
    data = tmp_path / "data"
    manifest = manifest_for(archives)
    with served(archives) as server:
        result = fetch(manifest, data, mirror=server.url, net=Network(backoff_s=0))
        assert [path for path, _ in server.log] == [
            "/zips/val2017.zip",
            "/annotations/annotations_trainval2017.zip",
        ]
        assert all(rng is None for _, rng in server.log)
    assert not result.already_present and result.files == N_IMAGES + 1
    assert result.downloaded_bytes == sum(len(b) for b in archives.values())
    _assert_complete(data)
    marker = json.loads(result.marker.read_text())
    assert marker["dataset"] == "coco-val2017" and marker["files"] == N_IMAGES + 1
    # complete: nothing to do, no network needed
    again = fetch(manifest, data, mirror=f"http://127.0.0.1:{closed_port()}/")
    assert again.already_present and again.files == 0
    # and the default source reads it
    src = parse_data_spec("coco-val2017", DataOptions(captions="all"), data_dir=data)
    assert len(src.items("image")) == N_IMAGES and len(src.items("text")) == 5 * N_IMAGES
    status = dataset_status(COCO_VAL2017, data)
    assert status.complete and status.members == {
        "val2017/*.jpg": N_IMAGES,
        "annotations/captions_val2017.json": 1,
    }


@pytest.mark.parametrize("sizes", [True, False], ids=["known-size", "unknown-size"])
def test_interrupted_download_resumes_on_the_next_run(archives, tmp_path, sizes):
    data = tmp_path / "data"
    manifest = manifest_for(archives, sizes=sizes)
    half = len(archives[VAL]) // 2
    part = data / "coco" / "downloads" / f"{VAL}.part"
    with served(archives) as server:
        server.drop_after["/zips/val2017.zip"] = half
        with pytest.raises(RunError, match="rerun the same command to resume") as err:
            fetch(manifest, data, mirror=server.url, net=Network(retries=0))
        assert str(part) in str(err.value)
        assert part.stat().st_size == half
        assert read_marker(COCO_VAL2017, data) is None
        result = fetch(
            manifest, data, mirror=server.url, net=Network(retries=0), keep_archives=True
        )
        val_requests = [rng for path, rng in server.log if path == "/zips/val2017.zip"]
    assert val_requests == [None, f"bytes={half}-"]
    assert result.downloaded_bytes == len(archives[VAL]) - half + len(archives[ANN])
    _assert_complete(data, archives_kept=True)
    assert (data / "coco" / "downloads" / VAL).read_bytes() == archives[VAL]
    assert not part.exists()


def test_dropped_connection_is_retried_with_range_in_the_same_run(archives, tmp_path):
    data = tmp_path / "data"
    with served(archives) as server:
        server.drop_after["/annotations/annotations_trainval2017.zip"] = 100
        notes = []

        class Channel:  # what a front end renders: the notes are the messages
            def step(self, label, total, unit):
                return contextlib.nullcontext(lambda n=1: None)

            def note(self, text):
                notes.append(text)

        with listening(Channel()):
            fetch(manifest_for(archives), data, mirror=server.url, net=Network(backoff_s=0))
        ann_requests = [r for p, r in server.log if p.endswith(ANN)]
    assert ann_requests == [None, "bytes=100-"]
    assert any("retrying (1/5)" in n for n in notes)
    assert any(n.startswith(f"resuming {ANN} at 100 bytes") for n in notes)
    _assert_complete(data)


def test_server_without_range_support_restarts_the_file(archives, tmp_path):
    data = tmp_path / "data"
    with served(archives, ranges=False) as server:
        server.drop_after["/zips/val2017.zip"] = 50
        fetch(manifest_for(archives), data, mirror=server.url, net=Network(backoff_s=0))
    _assert_complete(data)


def test_checksum_mismatch_is_rejected_and_nothing_extracted(archives, tmp_path):
    data = tmp_path / "data"
    with served(archives) as server:
        manifest = manifest_for(archives, ann="0" * 32)
        with pytest.raises(
            RunError, match=r"checksum mismatch for annotations_trainval2017.zip"
        ) as err:
            fetch(manifest, data, mirror=server.url)
    message = str(err.value)
    assert "expected 00000000000000000000000000000000" in message
    assert "deleted" in message and "nothing was extracted" in message
    root = data / "coco"
    assert not (root / "val2017").exists() and not (root / "annotations").exists()
    assert not (root / "downloads" / ANN).exists()  # the bad file is gone
    assert (root / "downloads" / VAL).exists()  # the verified one stays for the next run
    assert read_marker(COCO_VAL2017, data) is None


@pytest.mark.parametrize(
    ("bad_member", "symlink", "why"),
    [
        ("val2017/../../evil.jpg", False, r"'\.\.' component"),
        ("../evil.jpg", False, r"'\.\.' component"),
        ("/tmp/evil.jpg", False, "absolute path"),
        ("val2017/link.jpg", True, "symbolic link"),
    ],
)
def test_unsafe_zip_entries_reject_the_archive(archives, tmp_path, bad_member, symlink, why):
    members = {f"val2017/{file_name(i)}": b"x" for i in image_ids(2)}
    if symlink:
        evil = make_zip(members, symlinks=(bad_member,))
    else:
        evil = make_zip({**members, bad_member: b"evil"})
    served_archives = {**archives, VAL: evil}
    data = tmp_path / "deep" / "data"
    with (
        served(served_archives) as server,
        pytest.raises(RunError, match=f"refusing to extract val2017.zip.*{why}"),
    ):
        fetch(manifest_for(served_archives), data, mirror=server.url)
    root = data / "coco"
    assert not (root / "val2017").exists() and not (root / "annotations").exists()
    assert not list(tmp_path.rglob("evil.jpg"))
    assert read_marker(COCO_VAL2017, data) is None


def test_unsafe_reason_unit():
    assert unsafe_reason(zipfile.ZipInfo("val2017/1.jpg")) is None
    assert unsafe_reason(zipfile.ZipInfo("a\\..\\..\\b")) is not None
    assert "absolute" in unsafe_reason(zipfile.ZipInfo("C:/x.jpg"))


def test_missing_wanted_member_and_not_a_zip(archives, tmp_path):
    wrong = {**archives, ANN: make_zip({"annotations/other.json": b"{}"})}
    with (
        served(wrong) as server,
        pytest.raises(RunError, match=r"no entry matching 'annotations/captions_val2017.json'"),
    ):
        fetch(manifest_for(wrong), tmp_path / "a", mirror=server.url)
    junk = {**archives, VAL: b"this is not a zip"}
    with (
        served(junk) as server,
        pytest.raises(RunError, match=r"val2017.zip is not a readable zip"),
    ):
        fetch(manifest_for(junk), tmp_path / "b", mirror=server.url)


def test_unreachable_host_fails_fast(archives, tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(RunError, match=r"cannot reach 127\.0\.0\.1 .*--mirror") as err:
        fetch(manifest_for(archives), tmp_path, mirror=f"http://127.0.0.1:{closed_port()}/")
    assert time.perf_counter() - t0 < 5
    assert "val2017.zip and annotations_trainval2017.zip" in str(err.value)


def test_http_errors_and_wrong_sizes(archives, tmp_path):
    with RangeServer({}) as server, pytest.raises(RunError, match="HTTP 404"):
        fetch(manifest_for(archives), tmp_path, mirror=server.url)
    wrong = manifest_for(archives)
    wrong = dataclasses.replace(
        wrong, archives=tuple(dataclasses.replace(a, size=10**6) for a in wrong.archives)
    )
    with (
        served(archives) as server,
        pytest.raises(RunError, match="expected 1000000; is this the right file"),
    ):
        fetch(wrong, tmp_path / "real", mirror=server.url)


def test_download_416_means_the_part_is_whole(tmp_path):
    body = b"0123456789" * 10
    with RangeServer({"/f": body}) as server:
        dest = tmp_path / "f"
        dest.with_name("f.part").write_bytes(body)
        assert download(server.url + "f", dest) == 0  # size unknown: asks, gets 416
        assert dest.read_bytes() == body and server.log == [("/f", "bytes=100-")]


def test_local_folder_mirror(archives, tmp_path):
    folder = tmp_path / "mirror"
    (folder / "zips").mkdir(parents=True)
    (folder / "zips" / VAL).write_bytes(archives[VAL])
    (folder / ANN).write_bytes(archives[ANN])  # flat layout works too
    data = tmp_path / "data"
    fetch(manifest_for(archives), data, mirror=str(folder))
    _assert_complete(data)
    assert (folder / ANN).exists()  # a local mirror's files are never deleted
    with pytest.raises(BadInputError, match="not an http"):
        fetch(manifest_for(archives), tmp_path / "x", mirror=str(tmp_path / "nope"))
    with pytest.raises(BadInputError, match=r"use an http\(s\):// URL"):
        fetch(manifest_for(archives), tmp_path / "x", mirror="ftp://example.invalid/")
