"""Every format `infogauss check` reads, and every way a file can be wrong."""

from __future__ import annotations

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.readers import read_matrix

X = np.arange(60, dtype=np.float32).reshape(20, 3) / 7.0


def test_npy(tmp_path):
    np.save(tmp_path / "a.npy", X)
    np.testing.assert_array_equal(read_matrix(tmp_path / "a.npy"), X)


def test_npz_single_and_key(tmp_path):
    np.savez(tmp_path / "one.npz", emb=X)
    np.testing.assert_array_equal(read_matrix(tmp_path / "one.npz"), X)
    np.savez(tmp_path / "two.npz", a=X, b=2 * X)
    np.testing.assert_array_equal(read_matrix(tmp_path / "two.npz", key="b"), 2 * X)
    with pytest.raises(BadInputError, match=r"several arrays.*--key: a, b"):
        read_matrix(tmp_path / "two.npz")
    with pytest.raises(BadInputError, match="no key 'c'; keys: a, b"):
        read_matrix(tmp_path / "two.npz", key="c")


def test_safetensors_including_bf16(tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file(
        {"emb": torch.from_numpy(X), "half": torch.from_numpy(X).bfloat16()},
        str(tmp_path / "e.safetensors"),
    )
    np.testing.assert_array_equal(read_matrix(tmp_path / "e.safetensors", key="emb"), X)
    half = read_matrix(tmp_path / "e.safetensors", key="half")
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, X, rtol=1e-2)


def test_torch_tensor_and_dict(tmp_path):
    import torch

    torch.save(torch.from_numpy(X), tmp_path / "t.pt")
    np.testing.assert_array_equal(read_matrix(tmp_path / "t.pt"), X)
    torch.save({"image": torch.from_numpy(X), "step": 3}, tmp_path / "d.pth")
    np.testing.assert_array_equal(read_matrix(tmp_path / "d.pth"), X)  # the only tensor
    np.testing.assert_array_equal(read_matrix(tmp_path / "d.pth", key="image"), X)


def test_torch_refuses_arbitrary_pickles(tmp_path):
    import argparse

    import torch

    torch.save(argparse.Namespace(payload=1), tmp_path / "evil.pt")
    with pytest.raises(BadInputError, match="weights_only"):
        read_matrix(tmp_path / "evil.pt")


def test_csv_with_and_without_header_and_tsv(tmp_path):
    np.savetxt(tmp_path / "a.csv", X, delimiter=",")
    np.testing.assert_allclose(read_matrix(tmp_path / "a.csv"), X, rtol=1e-6)
    np.savetxt(tmp_path / "h.csv", X, delimiter=",", header="x,y,z", comments="")
    np.testing.assert_allclose(read_matrix(tmp_path / "h.csv"), X, rtol=1e-6)
    np.savetxt(tmp_path / "a.tsv", X, delimiter="\t")
    np.testing.assert_allclose(read_matrix(tmp_path / "a.tsv"), X, rtol=1e-6)


def test_non_numeric_csv(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,hello\n")
    with pytest.raises(BadInputError, match=r"not a numeric table.*hello"):
        read_matrix(tmp_path / "bad.csv")


def test_parquet_columns_and_list_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({f"c{i}": X[:, i] for i in range(3)}), tmp_path / "cols.parquet")
    np.testing.assert_allclose(read_matrix(tmp_path / "cols.parquet"), X)
    pq.write_table(pa.table({"embedding": [list(r) for r in X]}), tmp_path / "list.parquet")
    np.testing.assert_allclose(read_matrix(tmp_path / "list.parquet"), X, rtol=1e-6)
    pq.write_table(pa.table({"text": ["a"] * 20, "v": X[:, 0]}), tmp_path / "mixed.parquet")
    with pytest.raises(BadInputError, match="non-numeric columns: text"):
        read_matrix(tmp_path / "mixed.parquet")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.txt", b"1 2 3", "unsupported file type '.txt'"),
        ("missing.npy", None, "file not found"),
        ("empty.npy", b"", "is empty"),
        ("garbage.npy", b"not numpy at all", "cannot read"),
        ("garbage.safetensors", b"\x00\x01garbage", "cannot read"),
        ("garbage.pt", b"garbage", "cannot read|weights_only"),
    ],
)
def test_bad_files(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(BadInputError, match=message):
        read_matrix(tmp_path / name)


def test_key_on_single_array_format(tmp_path):
    np.save(tmp_path / "a.npy", X)
    with pytest.raises(BadInputError, match="--key does not apply"):
        read_matrix(tmp_path / "a.npy", key="x")
