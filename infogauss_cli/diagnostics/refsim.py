"""Simulated references: the columns of a view's reference at (n, d) through the diagnostics'
own tests, summarised, and kept on disk (one checksummed ``.npz`` per key;
an unreadable, stale or mismatched entry warns once, is removed and is simulated again)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.diagnostics.columns import ColumnTests, column_tests
from infogauss_cli.diagnostics.normality import AD_CRITICAL_5PCT, DP_ALPHA, table_row

REFERENCE_SEED = 20261129
REFERENCE_FORMAT = 1  # bump when the simulation changes: old cache entries are then ignored
_BUDGET = 24_000_000  # simulated values per reference (columns x n)
_MIN_COLUMNS, _MAX_COLUMNS = 600, 20_000
_BATCH = 1 << 23  # values per simulated batch (32 MB of float32)
ALT_DF = 10  # the relevant departure: Student t with 10 degrees of freedom
ALT_SHARE = 4  # it is simulated on 1/4 of the columns

_STORE: DiskReferenceStore | None = None


def set_store(store: DiskReferenceStore | None) -> DiskReferenceStore | None:
    """Use ``store`` for simulated references (None: memory only); returns the previous one."""
    global _STORE
    old, _STORE = _STORE, store
    return old


def default_columns(n: int) -> int:
    """Simulated columns for a reference at n rows: a budget of values, within bounds."""
    return int(np.clip(_BUDGET // max(n, 1), _MIN_COLUMNS, _MAX_COLUMNS))


def simulate(
    n: int, d: int, view: str, columns: int, seed: int = REFERENCE_SEED, alt: bool = True
) -> dict:
    """Per-column ``a2``, ``p``, ``w1`` of ``columns`` reference columns of n rows (l2: also of
    the Gaussian controls, ``*_g``), and ``a2_alt``, ``p_alt`` of t10 columns on a quarter."""
    rng = np.random.default_rng([seed, n, d if view == "l2" else 0, 1 if view == "l2" else 0])
    per = max(1, _BATCH // n)
    out: dict[str, list[np.ndarray]] = defaultdict(list)

    def keep(res: ColumnTests, suffix: str, w1: bool = True) -> None:
        out["a2" + suffix].append(res.a2star)
        out["p" + suffix].append(res.pvalue)
        if w1:
            out["w1" + suffix].append(res.w1)

    done = 0
    while done < columns:
        m = min(per, columns - done)
        if alt and done < columns // ALT_SHARE:  # the relevant departure, for the power statement
            t = rng.standard_t(ALT_DF, (n, min(m, columns // ALT_SHARE - done)))
            keep(column_tests(t), "_alt", w1=False)
        g = rng.standard_normal((n, m), dtype=np.float32)
        if view == "l2":
            k = max(int(d), 1) - 1
            x = 2.0 * rng.standard_gamma(k / 2.0, (n, m), dtype=np.float32) if k else 0.0
            # d = 1: the sphere is {-1, 1} (a draw of exactly 0 has no sign to divide out)
            u = g / np.sqrt(g * g + x) if k else np.where(g < 0, -1.0, 1.0).astype(np.float32)
            keep(column_tests(g), "_g")
            del x
            g = u
        keep(column_tests(g), "")
        done += m
    return {k: np.concatenate(v) for k, v in out.items()}


def _key(n: int, d: int, view: str, seed: int, columns: int) -> str:
    dd = d if view == "l2" else 0  # the raw reference does not depend on d
    return f"v{REFERENCE_FORMAT}-{view}-n{n}-d{dd}-s{seed}-m{columns}"


def simulated(n: int, d: int, view: str, seed: int = REFERENCE_SEED, columns: int | None = None):
    """:func:`simulate`, kept in the store set by :func:`set_store`."""
    columns = columns or default_columns(n)
    key = _key(n, d, view, seed, columns)
    hit = _STORE.get(key) if _STORE is not None else None
    if hit is not None and not _valid(hit, view, columns):
        msg = f"cached reference {key} has wrong arrays: not used, recomputed"
        warnings.warn(msg, stacklevel=2)
        hit = None
    if hit is None:
        hit = simulate(n, d, view, columns, seed)
        if _STORE is not None:
            _STORE.put(key, hit)
    return hit


def _valid(arrays: dict[str, np.ndarray], view: str, columns: int) -> bool:
    """The arrays a simulation of ``columns`` columns gives, with values in their ranges."""
    shapes = dict.fromkeys(("a2", "p", "w1") + (("a2_g", "p_g") if view == "l2" else ()), columns)
    shapes |= dict.fromkeys(("a2_alt", "p_alt"), columns // ALT_SHARE)
    if any(np.shape(arrays.get(k)) != (size,) for k, size in shapes.items()):
        return False
    bad = (np.any(arrays[k] < 0) or (k[0] == "p" and np.any(arrays[k] > 1)) for k in shapes)
    return not any(bad)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)] if x.dtype.kind == "f" else x
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def summarise(sim: dict[str, np.ndarray], n: int, view: str) -> dict[str, float]:
    """The :data:`~.reference.FIELDS` of a reference from its simulated columns."""
    t = table_row(n)
    fields: dict[str, float] = {
        "ad_sd": float(np.std(sim["a2"], ddof=1)),
        "dp_sd": float(np.std(sim["p"], ddof=1)),
        "effect": float(np.mean(sim["w1"])),
        "effect_sd": float(np.std(sim["w1"], ddof=1)),
    }
    if "a2_alt" in sim:
        fields["alt_ad_rate"] = float(np.mean(sim["a2_alt"] < AD_CRITICAL_5PCT))
        fields["alt_dp_rate"] = float(np.mean(sim["p_alt"] > DP_ALPHA))
    if view == "raw":
        keys = ("ad_rate", "ad_rate_se", "dp_rate", "dp_rate_se", "ad_mean", "dp_mean_p")
        return fields | {k: t[k] for k in (*keys, "ad_sd", "dp_sd")}
    # control variate: the Gaussian columns' rates are known precisely from the table
    for which, own, ctl in (
        ("ad", sim["a2"] < AD_CRITICAL_5PCT, sim["a2_g"] < AD_CRITICAL_5PCT),
        ("dp", sim["p"] > DP_ALPHA, sim["p_g"] > DP_ALPHA),
    ):
        diff, se = _mean_se(own.astype(np.float64) - ctl)
        fields[f"{which}_rate"] = min(max(t[f"{which}_rate"] + diff, 0.0), 1.0)
        fields[f"{which}_rate_se"] = math.hypot(se, t[f"{which}_rate_se"])
    fields["ad_mean"] = t["ad_mean"] + _mean_se(sim["a2"] - sim["a2_g"])[0]
    fields["dp_mean_p"] = t["dp_mean_p"] + _mean_se(sim["p"] - sim["p_g"])[0]
    return fields


STORE_FORMAT = 2  # 1: no format nor checksum in the entry
_WARNED: set[str] = set()


class ReferenceCacheWarning(UserWarning):
    """A cached reference was not used (unreadable, stale or not what was written)."""


def checksum(key: str, arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the key and every array's name, dtype, shape and bytes (sorted by name)."""
    h = hashlib.sha256(key.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class DiskReferenceStore:
    """``get``/``put`` of named arrays under one folder (default: ``$INFOGAUSS_REFERENCES``, else
    ``$INFOGAUSS_CACHE/references``, else the user cache's); never raises on a bad entry."""

    def __init__(self, path: str | Path | None = None) -> None:
        env, cache = os.environ.get("INFOGAUSS_REFERENCES"), os.environ.get("INFOGAUSS_CACHE")
        if path is None and (env or cache):
            path = Path(env).expanduser() if env else Path(cache).expanduser() / "references"
        elif path is None:
            import platformdirs

            path = Path(platformdirs.user_cache_dir("infogauss")) / "references"
        self.path = Path(path)

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays put under ``key``, or None: a bad entry warns once and is removed."""
        f = self.path / f"{key}.npz"
        if not f.is_file():
            return None
        try:
            with np.load(f, allow_pickle=False) as z:
                arrays = {k: np.array(z[k]) for k in z.files}
        except Exception:  # corrupt or truncated
            why = "unreadable (truncated or corrupt)"
        else:
            fmt, sha = arrays.pop("__format__", None), str(arrays.pop("__sha256__", ""))
            if fmt is None or fmt.shape != () or int(fmt) != STORE_FORMAT:
                why = f"of another format ({fmt}, expected {STORE_FORMAT})"
            elif sha != checksum(key, arrays):
                why = "not what was written (checksum mismatch)"
            else:
                return arrays
        if str(f) not in _WARNED:
            _WARNED.add(str(f))
            msg = f"cached reference {f} is {why}: not used, recomputed"
            warnings.warn(msg, ReferenceCacheWarning, stacklevel=2)
        with contextlib.suppress(OSError):  # a read-only folder: left there, never used
            f.unlink(missing_ok=True)
        return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        buf = io.BytesIO()
        meta = {"__format__": np.array(STORE_FORMAT), "__sha256__": np.array(checksum(key, arrays))}
        np.savez(buf, **arrays, **meta)
        with contextlib.suppress(OSError):  # read-only or full disk: used, just not kept
            atomic_write_bytes(self.path / f"{key}.npz", buf.getvalue(), parents=True)


def use_disk_store() -> None:
    """Keep simulated references on disk in the default folder, once per process."""
    if _STORE is None:
        set_store(DiskReferenceStore())
