"""Reruns served from the cache without building the model (nor importing torch): a **recipe**
(zoo entry, weights sha256, library versions, tower, data, precision, device type, chunk size,
decode) remembers in ``CACHE_DIR/.recipes/`` which entry it made; a seeded subset is gathered."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli import __version__
from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.extract.engine import cache_entry, engine_options, settings
from infogauss_cli.extract.plan import Plan, chunk_size, make_plan, subset_indices
from infogauss_cli.extract.result import Extraction, assemble, raise_if_skipped
from infogauss_cli.extract.runner import device_without_torch, resolve_device, resolve_precision
from infogauss_cli.extract.store import (
    CACHE_FORMAT,
    CacheEntry,
    EmbeddingCache,
    ids_digest,
    sha256_hex,
)
from infogauss_cli.models.digest import content_digest

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from infogauss_cli.core.options import Compute, Request
    from infogauss_cli.data.sources.base import Source
    from infogauss_cli.models.registry import Encoder
    from infogauss_cli.models.zoo_schema import ZooEntry

RECIPES = ".recipes"  # in the cache folder: recipe -> the entry it made
BUILTIN_BACKENDS = ("timm", "open_clip", "transformers", "sentence-transformers")
LIBRARIES = (
    "torch", "torchvision", "timm", "open_clip_torch", "transformers", "tokenizers",
    "sentence-transformers", "safetensors", "pillow", "simplejpeg",
)  # fmt: skip


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def weights_recipe(entry: ZooEntry) -> str | None:
    """``random:SEED``, or the sha256 of local or packaged weights; None for hub weights."""
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


def recipe_key(base: dict[str, object], data: str, ids: Sequence[str]) -> str:
    """The recipe of ``base`` (:func:`recipe_base`) on items ``ids`` of ``data``."""
    parts = {**base, "data": data, "n_items": len(ids), "ids": ids_digest(ids)}
    return sha256_hex(json.dumps(parts, sort_keys=True, default=str).encode())


def recipe_base(
    entry: ZooEntry, tower: str, compute: Compute, device: str
) -> dict[str, object] | None:
    """The model part of a recipe; None for hub weights and plugin backends."""
    weights = weights_recipe(entry) if getattr(entry, "backend", None) in BUILTIN_BACKENDS else None
    if weights is None:
        return None
    return {
        "recipe": 1,
        "format": CACHE_FORMAT,
        "infogauss": __version__,
        "ref": entry.ref,
        "entry": entry.model_dump(mode="json"),
        "weights": weights,
        "libraries": {name: _version(name) for name in LIBRARIES},
        "tower": tower,
        "precision": resolve_precision(compute.precision, device),
        "device_type": "cuda" if device.startswith("cuda") else "cpu",
        "chunk_size": chunk_size(None, tower),
        "decode": compute.decode if tower == "image" else None,
    }


def remember(cache: EmbeddingCache, recipe: str, entry_path: str | Path) -> None:
    entry = CacheEntry.from_folder(Path(entry_path))
    if entry is None:
        return
    data = json.dumps({"recipe": recipe, "entry": entry.path.name, "key": entry.key})
    with contextlib.suppress(OSError):
        path = cache.root / RECIPES / f"{recipe[:40]}.json"
        atomic_write_bytes(path, data.encode(), parents=True)


def recall(cache: EmbeddingCache, recipe: str) -> CacheEntry | None:
    try:
        info = json.loads((cache.root / RECIPES / f"{recipe[:40]}.json").read_text())
        name, key = str(info["entry"]), info["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("recipe") != recipe or "/" in name or name.startswith("."):
        return None
    entry = CacheEntry.from_folder(cache.root / name)
    return entry if entry is not None and entry.key == key else None


def data_fingerprint(data: str) -> str:
    """The report's ``data_fingerprint``: sha256 of the data part of the cache key."""
    return hashlib.sha256(f"infogauss.data/v1\n{data}".encode()).hexdigest()


def subset_data(fingerprint: str, n: int | None, seed: int) -> str:
    return f"{fingerprint}:subset:{n}:{seed}"


