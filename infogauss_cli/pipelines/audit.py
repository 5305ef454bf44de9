"""``infogauss audit`` / ``compare``: zoo models x data -> extraction -> report rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.options import Request
from infogauss_cli.data.sources import data_section, parse_data_spec
from infogauss_cli.data.sources.base import Source
from infogauss_cli.extract.model import extract_tower, resolve_towers
from infogauss_cli.extract.plan import Shard
from infogauss_cli.extract.result import Extraction, ShardWork
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.rows import RowInfo, diagnose_rows
from infogauss_cli.models.digest import identity_sha256
from infogauss_cli.pipelines.layers import extract_layers

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.zoo_schema import ZooEntry

Extracted = Extraction | ShardWork | RunError


def audit_models(refs: Sequence[str], request: Request, shard: Shard = Shard()) -> list[Row]:
    """One Row per model x tower x view (a failed model: an error row; a shard process: none)."""
    from infogauss_cli.models.catalogue import resolve_refs  # pydantic: start-up

    data = request.data
    entries = resolve_refs(refs, request.compute)
    source = parse_data_spec(data.data, data)
    plan = [
        (entry, resolve_towers(entry.towers, source, data.tower, entry.ref)) for entry in entries
    ]
    rows: list[Row] = []
    for entry, towers in plan:  # all towers of a model first: paired metrics need both
        if request.protocol.layers:  # a depth profile: one row per layer (no paired metrics)
            for t in towers:
                for name, ex in extract_layers(entry, source, t, request):
                    rows += _model_rows(entry, source, (t, name, ex), request)
            continue
        done = {t: extract_tower(entry, source, t, request, shard=shard) for t in towers}
        if any(isinstance(ex, ShardWork) for ex in done.values()):
            continue  # this process computed its share; another one assembles and reports
        paired = paired_metrics(source, done) if request.diagnose.detail else {}
        for t, ex in done.items():
            rows += _model_rows(entry, source, (t, None, ex), request, paired)
    return rows


def _model_rows(
    entry: ZooEntry,
    source: Source,
    found: tuple[str, str | None, Extracted],
    request: Request,
    paired: Mapping[str, float] | None = None,
) -> list[Row]:
    tower, layer, ex = found
    objective = entry.objective if entry.pretrained else "random-init"
    model = f"{entry.ref} {layer}" if layer else entry.ref
    who = {"model": model, "tower": tower, "objective": objective, "backend": entry.backend}
    if not isinstance(ex, Extraction):
        return [Row(**who, data={"source": source.name}, error=str(ex))]
    extra: dict[str, Any] = {"layer": layer} if layer else {}
    if isinstance(getattr(entry.source, "normalize", None), bool):  # sentence-transformers
        extra["normalize"] = entry.source.normalize
    if entry.source.revision is not None and entry.source.weights is None:
        extra["revision"] = entry.source.revision
    info = RowInfo(
        **who,
        data=data_section(source, tower, ex.n, ex.skipped),
        protocol={"precision": ex.precision, "device": ex.device, **extra},
        provenance={
            "weights_sha256": identity_sha256(ex.weights),
            "weights": ex.weights,
            "data_fingerprint": ex.data_fingerprint,
        },
        timing={
            "extract_s": round(ex.extract_s, 3),
            "items_per_s": round(ex.items_per_s, 2),
            "from_cache": round(ex.from_cache, 3),
        },
        extra_metrics=dict(paired or {}),
    )
    return diagnose_rows(ex.embeddings, info, request.protocol, request.diagnose, request.gates)


def paired_metrics(source: Source, done: Mapping[str, Extracted]) -> dict[str, float]:
    """``paired_alignment``, ``modality_gap``, ``paired_n`` of a model's image and text
    extractions when the source pairs them; else {}."""
    from infogauss_cli.diagnostics.sphere import pair_indices, paired_stats  # scipy

    ex_i, ex_t = done.get("image"), done.get("text")
    if not (isinstance(ex_i, Extraction) and isinstance(ex_t, Extraction)):
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
