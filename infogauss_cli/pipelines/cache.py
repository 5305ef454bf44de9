"""``infogauss cache list | prune | verify`` as objects the CLI prints."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.extract.cached import ABOUT, RECIPES
from infogauss_cli.extract.store import CacheEntry

LEGACY_ASSEMBLED = ".assembled.npy"  # an older version's copy beside the entry folder
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class EntryInfo:
    """One cache entry as ``cache list`` shows it; ``last_used``: epoch seconds."""

    path: Path
    model: str
    tower: str
    data: str
    items: int | None
    chunks: int
    size_bytes: int
    last_used: float

    def age_s(self) -> float:
        return max(0.0, time.time() - self.last_used)


def _data_label(entry: CacheEntry) -> str:
    try:
        about = json.loads((entry.path / ABOUT).read_text())
    except (OSError, ValueError):
        about = None
    source = about.get("source") if isinstance(about, dict) else None
    if not isinstance(source, str):
        return f"sha256:{str(entry.parts.get('data', '?'))[:12]}"
    subset = about.get("subset")
    return f"{source} (--n {subset['n']}, seed {subset['seed']})" if subset else source


def cache_entries(root: str | Path) -> list[CacheEntry]:
    """Every entry of this cache format in ``root``, by folder name."""
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []
    return [e for e in map(CacheEntry.from_folder, folders) if e is not None]


def list_entries(root: str | Path) -> list[EntryInfo]:
    """:func:`cache_entries` as ``cache list`` shows them."""
    infos = []
    for entry in cache_entries(root):
        files = [p for p in entry.path.rglob("*") if p.is_file()]
        legacy = entry.path.with_name(entry.path.name + LEGACY_ASSEMBLED)
        files += [legacy] if legacy.is_file() else []
        items = entry.parts.get("n_items")
        info = EntryInfo(
            path=entry.path,
            model=str(entry.parts.get("model_id", "?")),
            tower=str(entry.parts.get("tower", "?")),
            data=_data_label(entry),
            items=items if isinstance(items, int) else None,
            chunks=len(list(entry.path.glob("chunk-*.json"))),
            size_bytes=sum(p.stat().st_size for p in files),
            last_used=entry.meta_path.stat().st_mtime,
        )
        infos.append(info)
    return infos


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` (or a bare number of days) -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text or "")
    if m is None:
        raise BadInputError(
            f"--older-than {text!r}: expected a number and a unit, e.g. 30d, 12h, 2w"
        )
    return float(m.group(1)) * AGE_UNITS[m.group(2) or "d"]


def remove_entry(root: str | Path, info: EntryInfo) -> None:
    """Delete an entry's folder, an older version's assembled copy and its recipes."""
    shutil.rmtree(info.path, ignore_errors=True)
    info.path.with_name(info.path.name + LEGACY_ASSEMBLED).unlink(missing_ok=True)
    for recipe in (Path(root) / RECIPES).glob("*.json"):
        try:
            target = json.loads(recipe.read_text()).get("entry")
        except (OSError, ValueError, AttributeError):
            continue
        if target == info.path.name:
            recipe.unlink(missing_ok=True)


def verify_entry(entry: CacheEntry) -> list[tuple[Path, str]]:
    """(chunk file, problem) per chunk that fails (key, dim, sha256, dtype, shape)."""
    expected = {"key": entry.key, "dim": entry.parts.get("dim")}
    sides = sorted(entry.path.glob("chunk-*.json"))
    found = [(s, entry.check_chunk(int(s.stem.removeprefix("chunk-")), expected)) for s in sides]
    return [(s.with_suffix(".npy"), why) for s, why in found if isinstance(why, str)]