def read_entry(
    entry: CacheEntry, ids: Sequence[str], pick: Sequence[int] | None, notes: list[str]
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]] | None:
    """The matrix of items ``pick`` (None: all) of ``entry``; None unless all it needs verifies."""
    plan = Plan(tuple(ids), 1, int(entry.parts.get("chunk_size", 0)) or 1)
    if entry.parts.get("n_items") != plan.n or not isinstance(entry.parts.get("dim"), int):
        return None
    needed = range(plan.n_chunks) if pick is None else sorted({plan.chunk_of(i) for i in pick})
    done = entry.read_chunks(plan, entry.parts["dim"], notes.append, needed)
    if len(done) < len(needed):
        return None
    entry.touch()
    if pick is None:
        return assemble(plan, done, notes.append, entry.path)
    import numpy as np

    chunks = [done[c] for c in needed]
    gone = {ch.start + off: reason for ch in chunks for off, _, reason in ch.skipped}
    rows = [i for ch in chunks for i in range(ch.start, ch.stop) if i not in gone]  # row's item
    row_of = {i: r for r, i in enumerate(rows)}
    emb = np.concatenate([ch.embeddings for ch in chunks])[[row_of[i] for i in pick if i in row_of]]
    kept = [plan.ids[i] for i in pick if i in row_of]
    skipped = [(plan.ids[i], gone[i]) for i in pick if i in gone]
    return np.ascontiguousarray(emb, dtype=np.float32), kept, skipped


def _served(
    tries: Sequence[tuple[CacheEntry | None, Sequence[str], Sequence[int] | None, str]],
    t0: float,
    request: Request,
    **where: str,
) -> Extraction | None:
    """The first of ``tries`` (an entry, its ids, the items picked or None: all, the data part
    of the key) whose chunks verify, as an extraction; ``where``: model_id, tower, device,
    precision."""
    notes: list[str] = []
    for entry, ids, pick, data in tries:
        got = read_entry(entry, ids, pick, notes) if entry is not None else None
        if entry is None or got is None:
            continue
        emb, kept, skipped = got
        if request.data.strict:
            raise_if_skipped(skipped)
        elapsed = time.perf_counter() - t0
        rate = (len(kept) + len(skipped)) / elapsed if elapsed > 0 else float("inf")
        return Extraction(
            emb, tuple(kept), tuple(skipped), batch_size=0, workers=0, extract_s=elapsed,
            items_per_s=rate, from_cache=1.0, cache_path=str(entry.path), notes=tuple(notes),
            weights=entry.parts.get("encoder", {}).get("weights") or None,
            data_fingerprint=data_fingerprint(data), **where,  # type: ignore[arg-type]
        )  # fmt: skip
    return None


def cached_extraction(
    entry: ZooEntry, source: Source, tower: str, request: Request, cache: EmbeddingCache
) -> Extraction | None:
    """``entry``'s ``tower`` on ``source`` read from the cache, no model built; None if missing:
    the recipe of all items (a subset gathered from it), else the subset's own."""
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
    tries = [(recall(cache, recipe_key(base, fingerprint, ids)), ids, pick, data)]
    if pick is not None:
        sub = [ids[i] for i in pick]
        tries.append((recall(cache, recipe_key(base, data, sub)), sub, None, data))
    precision = str(base["precision"])
    return _served(
        tries, t0, request, model_id=entry.ref, tower=tower, device=device, precision=precision
    )


ABOUT = "about.json"  # in an entry folder: what ``cache list`` shows of it (not in the key)


def describe(entry_path: str | Path, about: dict[str, object]) -> None:
    path, data = Path(entry_path) / ABOUT, json.dumps(about, sort_keys=True).encode()
    with contextlib.suppress(OSError):
        if not path.exists() or path.read_bytes() != data:
            atomic_write_bytes(path, data)


def subset_from_cache(
    encoder: Encoder, source: Source, request: Request, store: EmbeddingCache
) -> Extraction | None:
    """The seeded subset ``--n`` gathered from the cached entry of all items; None if incomplete."""
    t0 = time.perf_counter()
    protocol, tower = request.protocol, encoder.tower
    items = source.items(tower)
    if not isinstance(items, Sequence):
        return None
    options = engine_options(request.compute)
    device, precision, batch_size, size = settings(encoder, options)
    plan = make_plan([it.id for it in items], batch_size, size)
    fingerprint = source.fingerprint(tower)
    entry = cache_entry(store, encoder, options, plan, fingerprint)
    pick = subset_indices(plan.n, protocol.n, protocol.seed)
    tries = [(entry, plan.ids, pick, subset_data(fingerprint, protocol.n, protocol.seed))]
    where = {"model_id": encoder.model_id, "tower": tower, "device": device, "precision": precision}
    return _served(tries, t0, request, **where)
