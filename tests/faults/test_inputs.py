"""Inputs: special files, garbage arrays, malicious pickles and YAML tags, hostile names,
usage errors; each one line on stderr with exit 2, no traceback, no payload run."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from tests.support.cli import gaussian, invoke
from tests.support.faults import one_error_line


@pytest.fixture
def matrix(tmp_path):
    path = tmp_path / "g.npy"
    np.save(path, gaussian(200, 16))
    return path


# ---- special files and unparsable arrays -------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_fifo_is_named_as_such(tmp_path):
    fifo = tmp_path / "f.npy"
    os.mkfifo(fifo)
    r = invoke("check", fifo)
    assert r.exit_code == 2
    assert "not a regular file (it is a FIFO (named pipe))" in one_error_line(r.output)


@pytest.mark.skipif(not os.path.exists("/dev/urandom"), reason="no /dev/urandom")
def test_dev_urandom_is_a_device_not_an_empty_file(tmp_path):
    link = tmp_path / "u.npy"
    link.symlink_to("/dev/urandom")
    r = invoke("check", link)
    assert r.exit_code == 2
    line = one_error_line(r.output)
    assert "character device" in line and "empty" not in line


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("garbage.npy", lambda p: p.write_bytes(os.urandom(500)), "not a .npy file"),
        (
            "objects.npy",
            lambda p: np.save(p, np.array([{"a": 1}] * 30, dtype=object), allow_pickle=True),
            "Python objects (dtype object)",
        ),
        ("garbage.npz", lambda p: p.write_bytes(b"hello" * 50), "not a .npz file"),
    ],
)
def test_unparsable_arrays(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    r = invoke("check", path)
    assert r.exit_code == 2
    line = one_error_line(r.output)
    assert message in line and "pickled" not in line


def test_ragged_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"e": [[1.0, 2.0], [3.0]] * 20}), path)
    r = invoke("check", path)
    assert r.exit_code == 2
    line = one_error_line(r.output)
    assert "different lengths (1, 2)" in line and "inhomogeneous" not in line


class _Payload:
    """Unpickling this writes a marker file: the proof that code ran."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickle_does_not_run(tmp_path):
    marker = tmp_path / "PWNED"
    _Payload.marker = str(marker)
    for name in ("evil.pt", "evil.pth"):
        path = tmp_path / name
        path.write_bytes(pickle.dumps({"x": _Payload()}))
        r = invoke("check", path)
        assert r.exit_code == 2, r.output
        one_error_line(r.output)
    path = tmp_path / "evil.npy"  # a pickle disguised as .npy
    path.write_bytes(pickle.dumps(_Payload()))
    r = invoke("check", path)
    assert r.exit_code == 2
    assert not marker.exists()


def test_yaml_tags_in_a_zoo_are_refused(tmp_path):
    marker = tmp_path / "PWNED"
    zoo = tmp_path / "zoo.yaml"
    zoo.write_text(f"models:\n  - !!python/object/apply:os.system ['touch {marker}']\n")
    r = invoke("zoo", "validate", zoo)
    assert r.exit_code == 2, r.output
    one_error_line(r.output)
    assert not marker.exists()


def test_legacy_pickle_tensor_gives_no_library_warning(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "legacy.pth"
    torch.save(torch.randn(60, 8), path, _use_new_zipfile_serialization=False)
    r = invoke("check", path, "-q")
    assert r.exit_code in (0, 1), r.output
    assert "Warning" not in r.output


# ---- names reach the terminal and Markdown escaped ---------------------------------------------
def test_markup_in_a_file_name_is_shown_as_typed(tmp_path, matrix):
    path = tmp_path / "[bold red]boom.npy"
    path.write_bytes(matrix.read_bytes())
    r = invoke("check", path)
    assert "[bold red]boom.npy" in r.output


def test_control_characters_are_shown_escaped(tmp_path, matrix):
    name = "x\x1b]0;pwned\x07|<b>y</b>"
    md = tmp_path / "r.md"
    r = invoke("check", matrix, "--name", name, "--markdown", md)
    assert "\x1b" not in r.output and "\x07" not in r.output
    assert "x\\x1b]0;pwned\\x07" in r.output
    text = md.read_text()
    assert "\x1b" not in text and "<b>" not in text
    assert "x\\x1b]0;pwned\\x07\\|&lt;b&gt;y&lt;/b&gt;" in text


def test_control_characters_in_error_messages(tmp_path):
    r = invoke("check", tmp_path / "nope\x1b[31m.npy")
    assert r.exit_code == 2 and "\x1b" not in r.output and "\\x1b[31m" in r.output


def test_safe_text_helpers():
    from infogauss_cli.core.safe_text import markup_safe, md_cell, printable

    assert printable("a\nb\x9b\u202e") == "a\\nb\\x9b\\u202e"
    assert markup_safe("[red]x") == "\\[red]x"
    assert md_cell("a|b<i>&") == "a\\|b&lt;i&gt;&amp;"


# ---- usage errors: one line, exit 2 -------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--require", "foo"], "Invalid value for '--require'"),
        (["--max-drop", "-1"], "Invalid value for '--max-drop'"),
        (["--n", "5"], "Invalid value for '--n'"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_usage_errors_are_one_line(matrix, args, message):
    r = invoke("check", matrix, *args)
    assert r.exit_code == 2
    line = one_error_line(r.output)
    assert message in line and "╭" not in r.output and "--help" in line


def test_missing_argument_is_one_line():
    r = invoke("check")
    assert r.exit_code == 2 and "Missing argument" in one_error_line(r.output)
