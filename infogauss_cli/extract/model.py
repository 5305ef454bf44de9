"""Zoo entry x data source -> extraction: what the commands call.

:func:`extract_model` builds one tower of a zoo entry and embeds a source (optionally a seeded
subset); :func:`extract_to_file` is ``infogauss extract`` as a library call (zoo, data spec,
tower planning, metadata, the output file).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Compute, DataOptions, Protocol
from infogauss_cli.data.sources.base import Item, item_count
from infogauss_cli.data.sources.loaders import item_loader
from infogauss_cli.extract.cache_admin import describe
from infogauss_cli.extract.cached import (
    Where,
    as_extraction,
    cached_extraction,
    data_fingerprint,
    recipe_base,
    remember,
    subset_data,
    subset_of_full_entry,
)
from infogauss_cli.extract.engine import ShardWork, extract
from infogauss_cli.extract.job import as_cache
from infogauss_cli.extract.options import engine_options
from infogauss_cli.extract.plan import subset_indices
from infogauss_cli.extract.result import Extraction
from infogauss_cli.extract.runner import resolve_device, resolve_precision
from infogauss_cli.extract.store import check_cache_writable, open_cache

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from infogauss_cli.extract.store import EmbeddingCache


def select_items(
    items: Sequence[Item] | Iterable[Item], n: int | None, seed: int = 0
) -> Sequence[Item] | Iterable[Item]:
    """A seeded random subset of ``n`` items, kept in their original order; all of them (the
    list or the stream as given, not read) if ``n`` is None or not smaller than the count. A
    stream with a known length draws the same subset as its list, reading it once and keeping
    only the chosen items; a stream of unknown length draws a seeded uniform subset by
    reservoir sampling (one pass, ``n`` items in memory; not the list's subset)."""
    if n is not None and n < 1:
        raise BadInputError(f"--n {n}: must be at least 1")
    count = item_count(items)
    if n is None or (count is not None and n >= count):
        return items
    if count is None:
        return reservoir(items, n, seed)
    keep = subset_indices(count, n, seed)
    assert keep is not None
    if isinstance(items, Sequence):
        return [items[i] for i in keep]
    wanted = set(keep)
    return [item for i, item in enumerate(items) if i in wanted]


def reservoir(items: Iterable[Item], n: int, seed: int) -> list[Item]:
    """A seeded uniform subset of ``n`` items of a stream of unknown length (Algorithm R), in
    stream order; all of them when the stream holds ``n`` or fewer."""
    import numpy as np

    rng = np.random.default_rng(seed)
    kept: list[tuple[int, Item]] = []
    for i, item in enumerate(items):
        if i < n:
            kept.append((i, item))
            continue
        j = int(rng.integers(0, i + 1))
        if j < n:
            kept[j] = (i, item)
    return [item for _, item in sorted(kept, key=lambda p: p[0])]


def resolve_towers(
    model_towers: Sequence[str], source: Any, tower: str = "all", model: str | None = None
) -> list[str]:
    """The towers to embed: ``tower`` if both the model and the data have it; for ``all``,
    every tower of the model the data can feed. ``model`` names the model in the messages."""
    tower = getattr(tower, "value", tower)
    data_towers = tuple(getattr(source, "towers", ()))
    data = f"data {getattr(source, 'name', '')}".rstrip()
    who = f"model {model}" if model else "the model"
    has = _towers_phrase(model_towers)
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


def _towers_phrase(towers: Sequence[str]) -> str:
    """``only the image tower`` / ``the image and text towers``."""
    if len(towers) == 1:
        return f"only the {towers[0]} tower"
    return f"the {' and '.join(towers)} towers"


def extract_model(
    entry: Any,
    source: Any,
    tower: str,
    protocol: Protocol = Protocol(),
    compute: Compute = Compute(),
    *,
    cache: EmbeddingCache | str | os.PathLike[str] | None = None,
    console: Console | None = None,
    strict: bool = False,
    encoder: Any = None,
) -> Extraction | ShardWork:
    """Build ``entry``'s encoder for ``tower`` and embed ``source`` (a seeded subset of
    ``protocol.n`` items when given) through :func:`extract`. ``console``: where progress
    goes (None: quiet); ``strict``: unreadable items are an error; ``encoder``: one already
    built for this entry and tower (e.g. one layer of a depth profile) instead of building.

    Several processes (``compute.shard``, or torchrun's environment): returns a
    :class:`~.engine.ShardWork` on every process but the one that assembles; under torchrun the
    ranks check once that they share the cache folder, and a model that fails to build on
    any rank fails on every rank."""
    from infogauss_cli.extract.distributed import agree, check_shared_folder, current_shard
    from infogauss_cli.models.backends import fail_fast

    if encoder is None:
        fail_fast(entry)  # missing weights offline: before torch and the library are imported
    shard = current_shard(compute.shard)
    store = as_cache(cache)
    if encoder is None and shard.mode == "single" and store is not None:
        found = cached_extraction(entry, source, tower, protocol, compute, store, strict)
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
        check_shared_folder(store.root, shard)
    built = encoder is None
    if encoder is None and shard.synced:
        encoder = agree("build", lambda: build_shown(entry, tower))
    elif encoder is None:
        encoder = build_shown(entry, tower)
    if items is not all_items and shard.mode == "single" and store is not None:
        found = subset_from_cache(encoder, source, tower, protocol, compute, store, strict)
        if found is not None:  # a smaller --n of a cached run: gathered, nothing computed
            return found
    result = extract(
        encoder,
        items,
        engine_options(compute, dev, strict),
        cache=store,
        data_fingerprint=fingerprint,
        loader=item_loader(source, tower),
        shard=shard,
        console=console,
        progress=console is not None,
    )
    if store is not None and result.cache_path:
        subset = {"n": protocol.n, "seed": protocol.seed} if items is not all_items else None
        name = getattr(source, "name", str(source))
        describe(result.cache_path, {"model": entry.ref, "source": name, "subset": subset})
        base = recipe_base(entry, tower, compute, dev) if built else None
        if base is not None and isinstance(items, Sequence):
            recipe = base.key(fingerprint, [it.id for it in items])
            remember(store, recipe, result.cache_path)
    if not isinstance(result, Extraction):  # a ShardWork
        return result
    weights = encoder.fingerprint.get("weights") if encoder.fingerprint else None
    return replace(result, weights=weights, data_fingerprint=data_fingerprint(fingerprint))


def subset_from_cache(
    encoder: Any,
    source: Any,
    tower: str,
    protocol: Protocol,
    compute: Compute,
    store: EmbeddingCache,
    strict: bool,
) -> Extraction | None:
    """The seeded subset ``protocol.n`` gathered from the cached entry of all the items, with
    the model built (weights that have no recipe, e.g. from the hub); None unless every chunk
    it needs is there."""
    t0 = time.perf_counter()
    items = source.items(tower)
    if not isinstance(items, Sequence):
        return None
    pick = subset_indices(len(items), protocol.n, protocol.seed)
    assert pick is not None
    fingerprint = source.fingerprint(tower)
    options = engine_options(compute, resolve_device(compute.device), strict)
    found = subset_of_full_entry(encoder, items, pick, fingerprint, options, store)
    if found is None:
        return None
    device, precision = options.device, resolve_precision(compute.precision, options.device)
    return as_extraction(
        found[0],
        Where(encoder.model_id, tower, device, precision, str(found[1].path)),
        t0,
        strict=strict,
        notes=(),
        weights=(encoder.fingerprint or {}).get("weights"),
        data=subset_data(fingerprint, protocol.n, protocol.seed),
    )


def build_shown(entry: Any, tower: str) -> Any:
    """:func:`~infogauss_cli.models.backends.build_encoder` under a spinner ``loading MODEL
    weights``
    (imports and weights take seconds to a minute; shown by the CLI's progress bars)."""
    from infogauss_cli.core.progress import steps
    from infogauss_cli.models.backends import build_encoder

    with steps(f"loading {entry.ref} weights ({tower} tower)"):
        return build_encoder(entry, tower)


@dataclass(frozen=True)
class ExtractedFile:
    """What :func:`extract_to_file` wrote: the files, the extraction, the metadata stored with
    it and what the source ignored on purpose (counts by kind)."""

    files: tuple[Path, ...]
    extraction: Extraction | ShardWork
    meta: dict[str, Any]
    ignored: dict[str, int]
    model: str


def extract_to_file(
    model: str,
    out: str | os.PathLike[str],
    data: DataOptions = DataOptions(),
    protocol: Protocol = Protocol(),
    compute: Compute = Compute(),
    console: Console | None = None,
) -> ExtractedFile:
    """``infogauss extract``: resolve ``model`` in the zoo, parse the data, embed the one tower
    the data feeds (or ``data.tower``) and write ``out`` (.npy + ids sidecar, or .safetensors)
    with its metadata. The output path is checked before any model is built. A process that
    does not assemble (``--shard K/N``, torchrun ranks but 0) writes no file: ``files`` is
    empty and ``extraction`` is its :class:`~.engine.ShardWork`."""
    from infogauss_cli.data.sources import ignored_counts

    path, entry, source, tower = file_tower(model, data, compute, console, out)
    assert path is not None
    cache = open_cache(compute)
    result = extract_model(
        entry, source, tower, protocol, compute, cache=cache, console=console, strict=data.strict
    )
    ignored = ignored_counts(source, result.tower)
    if isinstance(result, ShardWork):
        return ExtractedFile((), result, {}, ignored, entry.ref)
    meta = file_meta(entry.ref, result, data.data, ignored=ignored)
    written = save_or_rescue(path, result, meta, compute)
    return ExtractedFile(tuple(written), result, meta, ignored, entry.ref)


def check_out_path(out: str | os.PathLike[str], flag: str = "--out") -> Path:
    """The output file of ``extract``, checked writable (with its .ids.json sidecar for .npy)
    before any model is built or item read."""
    from infogauss_cli.core.preflight import check_file_target

    path, sidecar = _out_files(out)
    check_file_target(path, flag)
    if sidecar is not None:
        check_file_target(sidecar, f"{flag} (its .ids.json sidecar)")
    return path


def _out_files(out: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """The file ``out`` and its .ids.json sidecar (None for .safetensors)."""
    from infogauss_cli.extract.store import check_output_path, ids_sidecar

    path = check_output_path(out)
    return path, ids_sidecar(path) if path.suffix.lower() == ".npy" else None


def check_out_files(
    outs: Sequence[str | os.PathLike[str]], data: DataOptions, compute: Compute
) -> None:
    """Each of ``outs`` (one per layer, or the one ``--out``) writable, and neither an input
    (the ``--data`` file, the zoo) nor another output: checked before any item is read."""
    from infogauss_cli.core.collisions import check_distinct, data_inputs

    named: list[tuple[str, Path | None]] = []
    for out in outs:
        path, sidecar = _out_files(out)
        check_out_path(path)
        named += [("--out", path), ("--out (its .ids.json sidecar)", sidecar)]
    inputs = [*data_inputs(data.data), ("--zoo", compute.zoo)]
    check_distinct(named, inputs)


def file_tower(
    model: str,
    data: DataOptions,
    compute: Compute,
    console: Console | None,
    out: str | os.PathLike[str] | None = None,
) -> tuple[Path | None, Any, Any, str]:
    """(the output path ``out`` checked writable (None without one), the zoo entry, the source,
    the one tower ``extract`` writes); several towers the data feeds and no ``--tower``: a
    usage error naming them."""
    from infogauss_cli.data.sources import parse_data_spec

    path = None
    if out is not None:
        check_out_files([out], data, compute)
        path = _out_files(out)[0]
    check_cache_writable(compute)
    from infogauss_cli.models.backends.adhoc import resolve_refs  # pydantic: start-up

    (entry,) = resolve_refs([model], compute)
    source = parse_data_spec(data.data, data)
    towers = resolve_towers(list(entry.towers), source, data.tower, entry.ref)
    if len(towers) > 1:
        raise BadInputError(
            f"{data.data} feeds the {' and '.join(towers)} towers and extract writes one tower "
            "per file: pass --tower " + " or --tower ".join(towers)
        )
    return path, entry, source, towers[0]


def file_meta(model: str, result: Extraction, data: str, **extra: Any) -> dict[str, Any]:
    """The metadata stored with an extracted file (``extra``: e.g. ``layer``, ``ignored``)."""
    from infogauss_cli import __version__

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
    path: Path, result: Extraction, meta: dict[str, Any], compute: Compute
) -> list[Path]:
    """Write the output; when that fails at the end (disk full, a path gone read-only), keep
    the embeddings: they are in the cache (say how to rerun), or written to a rescue path that
    the error names."""
    from infogauss_cli.core.errors import io_failure
    from infogauss_cli.core.preflight import rescue_path
    from infogauss_cli.extract.store import save_embeddings

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
        if rescue is not None:
            try:
                save_embeddings(rescue, result.embeddings, result.ids, meta)
            except OSError:
                rescue = None
        fix = (
            f"the embeddings were written to {rescue} instead"
            if rescue is not None
            else "no other writable place was found; free space and rerun"
        )
        raise io_failure(exc, path, "write --out", fix=fix) from None
