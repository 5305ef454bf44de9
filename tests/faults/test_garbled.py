"""Truncated, garbled or empty matrix files: one clear line naming the file, exit 2."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from tests.support.cli import gaussian, invoke
from tests.support.faults import one_error_line


def _npy_bytes(tmp_path) -> bytes:
    path = tmp_path / "full.npy"
    np.save(path, gaussian(200, 16))
    return path.read_bytes()


def _safetensors(path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _check_refused(path, *words: str) -> str:
    r = invoke("check", path)
    assert r.exit_code == 2, r.output
    line = one_error_line(r.output)
    assert path.name in line and all(w in line for w in words), line
    return line


def test_truncated_npy(tmp_path):
    path = tmp_path / "t.npy"
    path.write_bytes(_npy_bytes(tmp_path)[:1000])
    line = _check_refused(path, "the file is truncated")
    assert "mmap" not in line


@pytest.mark.parametrize(
    ("old", "new"), [(b"'shape'", b"'shapX'"), (b"'descr': '<f4', ", b"((((((((((((((((")]
)
def test_garbled_npy_header(tmp_path, old, new):
    raw = _npy_bytes(tmp_path)
    path = tmp_path / "g.npy"
    path.write_bytes(raw[:128].replace(old, new) + raw[128:])
    line = _check_refused(path, "header is damaged")
    assert "EOF in multi-line" not in line and "correct keys" not in line


def test_truncated_safetensors(tmp_path):
    data = gaussian(200, 16).tobytes()
    path = tmp_path / "t.safetensors"
    _safetensors(
        path,
        {"x": {"dtype": "F32", "shape": [200, 16], "data_offsets": [0, len(data)]}},
        data[:500],
    )
    _check_refused(path, "the file is truncated")


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F32", "shape": [30, 16], "data_offsets": [-64, 30 * 16 * 4 - 64]},
        {"dtype": "F32", "data_offsets": [0, 64]},
        ["not", "a", "mapping"],
    ],
)
def test_bad_safetensors_header_entry(tmp_path, entry):
    path = tmp_path / "b.safetensors"
    _safetensors(path, {"x": entry}, gaussian(200, 16).tobytes())
    line = _check_refused(path, "bad shape or byte range")
    assert "'shape'" not in line


def test_csv_with_a_byte_order_mark_keeps_its_first_row(tmp_path):
    path = tmp_path / "bom.csv"
    rows = gaussian(30, 4)
    path.write_text("\n".join(",".join(map(str, r)) for r in rows), encoding="utf-8-sig")
    r = invoke("check", path, "--json", "-")
    assert r.exit_code in (0, 1), r.output
    assert '"n": 30' in r.output


def test_header_only_csv(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a,b,c\n")
    line = _check_refused(path, "no rows of numbers")
    assert "Warning" not in line


def test_empty_and_truncated_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    empty = tmp_path / "e.parquet"
    pq.write_table(pa.table({}), empty)
    assert "concatenate" not in _check_refused(empty, "holds no data")
    full = tmp_path / "f.parquet"
    pq.write_table(pa.table({"a": gaussian(50, 1)[:, 0]}), full)
    cut = tmp_path / "c.parquet"
    cut.write_bytes(full.read_bytes()[:200])
    _check_refused(cut, "not a valid Parquet file")
