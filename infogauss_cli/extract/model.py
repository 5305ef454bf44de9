"""Zoo entry x data source -> extraction: what the commands call."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli import __version__
from infogauss_cli.core.errors import BadInputError, RunError, io_failure
from infogauss_cli.core.options import Request
from infogauss_cli.core.preflight import check_distinct, check_file_target, data_inputs, rescue_path
from infogauss_cli.core.progress import steps
from infogauss_cli.data.sources import ignored_counts, parse_data_spec
from infogauss_cli.data.sources.base import Item, Source, item_count
from infogauss_cli.data.sources.loaders import item_loader
from infogauss_cli.extract.cached import (
    cached_extraction,
    data_fingerprint,
    describe,
    recipe_base,
    recipe_key,
    remember,
    subset_data,
    subset_from_cache,
)
from infogauss_cli.extract.distributed import agree, check_folder
from infogauss_cli.extract.engine import engine_options, extract
from infogauss_cli.extract.plan import Shard, subset_indices
from infogauss_cli.extract.result import Extraction, ShardWork
from infogauss_cli.extract.runner import resolve_device, resolve_precision
from infogauss_cli.extract.store import (
    EmbeddingCache,
    check_cache_writable,
    check_output_path,
    ids_sidecar,
    save_embeddings,
)
from infogauss_cli.models import catalogue

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.core.options import Compute
    from infogauss_cli.models.registry import Encoder
    from infogauss_cli.models.zoo_schema import ZooEntry


def select_items(
    items: Sequence[Item] | Iterable[Item], n: int | None, seed: int = 0
) -> Sequence[Item] | Iterable[Item]:
    """A seeded subset of ``n`` items in their order (a stream of unknown length: a reservoir)."""
    count = item_count(items)
    if n is None or (count is not None and n >= count):
        return items
    if count is None:
        return reservoir(items, n, seed)
    wanted = set(subset_indices(count, n, seed) or ())
    return [item for i, item in enumerate(items) if i in wanted]


def reservoir(items: Iterable[Item], n: int, seed: int) -> list[Item]:
    """A seeded uniform subset of ``n`` items of a stream (Algorithm R), in stream order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    kept: list[tuple[int, Item]] = []
    for i, item in enumerate(items):
        if i < n:
            kept.append((i, item))
        elif (j := int(rng.integers(0, i + 1))) < n:
            kept[j] = (i, item)
    return [item for _, item in sorted(kept, key=lambda p: p[0])]


def resolve_towers(
    model_towers: Sequence[str], source: Source, tower: str = "all", model: str | None = None
) -> list[str]:
    """``tower`` if both the model and the data have it; ``all``: every tower the data feeds."""
    tower = getattr(tower, "value", tower)
    data_towers = tuple(getattr(source, "towers", ()))
    data = f"data {getattr(source, 'name', '')}".rstrip()
    who = f"model {model}" if model else "the model"
    has = f"the {' and '.join(model_towers)} towers"
    if len(model_towers) == 1:
        has = f"only the {model_towers[0]} tower"
    if tower == "all":
        towers = [t for t in model_towers if t in data_towers]
        if not towers:
            raise BadInputError(
                f"{who} has {has}, but {data} gives {' and '.join(data_towers) or 'nothing'}"
            )
        return towers
    if tower not in model_towers:
        raise BadInputError(f"{who} has no {tower} tower ({has}); choose another --tower")
    if tower not in data_towers:
        raise BadInputError(
            f"{data} cannot feed the {tower} tower (it gives {' and '.join(data_towers)})"
        )
    return [tower]


def extract_model(
    entry: ZooEntry,
    source: Source,
    tower: str,
    request: Request,
    *,
    encoder: Encoder | None = None,
    shard: Shard = Shard(),
) -> Extraction | ShardWork:
    """Build ``entry``'s encoder for ``tower`` (or use ``encoder``: one layer) and embed
    ``source`` (a seeded subset of ``--n`` items), cached; ``shard``: this process's part."""
    protocol, compute, strict = request.protocol, request.compute, request.data.strict
    if encoder is None:  # missing weights offline: before torch is imported
        catalogue.fail_fast(entry)
    store = EmbeddingCache(compute.cache_dir) if compute.use_cache else None
    if encoder is None and shard.mode == "single" and store is not None:
        found = cached_extraction(entry, source, tower, request, store)
        if found is not None:  # every chunk cached: no model built, torch not imported
            return found
    dev = resolve_device(shard.device(compute.device))  # bad options fail before any model
    resolve_precision(compute.precision, dev)
    all_items = source.items(tower)
    items = select_items(all_items, protocol.n, protocol.seed)  # a stream stays a stream
    fingerprint = source.fingerprint(tower)
    if items is not all_items:
        fingerprint = subset_data(fingerprint, protocol.n, protocol.seed)
    if shard.synced and store is not None:
        check_folder(shard, store.root)
    built = encoder is None
    if encoder is None and shard.synced:
        encoder = agree("build", lambda: build_shown(entry, tower))
    elif encoder is None:
        encoder = build_shown(entry, tower)
    if items is not all_items and shard.mode == "single" and store is not None:
        found = subset_from_cache(encoder, source, request, store)
        if found is not None:  # a smaller --n of a cached run: gathered, nothing computed
            return found
    options, load = engine_options(compute, dev, strict, shard), item_loader(source, tower)
    result = extract(
        encoder, items, options, cache=store, data_fingerprint=fingerprint, loader=load
    )
    if store is not None and result.cache_path:
        subset = {"n": protocol.n, "seed": protocol.seed} if items is not all_items else None
        name = getattr(source, "name", str(source))
        describe(result.cache_path, {"model": entry.ref, "source": name, "subset": subset})
        base = recipe_base(entry, tower, compute, dev) if built else None
        if base is not None and isinstance(items, Sequence):
            recipe = recipe_key(base, fingerprint, [it.id for it in items])
            remember(store, recipe, result.cache_path)
    if not isinstance(result, Extraction):  # a ShardWork
        return result
    weights = encoder.fingerprint.get("weights") if encoder.fingerprint else None
    return replace(result, weights=weights, data_fingerprint=data_fingerprint(fingerprint))


