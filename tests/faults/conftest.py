"""Fixtures of the fault suite: tiny tmpfs mounts (read-only, or nearly full) where allowed."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import gaussian


def _mount(path: Path, options: str) -> str | None:
    """Mount a tmpfs at ``path``; None if done, else why not (not root, no mount)."""
    if os.name != "posix" or os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if proc.returncode == 0 else f"mount failed: {proc.stderr.strip()}"


@pytest.fixture
def tmpfs(tmp_path):
    """``make(options)`` -> a fresh tmpfs folder with those mount options (e.g. ``ro``,
    ``size=2m``); skipped with the reason where mounting is not allowed. Unmounted after."""
    mounted: list[Path] = []

    def make(options: str) -> Path:
        where = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
        why = _mount(where, options)
        if why is not None:
            pytest.skip(f"no tmpfs: {why}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@pytest.fixture
def readonly_dir(tmpfs):
    return tmpfs("ro,size=64k")


@pytest.fixture
def matrix(tmp_path):
    """A 200 x 16 Gaussian matrix in ``g.npy``."""
    path = tmp_path / "g.npy"
    np.save(path, gaussian(200, 16))
    return path


@pytest.fixture(scope="module")
def imgs(tmp_path_factory):
    """A folder of six small images."""
    from tests.support.encoders import write_images

    folder = tmp_path_factory.mktemp("imgs")
    write_images(folder, 6)
    return folder
