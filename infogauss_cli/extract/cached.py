"""Reruns served from the cache without building the model (nor importing torch).

A **recipe** is a second key, known before any model is built: the zoo entry as written, the
sha256 of its weights' bytes, library versions, infogauss's version and cache format, tower,
data (fingerprint and ids), precision, device type, chunk size and decode mode. A run that
builds a model remembers which entry its recipe made (``CACHE_DIR/.recipes/``); a later run
with the same recipe reads that entry's chunks. A seeded subset (``--n``) is first gathered
from the entry of the whole data. Hub weights, plugin backends, streams and several processes
take the ordinary path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli import __version__
from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.extract.job import Job, chunk_items_for, chunk_size_of, read_cached
from infogauss_cli.extract.plan import Plan, make_plan, subset_indices
from infogauss_cli.extract.result import Extraction, assemble, raise_if_skipped
from infogauss_cli.extract.runner import device_without_torch, resolve_device, resolve_precision
from infogauss_cli.extract.store import (
    CACHE_FORMAT,
    CacheEntry,
    Chunk,
    EmbeddingCache,
    ids_digest,
    sha256_hex,
)
from infogauss_cli.models.digest import content_digest

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from infogauss_cli.core.options import Compute, Request
    from infogauss_cli.data.sources.base import Item, Source
    from infogauss_cli.extract.options import EngineOptions
    from infogauss_cli.models.registry import Encoder
    from infogauss_cli.models.zoo_schema import ZooEntry

RECIPES = ".recipes"  # in the cache folder: recipe -> the entry it made
BUILTIN_BACKENDS = ("timm", "open_clip", "transformers", "sentence-transformers")
LIBRARIES = (
    "torch", "torchvision", "timm", "open_clip_torch", "transformers", "tokenizers",
    "sentence-transformers", "safetensors", "pillow", "simplejpeg",
)  # fmt: skip


def installed_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Installed versions of ``names`` (None when absent), read from package metadata."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def weights_recipe(entry: ZooEntry) -> str | None:
    """The weights part of a recipe: ``random:SEED``, or the sha256 of the local or packaged
    weights; None for hub weights or weights that cannot be found (the ordinary path names the
    problem)."""
    from infogauss_cli.models.weights import weights_location  # the zoo (pydantic) only when asked

    try:
        loc = weights_location(entry)
    except BadInputError:
        return None
    if loc.kind == "random":
        return f"random:{entry.init_seed}"
    if loc.kind in ("local", "package") and loc.path is not None:
        return f"sha256:{content_digest(loc.path)}"
    return None


@dataclass(frozen=True)
class RecipeBase:
    """What a recipe holds beside the data: the model and how it is run."""

    parts: dict[str, Any]

    def key(self, data: str, ids: Sequence[str]) -> str:
        """The recipe of these items (``data``: the data part of the cache key)."""
        parts = {**self.parts, "data": data, "n_items": len(ids), "ids": ids_digest(ids)}
        return sha256_hex(json.dumps(parts, sort_keys=True, default=str).encode())


def recipe_base(entry: ZooEntry, tower: str, compute: Compute, device: str) -> RecipeBase | None:
    """The model part of a recipe, or None where it cannot be known without building the
    model (hub weights, plugin backends)."""
    if getattr(entry, "backend", None) not in BUILTIN_BACKENDS:
        return None
    weights = weights_recipe(entry)
    if weights is None:
        return None
    chunk = chunk_size_of(chunk_items_for(None, tower))
    parts = {
        "recipe": 1,
        "format": CACHE_FORMAT,
        "infogauss": __version__,
        "ref": entry.ref,
        "entry": entry.model_dump(mode="json"),
        "weights": weights,
        "libraries": installed_versions(LIBRARIES),
        "tower": tower,
        "precision": resolve_precision(compute.precision, device),
        "device_type": "cuda" if device.startswith("cuda") else "cpu",
        "chunk_size": chunk,
        "decode": compute.decode if tower == "image" else None,
    }
    return RecipeBase(parts)


def recipe_path(cache: EmbeddingCache, recipe: str) -> Path:
    return cache.root / RECIPES / f"{recipe[:40]}.json"


def remember(cache: EmbeddingCache, recipe: str, entry_path: str | Path) -> None:
    """Remember that ``recipe`` made the entry in ``entry_path`` (read-only cache: not)."""
    entry = CacheEntry.from_folder(Path(entry_path))
    if entry is None:
        return
    data = json.dumps({"recipe": recipe, "entry": entry.path.name, "key": entry.key})
    with contextlib.suppress(OSError):
        atomic_write_bytes(recipe_path(cache, recipe), data.encode(), parents=True)


def recall(cache: EmbeddingCache, recipe: str) -> CacheEntry | None:
    """The entry ``recipe`` made, if remembered and still there with the same key."""
    try:
        info = json.loads(recipe_path(cache, recipe).read_text())
        name, key = str(info["entry"]), info["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("recipe") != recipe or "/" in name or name.startswith("."):
        return None
    entry = CacheEntry.from_folder(cache.root / name)
    return entry if entry is not None and entry.key == key else None


def data_fingerprint(data: str) -> str:
    """The report's ``data_fingerprint``: sha256 of the data part of the cache key (the
    source's own sha256 over its item ids and contents or file sizes and mtimes, plus the
    subset drawn by ``--n``/``--seed``)."""
    return hashlib.sha256(f"infogauss.data/v1\n{data}".encode()).hexdigest()


def subset_data(fingerprint: str, n: int | None, seed: int) -> str:
    """The data part of the cache key of a seeded subset."""
    return f"{fingerprint}:subset:{n}:{seed}"


def gather(
    plan: Plan, done: dict[int, Chunk], pick: Sequence[int]
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """The rows of items ``pick`` (positions in ``plan``, sorted) from their chunks: (rows,
    kept ids, skipped (id, reason))."""
    import numpy as np

    by_chunk: dict[int, list[int]] = {}
    for i in pick:
        by_chunk.setdefault(plan.chunk_of(i), []).append(i)
    parts, kept, skipped = [], [], []
    for c, wanted in sorted(by_chunk.items()):
        chunk = done[c]
        gone = {off: reason for off, _, reason in chunk.skipped}
        rows = [o for o in range(chunk.stop - chunk.start) if o not in gone]
        row_of = {o: r for r, o in enumerate(rows)}
        take = [row_of[i - chunk.start] for i in wanted if i - chunk.start in row_of]
        parts.append(chunk.embeddings[take])
        kept += [plan.ids[i] for i in wanted if i - chunk.start in row_of]
        skipped += [(plan.ids[i], gone[i - chunk.start]) for i in wanted if i - chunk.start in gone]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32), kept, skipped


def read_entry(
    entry: CacheEntry, ids: Sequence[str], pick: Sequence[int] | None, notes: list[str]
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]] | None:
    """The matrix of items ``pick`` (None: all) of ``entry``, or None unless every chunk it
    needs is there and verifies (a corrupt one is noted and left to the ordinary path)."""
    plan = Plan(tuple(ids), 1, int(entry.parts.get("chunk_size", 0)) or 1)
    if entry.parts.get("n_items") != plan.n or not isinstance(entry.parts.get("dim"), int):
        return None
    needed = range(plan.n_chunks) if pick is None else sorted({plan.chunk_of(i) for i in pick})
    done = read_cached(entry, plan, entry.parts["dim"], notes.append, needed)
    if len(done) < len(needed):
        return None
    entry.touch()
    if pick is None:
        return assemble(plan, done, notes.append, entry.path)
    if not pick:
        return None
    return gather(plan, done, pick)


def subset_of_full_entry(
    encoder: Encoder,
    items: Sequence[Item],
    pick: Sequence[int],
    fingerprint: str,
    options: EngineOptions,
    cache: EmbeddingCache,
) -> tuple[tuple[np.ndarray, list[str], list[tuple[str, str]]], CacheEntry] | None:
    """With the model built (any weights, hub ones too): the rows of the subset ``pick`` of
    ``items`` gathered from the entry of all ``items`` (``fingerprint``: the whole data's),
    and that entry; None unless every chunk holding a chosen item is there."""
    job = Job(encoder, options, cache)
    device, precision, batch_size, chunk_items = job.settings()
    plan = make_plan([it.id for it in items], batch_size, chunk_items)
    size = chunk_size_of(chunk_items)
    entry = job.cache_entry(plan, fingerprint, precision, device, size)
    if not entry.meta_path.exists():
        return None
    got = read_entry(entry, plan.ids, pick, job.notes)
    return (got, entry) if got is not None else None


@dataclass(frozen=True)
class Where:
    """Which extraction a cached matrix is: model, tower, device, precision, cache folder, the
    weights identity and the data part of the key."""

    model_id: str
    tower: str
    device: str
    precision: str
    cache_path: str
    weights: str | None
    data: str


def as_extraction(
    got: tuple[np.ndarray, list[str], list[tuple[str, str]]],
    where: Where,
    t0: float,
    strict: bool,
    notes: Sequence[str] = (),
) -> Extraction:
    """The :class:`Extraction` of a matrix read from the cache (``got``: rows, kept ids,
    skipped) since ``t0``; ``strict``: skipped items are an error."""
    emb, kept, skipped = got
    if strict:
        raise_if_skipped(skipped)
    elapsed = time.perf_counter() - t0
    rate = (len(kept) + len(skipped)) / elapsed if elapsed > 0 else float("inf")
    return Extraction(
        emb, tuple(kept), tuple(skipped), where.model_id, where.tower, where.device,
        where.precision, 0, 0, elapsed, rate, 1.0, where.cache_path, tuple(notes),
        where.weights or None, data_fingerprint(where.data),
    )  # fmt: skip


def cached_extraction(
    entry: ZooEntry, source: Source, tower: str, request: Request, cache: EmbeddingCache
) -> Extraction | None:
    """The extraction of ``entry``'s ``tower`` on ``source`` read from the cache without
    building the model, or None when it is not all there."""
    t0 = time.perf_counter()
    protocol, compute = request.protocol, request.compute
    device = device_without_torch(compute.device) or resolve_device(compute.device)
    base = recipe_base(entry, tower, compute, device)
    items = source.items(tower)
    if base is None or not isinstance(items, Sequence) or not items:
        return None
    ids = [it.id for it in items]
    fingerprint = source.fingerprint(tower)
    pick = subset_indices(len(ids), protocol.n, protocol.seed)
    data = fingerprint if pick is None else subset_data(fingerprint, protocol.n, protocol.seed)
    tries: list[tuple[str, list[str], list[int] | None]] = [(fingerprint, ids, pick)]
    if pick is not None:
        tries.append((data, [ids[i] for i in pick], None))
    notes: list[str] = []
    for key_data, key_ids, key_pick in tries:
        found = recall(cache, base.key(key_data, key_ids))
        got = read_entry(found, key_ids, key_pick, notes) if found is not None else None
        if found is None or got is None:
            continue
        weights = found.parts.get("encoder", {}).get("weights")
        precision = str(base.parts["precision"])
        where = Where(entry.ref, tower, device, precision, str(found.path), weights, data)
        return as_extraction(got, where, t0, request.data.strict, notes)
    return None


ABOUT = "about.json"  # in an entry folder: what ``cache list`` shows of it (not in the key)


def describe(entry_path: str | Path, about: dict[str, object]) -> None:
    """Record an entry's data source and subset in words (a read-only cache is left alone)."""
    path, data = Path(entry_path) / ABOUT, json.dumps(about, sort_keys=True).encode()
    with contextlib.suppress(OSError):
        if not path.exists() or path.read_bytes() != data:
            atomic_write_bytes(path, data)