def extract_tower(
    entry: ZooEntry,
    source: Source,
    tower: str,
    request: Request,
    encoder: Encoder | None = None,
    shard: Shard = Shard(),
) -> Extraction | ShardWork | RunError:
    try:
        return extract_model(entry, source, tower, request, encoder=encoder, shard=shard)
    except RunError as exc:
        return exc


def build_shown(entry: ZooEntry, tower: str) -> Encoder:
    with steps(f"loading {entry.ref} weights ({tower} tower)"):
        return catalogue.build_encoder(entry, tower)


@dataclass(frozen=True)
class ExtractedFile:
    files: tuple[Path, ...]
    extraction: Extraction | ShardWork
    meta: Mapping[str, object]
    ignored: dict[str, int]
    model: str


def extract_to_file(
    model: str, out: str | os.PathLike[str], request: Request, shard: Shard = Shard()
) -> ExtractedFile:
    """``infogauss extract``: embed one tower and write ``out`` with its metadata."""
    path, entry, source, tower = file_tower(model, request, out)
    assert path is not None
    result = extract_model(entry, source, tower, request, shard=shard)
    ignored = ignored_counts(source, result.tower)
    if isinstance(result, ShardWork):
        return ExtractedFile((), result, {}, ignored, entry.ref)
    meta = file_meta(entry.ref, result, request.data.data, ignored=ignored)
    written = save_or_rescue(path, result, meta, request.compute)
    return ExtractedFile(tuple(written), result, meta, ignored, entry.ref)


def check_out_files(outs: Sequence[str | os.PathLike[str]], request: Request) -> None:
    """Each of ``outs`` writable (with its sidecar), and neither an input nor another output."""
    named: list[tuple[str, Path | None]] = []
    for out in outs:
        path = check_output_path(out)
        sidecar = ids_sidecar(path) if path.suffix.lower() == ".npy" else None
        check_file_target(path, "--out")
        if sidecar is not None:
            check_file_target(sidecar, "--out (its .ids.json sidecar)")
        named += [("--out", path), ("--out (its .ids.json sidecar)", sidecar)]
    inputs = [*data_inputs(request.data.data), ("--zoo", request.compute.zoo)]
    check_distinct(named, inputs)


def file_tower(
    model: str, request: Request, out: str | os.PathLike[str] | None = None
) -> tuple[Path | None, ZooEntry, Source, str]:
    """(``out`` checked, the zoo entry, the source, the one tower ``extract`` writes)."""
    from infogauss_cli.models.catalogue import resolve_refs  # pydantic: start-up

    data, compute = request.data, request.compute
    if out is not None:
        check_out_files([out], request)
    path = check_output_path(out) if out is not None else None
    check_cache_writable(compute)
    (entry,) = resolve_refs([model], compute)
    source = parse_data_spec(data.data, data)
    towers = resolve_towers(list(entry.towers), source, data.tower, entry.ref)
    if len(towers) > 1:
        raise BadInputError(
            f"{data.data} feeds the {' and '.join(towers)} towers and extract writes one tower "
            "per file: pass --tower " + " or --tower ".join(towers)
        )
    return path, entry, source, towers[0]


def file_meta(model: str, result: Extraction, data: str, **extra: object) -> dict[str, object]:
    return {
        "model": model,
        **extra,
        "tower": result.tower,
        "data": data,
        "n": result.n,
        "dim": result.dim,
        "skipped": [list(s) for s in result.skipped],
        "device": result.device,
        "precision": result.precision,
        "batch_size": result.batch_size,
        "tool": {"name": "infogauss", "version": __version__},
    }


def save_or_rescue(
    path: Path, result: Extraction, meta: Mapping[str, object], compute: Compute
) -> list[Path]:
    """Write the output; on failure the embeddings stay in the cache or at a named rescue path."""
    try:
        return save_embeddings(path, result.embeddings, result.ids, meta)
    except OSError as exc:
        if compute.use_cache:
            fix = (
                "the embeddings are kept in the cache: free space or choose another --out and "
                "rerun the same command (it reads them back without recomputing)"
            )
            raise io_failure(exc, path, "write --out", fix=fix) from None
        rescue = rescue_path(path, compute.cache_dir)
        fix = "no other writable place was found; free space and rerun"
        with contextlib.suppress(OSError):
            if rescue is not None:
                save_embeddings(rescue, result.embeddings, result.ids, meta)
                fix = f"the embeddings were written to {rescue} instead"
        raise io_failure(exc, path, "write --out", fix=fix) from None
