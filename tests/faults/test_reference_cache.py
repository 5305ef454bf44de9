"""The reference cache under faults: a cached entry is used only if it is what was written.

Planted, truncated, stale and unreadable entries are never used: one warning, the reference is
simulated again in memory, and a read-only folder never makes a check fail.
"""

from __future__ import annotations

import os
import subprocess
import warnings

import numpy as np
import pytest

from infogauss_cli.diagnostics import refsim
from infogauss_cli.diagnostics.refsim import (
    STORE_FORMAT,
    DiskReferenceStore,
    ReferenceCacheWarning,
    checksum,
    set_store,
    simulate,
    simulated,
)

N, D, VIEW, COLS = 15, 6, "l2", 40  # n < 20: outside the table, so simulated and cached
KEY_GLOB = "*-l2-n15-d6-*.npz"


@pytest.fixture
def store(tmp_path):
    old = set_store(DiskReferenceStore(tmp_path))
    yield tmp_path
    set_store(old)


def _cached(folder) -> tuple[object, dict[str, np.ndarray]]:
    """Fill the cache with the (N, D) reference; its file and the true arrays."""
    arrays = simulated(N, D, VIEW, columns=COLS)
    (entry,) = folder.glob(KEY_GLOB)
    return entry, arrays


def _again(expected: dict[str, np.ndarray]) -> list[warnings.WarningMessage]:
    """Ask for the reference again: it must equal a fresh simulation; the warnings raised."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = simulated(N, D, VIEW, columns=COLS)
    for k, v in expected.items():
        assert np.array_equal(got[k], v, equal_nan=True), k
    return [w for w in seen if "cached reference" in str(w.message)]


def _write(entry, arrays: dict[str, np.ndarray]) -> None:
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)


def test_round_trip_carries_format_and_checksum(store) -> None:
    entry, arrays = _cached(store)
    with np.load(entry) as z:
        assert int(z["__format__"]) == STORE_FORMAT
        assert str(z["__sha256__"]) == checksum(entry.stem, arrays)
    assert _again(arrays) == []  # a good entry is used silently


def test_planted_entry_with_wrong_values_is_not_used(store) -> None:
    entry, arrays = _cached(store)
    with np.load(entry) as z:
        planted = {k: np.array(z[k]) for k in z.files}
    planted["a2"] = np.zeros_like(planted["a2"])  # right shape, wrong values, old checksum
    _write(entry, planted)
    notes = _again(arrays)
    assert len(notes) == 1 and "checksum" in str(notes[0].message)
    assert issubclass(notes[0].category, ReferenceCacheWarning)
    # recomputed and written again: now a good entry
    assert _again(arrays) == []


def test_planted_entry_with_a_valid_checksum_but_impossible_values(store) -> None:
    entry, arrays = _cached(store)
    planted = {k: v.copy() for k, v in arrays.items()}
    planted["p"][:] = 7.0  # p-values above 1, checksum recomputed to match
    _write(entry, planted | _meta(entry.stem, planted))
    notes = _again(arrays)
    assert len(notes) == 1 and "wrong arrays" in str(notes[0].message)


def _meta(key: str, arrays: dict[str, np.ndarray], fmt: int = STORE_FORMAT) -> dict:
    return {"__format__": np.array(fmt), "__sha256__": np.array(checksum(key, arrays))}


def test_truncated_entry(store) -> None:
    entry, arrays = _cached(store)
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    notes = _again(arrays)
    assert len(notes) == 1 and "unreadable" in str(notes[0].message)


@pytest.mark.parametrize("fmt", [None, STORE_FORMAT - 1, STORE_FORMAT + 1])
def test_stale_format(store, fmt) -> None:
    entry, arrays = _cached(store)
    meta = {} if fmt is None else _meta(entry.stem, arrays, fmt)
    _write(entry, arrays | meta)
    notes = _again(arrays)
    assert len(notes) == 1 and "another format" in str(notes[0].message)


def _read_only_folder(tmp_path, tmpfs, fill) -> object:
    """A folder holding what ``fill(folder)`` writes, then made read-only (chmod; a tmpfs
    remounted ``ro`` when running as root, which chmod does not stop)."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        fill(folder)
        folder.chmod(0o555)
        return folder
    folder = tmpfs("size=1m")
    fill(folder)
    r = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot remount read-only: {r.stderr.strip()}")
    return folder


def test_corrupt_entry_in_a_read_only_folder(tmp_path, tmpfs) -> None:
    arrays = simulate(N, D, VIEW, COLS, refsim.REFERENCE_SEED)
    key = refsim._key(N, D, VIEW, refsim.REFERENCE_SEED, COLS)

    def fill(folder) -> None:
        (folder / f"{key}.npz").write_bytes(b"PK\x03\x04 not really a zip")

    folder = _read_only_folder(tmp_path, tmpfs, fill)
    old = set_store(DiskReferenceStore(folder))
    try:
        notes = _again(arrays)  # no exception: recomputed in memory
        assert len(notes) == 1 and "unreadable" in str(notes[0].message)
        assert (folder / f"{key}.npz").exists()  # left where it is
        assert _again(arrays) == []  # one note per entry and process, not one per use
    finally:
        set_store(old)
        if os.geteuid() != 0:
            folder.chmod(0o755)


def test_check_with_a_corrupt_entry_in_a_read_only_cache(tmp_path, tmpfs, monkeypatch) -> None:
    """Through the CLI: d > 8,192 is outside the table, so the l2 reference is simulated and
    looked up in the (read-only, corrupt) cache: one note, exit 0 (it used to exit 2)."""
    from infogauss_cli.diagnostics.refsim import default_columns
    from tests.support.cli import invoke

    n, d = 30, 8200
    key = refsim._key(n, d, "l2", refsim.REFERENCE_SEED, default_columns(n))

    def fill(folder) -> None:
        (folder / f"{key}.npz").write_bytes(b"PK\x03\x04 truncated")

    folder = _read_only_folder(tmp_path, tmpfs, fill)
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(1).standard_normal((n, d)).astype(np.float32))
    monkeypatch.setenv("INFOGAUSS_REFERENCES", str(folder))
    old = set_store(None)
    try:  # the CLI shows warnings itself (escaped), so the note is in its output
        r = invoke("check", data, "--view", "l2")
    finally:
        set_store(old)
        if os.geteuid() != 0:
            folder.chmod(0o755)
    assert r.exit_code == 0, r.output
    assert r.output.count("ReferenceCacheWarning: cached reference") == 1, r.output
    assert "unreadable" in r.output
