"""Library entry points: an embedding matrix, a file or zoo models -> report rows.

The CLI is a thin wrapper over these; they know nothing of the CLI. Options come as the
objects of :mod:`infogauss_cli.core.options`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.options import Compute, DataOptions, DiagnoseOptions, Protocol
from infogauss_cli.extract.store import open_cache
from infogauss_cli.extract.tower import extract_tower
from infogauss_cli.judge.gates import Gates
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.rows import RowInfo, checked_rows, diagnose_rows


def check_file(
    path: str | Path,
    *,
    key: str | None = None,
    name: str | None = None,
    protocol: Protocol = Protocol(),
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
) -> list[Row]:
    """``infogauss check``: audit an embedding matrix stored in a file; the rows'
    ``provenance.data_fingerprint`` is the sha256 of the file's bytes."""
    from infogauss_cli.data.readers import read_matrix
    from infogauss_cli.diagnostics import validate_matrix
    from infogauss_cli.models.digest import stream_sha256

    path = Path(path)
    t0 = time.perf_counter()
    x = validate_matrix(read_matrix(path, key))
    t1 = time.perf_counter()
    digest = stream_sha256(path)
    info = RowInfo(
        model=name or path.name + (f"[{key}]" if key else ""),
        backend="file",
        data={"source": f"file:{path}", "items": int(x.shape[0]), "skipped": 0},
        protocol={"precision": str(np.asarray(x).dtype), "device": None},
        provenance={"weights_sha256": None, "weights": None, "data_fingerprint": digest},
        timing={
            "load_s": round(t1 - t0, 4),
            "fingerprint_s": round(time.perf_counter() - t1, 4),
        },
    )
    return checked_rows(x, info, protocol, options, gates)


def audit_models(
    refs: Sequence[str],
    *,
    data: DataOptions = DataOptions(),
    protocol: Protocol = Protocol(),
    compute: Compute = Compute(),
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
    console: Any = None,
) -> list[Row]:
    """``infogauss audit`` / ``compare``: zoo -> data source -> extraction (cached) ->
    diagnostics -> verdict, one :class:`Row` per model x tower x view, in the order given.
    ``console``: where progress goes (None: quiet).

    Bad usage (unknown model, bad data spec, a tower the data cannot feed) raises
    :class:`BadInputError` before any model is built. A model that fails to load or run gives
    an error row, and the others still run. A process that only computes its share of the
    cache (``compute.shard``, torchrun ranks but 0) returns no rows.
    """
    from infogauss_cli.data.sources import parse_data_spec
    from infogauss_cli.extract import ShardWork, resolve_towers
    from infogauss_cli.models.backends.adhoc import resolve_refs  # pydantic: start-up

    entries = resolve_refs(refs, compute)
    source = parse_data_spec(data.data, data)
    plan = [
        (entry, resolve_towers(entry.towers, source, data.tower, entry.ref)) for entry in entries
    ]
    cache = open_cache(compute)
    rows: list[Row] = []
    for entry, towers in plan:  # all towers of a model first: paired metrics need both
        if protocol.layers:  # a depth profile: one row per layer (no paired metrics)
            rows += _layer_rows(
                entry, source, towers, protocol, compute, data, options, gates, console
            )
            continue
        done = {
            t: extract_tower(entry, source, t, protocol, compute, cache, data, console)
            for t in towers
        }
        if any(isinstance(ex, ShardWork) for ex in done.values()):
            continue  # this process computed its share; another one assembles and reports
        paired = paired_metrics(source, done) if options.detail else {}
        for t, ex in done.items():
            rows += _model_rows(entry, source, t, ex, paired, protocol, options, gates)
    return rows


def _layer_rows(
    entry: Any,
    source: Any,
    towers: Sequence[str],
    protocol: Protocol,
    compute: Compute,
    data: DataOptions,
    options: DiagnoseOptions,
    gates: Gates,
    console: Any = None,
) -> list[Row]:
    """``--layers``: the rows of every selected layer of each tower (:mod:`.depth`)."""
    from infogauss_cli.pipelines.layers import extract_layers

    rows: list[Row] = []
    cache = open_cache(compute)
    for t in towers:
        found = extract_layers(entry, source, t, protocol, compute, cache, data, console)
        for name, ex in found:
            rows += _model_rows(entry, source, t, ex, {}, protocol, options, gates, layer=name)
    return rows


def _model_rows(
    entry: Any,
    source: Any,
    tower: str,
    ex: Any,
    paired: Mapping[str, Any],
    protocol: Protocol,
    options: DiagnoseOptions,
    gates: Gates,
    layer: str | None = None,
) -> list[Row]:
    """The rows of one extracted tower, or of one ``layer`` of it (an error row when its
    extraction failed)."""
    from infogauss_cli.data.sources import data_section

    objective = entry.objective if entry.pretrained else "random-init"
    model = f"{entry.ref} {layer}" if layer else entry.ref
    who = {"model": model, "tower": tower, "objective": objective, "backend": entry.backend}
    if isinstance(ex, RunError):
        return [Row(**who, data={"source": source.name}, error=str(ex))]
    extra: dict[str, Any] = {"layer": layer} if layer else {}
    if isinstance(getattr(entry.source, "normalize", None), bool):  # sentence-transformers
        extra["normalize"] = entry.source.normalize
    if entry.source.revision is not None and entry.source.weights is None:
        extra["revision"] = entry.source.revision
    info = RowInfo(
        **who,
        data=data_section(source, tower, ex),
        protocol={"precision": ex.precision, "device": ex.device, **extra},
        provenance=provenance(ex),
        timing={
            "extract_s": round(ex.extract_s, 3),
            "items_per_s": round(ex.items_per_s, 2),
            "from_cache": round(ex.from_cache, 3),
        },
        extra_metrics=paired,
    )
    return diagnose_rows(ex.embeddings, info, protocol, options, gates)


def provenance(ex: Any) -> dict[str, Any]:
    """A row's ``provenance``: the weights' sha256 and identity, the data fingerprint."""
    from infogauss_cli.models.digest import identity_sha256

    weights = getattr(ex, "weights", None)
    return {
        "weights_sha256": identity_sha256(weights),
        "weights": weights,
        "data_fingerprint": getattr(ex, "data_fingerprint", None),
    }


def paired_metrics(source: Any, done: Mapping[str, Any]) -> dict[str, Any]:
    """``paired_alignment``, ``modality_gap`` and ``paired_n`` between the image and text
    extractions of one model when the source pairs them (text items carry ``pair`` = the id
    of their image); {} when it does not, or no extracted pair survives subsampling."""
    from infogauss_cli.diagnostics.paired import pair_indices, paired_stats

    ex_i, ex_t = done.get("image"), done.get("text")
    if ex_i is None or ex_t is None or isinstance(ex_i, Exception) or isinstance(ex_t, Exception):
        return {}
    pair_of = {it.id: it.pair for it in source.items("text")}
    ia, ib = pair_indices(ex_i.ids, [pair_of.get(i) for i in ex_t.ids])
    if ia.size == 0 or ex_i.embeddings.shape[1] != ex_t.embeddings.shape[1]:
        return {}
    ps = paired_stats(np.asarray(ex_i.embeddings)[ia], np.asarray(ex_t.embeddings)[ib])
    return {
        "paired_alignment": ps.alignment,
        "modality_gap": ps.modality_gap,
        "paired_n": ps.n_pairs,
    }
