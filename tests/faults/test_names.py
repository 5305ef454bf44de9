"""Hostile file names: a newline cannot forge a second ``error:`` line, undecodable bytes of a
non-UTF-8 name are shown escaped on the terminal and in --markdown."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from infogauss_cli.core.safe_text import printable, printable_lines
from tests.support.cli import gaussian, run_cli


def test_a_newline_in_a_name_cannot_forge_an_error_line(tmp_path):
    path = tmp_path / "x\nerror: forged.npy"
    path.write_bytes(b"junk" * 10)
    r = run_cli("check", path, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "x\\nerror: forged.npy" in lines[0], r.stderr


def test_printable_lines_keeps_only_indented_continuations():
    text = "invalid zoo z.yaml: 1 error\n  models[0].dim: field required\nerror: forged"
    assert printable_lines(text) == (
        "invalid zoo z.yaml: 1 error\n  models[0].dim: field required\\nerror: forged"
    )


@pytest.mark.skipif(sys.platform != "linux", reason="a non-UTF-8 file name needs Linux")
def test_non_utf8_name_in_the_terminal_and_markdown(tmp_path):
    folder = os.fsencode(tmp_path)
    name = os.path.join(folder, b"caf\xe9.npy")
    with open(name, "wb") as fh:
        np.save(fh, gaussian(200, 16))
    md = tmp_path / "r.md"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = run_cli("check", os.fsdecode(name), "--markdown", md, env=env)
    assert r.returncode in (0, 1), r.stderr
    assert "caf\\udce9.npy" in r.stdout and "unexpected" not in r.stderr
    assert "caf\\udce9.npy" in md.read_text(encoding="utf-8")


def test_surrogates_are_escaped():
    assert printable(os.fsdecode(b"a\xff")) == "a\\udcff"
