"""A control character in a file or folder name never reaches the terminal raw: not through a
library warning that quotes it (matplotlib's missing glyph), not through ``data info``."""

from __future__ import annotations

import os

import numpy as np

from tests.support.cli import relu, run_cli

ESC_NAME = "e\x1b[31mred"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg", **extra}


def test_plots_of_a_file_with_an_escape_in_its_name_say_nothing_raw(tmp_path):
    path = tmp_path / f"{ESC_NAME}.npy"
    np.save(path, relu(200, 16))
    proc = run_cli("check", path, "--quiet", "--plots", tmp_path / "plots", env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout
    assert "Glyph" not in proc.stderr  # a library's warning, not shown without --debug


def test_debug_shows_library_warnings_escaped(tmp_path):
    path = tmp_path / f"{ESC_NAME}.npy"
    np.save(path, relu(200, 16))
    args = ("--debug", "check", path, "--quiet", "--plots", tmp_path / "plots")
    proc = run_cli(*args, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr and "\\x1b" in proc.stderr


def test_data_info_escapes_the_folder(tmp_path):
    folder = tmp_path / f"{ESC_NAME}[bold]x"
    folder.mkdir()
    proc = run_cli("data", "info", "--dir", folder, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    assert "e\\x1b[31mred[bold]x" in proc.stdout  # markup shown as typed
