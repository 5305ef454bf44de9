"""Outputs: checked before any work, one I/O error type, results kept when the end fails."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import pytest

from infogauss_cli.core.errors import IOFailure, io_failure
from infogauss_cli.core.preflight import check_file_target, check_folder_target, preflight_outputs
from infogauss_cli.extract.plan import EngineOptions
from tests.support.cli import invoke
from tests.support.embeddings import load_embeddings
from tests.support.faults import _extract, one_error_line


@pytest.mark.parametrize(
    ("code", "problem", "exit_code"),
    [
        (errno.EROFS, "read-only", 2),
        (errno.EACCES, "permission denied", 2),
        (errno.EISDIR, "folder", 2),
        (errno.ENOSPC, "no space", 3),
        (errno.EIO, "", 3),
    ],
)
def test_io_failure_names_path_operation_fix(code, problem, exit_code):
    failure = io_failure(OSError(code, "x"), "/some/path", "write --json")
    assert failure.exit_code == exit_code
    text = str(failure)
    assert text.startswith("cannot write --json /some/path: ") and problem in text
    assert ";" in text  # the fix follows


def test_machine_paths_exit_3_even_when_fixable():
    assert io_failure(OSError(errno.EROFS, "x"), "/c", user_path=False).exit_code == 3


# ---- preflight ---------------------------------------------------------------------------------
def test_folder_where_a_file_is_meant_and_the_reverse(tmp_path, matrix):
    with pytest.raises(IOFailure, match=r"is a folder, not a file.*report\.json") as info:
        check_file_target(tmp_path, "--json")
    assert info.value.exit_code == 2
    with pytest.raises(IOFailure, match="is a file, not a folder"):
        check_folder_target(matrix, "--plots")
    with pytest.raises(IOFailure, match="is a file, not a folder"):
        check_file_target(matrix / "x.json", "--json")  # a file in the way of a folder


def test_missing_folders_are_fine_and_not_created(tmp_path):
    target = tmp_path / "a" / "b" / "r.json"
    assert check_file_target(target, "--json") == target
    assert not (tmp_path / "a").exists()
    preflight_outputs(files=[("--json", "-")])  # stdout: nothing to check


def test_a_device_is_a_stream_a_socket_is_refused(tmp_path):
    import socket

    assert check_file_target("/dev/null", "--json") == Path("/dev/null")  # written directly
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s"))
    with pytest.raises(IOFailure, match="not a regular file"):
        check_file_target(tmp_path / "s", "--json")
    sock.close()


def test_readonly_outputs_fail_before_reading(readonly_dir, matrix):
    for option in ("--json", "--markdown", "--html"):
        r = invoke("check", matrix, option, readonly_dir / "sub" / "r.out")
        assert r.exit_code == 2, r.output
        line = one_error_line(r.output)
        assert f"cannot write {option} {readonly_dir}/sub/r.out" in line
        assert "read-only file system" in line and f"pass another {option}" in line
    r = invoke("check", matrix, "--plots", readonly_dir / "plots")
    assert r.exit_code == 2 and "read-only" in one_error_line(r.output)


def test_check_json_to_a_folder(tmp_path, matrix):
    r = invoke("check", matrix, "--json", tmp_path)
    assert r.exit_code == 2
    assert "it is a folder, not a file" in one_error_line(r.output)


def test_extract_readonly_out_fails_before_the_model(fakes, imgs, readonly_dir):
    start = time.monotonic()
    r = _extract(imgs, "--no-cache", "--out", readonly_dir / "x.npy")
    assert r.exit_code == 2, r.output
    assert "cannot write --out" in one_error_line(r.output)
    assert fakes == []  # no model built
    assert time.monotonic() - start < 10


def test_readonly_cache_dir_says_no_cache(fakes, imgs, readonly_dir, tmp_path):
    r = _extract(imgs, "--cache-dir", readonly_dir / "c", "--out", tmp_path / "x.npy")
    assert r.exit_code == 2, r.output
    line = one_error_line(r.output)
    assert "--cache-dir" in line and "--no-cache" in line and fakes == []


def test_nearly_full_disk_fails_first(tmpfs, matrix):
    full = tmpfs("size=64k")
    r = invoke("check", matrix, "--json", full / "r.json")
    assert r.exit_code == 3, r.output
    assert "no space left" in one_error_line(r.output)


# ---- the final write fails: nothing computed is lost ------------------------------------------
@pytest.fixture
def out_disk_full(tmp_path, monkeypatch):
    """Writes into ``tmp_path/out`` fail with ENOSPC; yields (``out/x.npy``, the real writer)."""
    import infogauss_cli.extract.store as store

    real = store.atomic_write_bytes
    out = tmp_path / "out" / "x.npy"

    def fail_on_out(path, data, parents=False):
        if str(path).startswith(str(out.parent)):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data, parents=parents)

    monkeypatch.setattr(store, "atomic_write_bytes", fail_on_out)
    return out, real


def test_extract_no_cache_rescues_the_array(fakes, imgs, tmp_path, monkeypatch, out_disk_full):
    import infogauss_cli.extract.store as store

    out, real = out_disk_full
    cache = tmp_path / "cache"
    r = _extract(imgs, "--no-cache", "--cache-dir", cache, "--out", out)
    assert r.exit_code == 3, r.output
    line = one_error_line(r.output)
    assert f"cannot write --out {out}: no space left" in line
    rescued = cache / "rescued" / "x.npy"
    assert f"written to {rescued} instead" in line
    monkeypatch.setattr(store, "atomic_write_bytes", real)
    saved = load_embeddings(rescued)
    assert saved.embeddings.shape == (6, 96)


def test_extract_with_cache_says_the_cache_has_it(fakes, imgs, tmp_path, out_disk_full):
    out, _ = out_disk_full
    r = _extract(imgs, "--cache-dir", tmp_path / "c", "--out", out)
    assert r.exit_code == 3 and "kept in the cache" in one_error_line(r.output)
    r = _extract(imgs, "--cache-dir", tmp_path / "c", "--out", tmp_path / "y.npy")
    assert r.exit_code == 0 and "100% from cache" in r.output


def test_report_rescued_on_a_real_full_disk(tmpfs, tmp_path, monkeypatch):
    from infogauss_cli.cli.output import keep_on_failure

    full = tmpfs("size=2m")
    monkeypatch.setenv("INFOGAUSS_CACHE", str(tmp_path / "cache"))
    big = b"x" * (3 << 20)

    def write(path):
        from infogauss_cli.core.atomic import atomic_write_bytes

        atomic_write_bytes(path, big, parents=True)

    with pytest.raises(IOFailure) as info:
        keep_on_failure("--html", full / "r.html", write)
    rescued = tmp_path / "cache" / "rescued" / "r.html"
    assert info.value.exit_code == 3 and str(rescued) in str(info.value)
    assert rescued.stat().st_size == len(big)
    assert not list(full.iterdir())  # no half-written file left behind


def test_cache_chunk_write_failure_keeps_what_is_done(imgs, tmp_path, monkeypatch):
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.store import CacheEntry
    from tests.support.encoders import image_items, make_image_encoder

    real = CacheEntry.write_chunk
    calls = []

    def second_fails(self, chunk, ids):
        calls.append(chunk.index)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return real(self, chunk, ids)

    monkeypatch.setattr(CacheEntry, "write_chunk", second_fails)
    opts = EngineOptions(batch_size=2, workers=0, chunk_items=2)
    kw = {}
    with pytest.raises(IOFailure) as info:
        extract(make_image_encoder(), image_items(imgs), opts, cache=tmp_path / "c", **kw)
    text = str(info.value)
    assert info.value.exit_code == 3 and "no space left" in text
    assert "cannot write a cache chunk in" in text and "rerun to resume" in text
    monkeypatch.setattr(CacheEntry, "write_chunk", real)
    again = extract(make_image_encoder(), image_items(imgs), opts, cache=tmp_path / "c", **kw)
    assert again.from_cache == pytest.approx(2 / 6)  # the chunk written before was kept
