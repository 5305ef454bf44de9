"""``infogauss audit`` / ``compare``: zoo models x data -> extraction -> report rows; per-layer
profiles (``--layers``): the encoder built once and split into one encoder per layer, each
extracted and cached like any audit (rows ``"{model} {layer}"``, or one file per layer);
``infogauss demo``: the paper's comparison offline on a CPU, the synthetic experiment and
packaged weights on data that ships with Python and scikit-image, against random-init twins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.core.options import DataOptions, DiagnoseOptions, Request, parse_layers
from infogauss_cli.core.progress import note
from infogauss_cli.data.sources import data_section, ignored_counts, parse_data_spec
from infogauss_cli.data.sources.base import Source
from infogauss_cli.extract.model import (
    ExtractedFile,
    check_out_files,
    extract_tower,
    file_meta,
    file_tower,
    resolve_towers,
    save_or_rescue,
)
from infogauss_cli.extract.plan import Shard
from infogauss_cli.extract.result import Extraction, ShardWork
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.rows import diagnose_rows
from infogauss_cli.models import catalogue
from infogauss_cli.models.backends.common import layer_encoders
from infogauss_cli.models.digest import identity_sha256
from infogauss_cli.pipelines.synthetic.experiment import synthetic_rows
from infogauss_cli.pipelines.synthetic.train import preset

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.zoo_schema import ZooEntry

Extracted = Extraction | ShardWork | RunError
Layered = list[tuple[str | None, Extracted]]
SYNTHETIC_SETTINGS = ("gmm", "binary", "supervised")
MODEL_ROWS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("minilm-l6", "minilm-l6@random"), "pydoc-topics"),
    (("effnet-lite0", "effnet-lite0@random"), "skimage-samples"),
)
GPU_COMMAND = "infogauss compare clip-vit-l14 dino resnet34 densenet --download --html report.html"


def extract_layers(
    entry: ZooEntry,
    source: Source,
    tower: str,
    request: Request,
    before: Callable[[list[str]], None] | None = None,
    shard: Shard = Shard(),
) -> Layered:
    """``(layer, extraction)`` per selected layer (``[(None, RunError)]``: no model);
    ``before(names)`` runs before any extraction."""
    spec = parse_layers(request.protocol.layers)
    assert spec is not None
    try:
        base = catalogue.build_encoder(entry, tower)
    except RunError as exc:
        return [(None, exc)]
    encoders = layer_encoders(base, spec, entry.ref)
    if before is not None:
        before([name for _, name, _ in encoders])
    out: Layered = []
    for _, name, enc in encoders:
        try:
            ex = extract_tower(entry, source, tower, request, enc, shard)
        finally:
            enc.forward.done()
        out.append((name, ex))
    return out


def layer_path(out: str | Path, layer: str) -> Path:
    path = Path(out)
    return path.with_name(f"{path.stem}.{layer}{path.suffix}")


def layers_to_files(
    model: str, out: str | Path, request: Request, shard: Shard = Shard()
) -> list[ExtractedFile]:
    """``infogauss extract --layers``: one file per layer, all checked before any extraction."""
    _, entry, source, tower = file_tower(model, request, out)

    def check_layer_files(names: list[str]) -> None:
        check_out_files([layer_path(out, name) for name in names], request)

    files = []
    for name, ex in extract_layers(entry, source, tower, request, check_layer_files, shard):
        if isinstance(ex, Exception):
            raise ex
        ignored, who = ignored_counts(source, ex.tower), f"{entry.ref} {name}"
        if isinstance(ex, ShardWork):
            files.append(ExtractedFile((), ex, {}, ignored, who))
            continue
        meta = file_meta(entry.ref, ex, request.data.data, layer=name)
        written = save_or_rescue(layer_path(out, str(name)), ex, meta, request.compute)
        files.append(ExtractedFile(tuple(written), ex, meta, ignored, who))
    return files


def audit_models(refs: Sequence[str], request: Request, shard: Shard = Shard()) -> list[Row]:
    """One Row per model x tower x view (a failed model: an error row; a shard process: none)."""
    data = request.data
    entries = catalogue.resolve_refs(refs, request.compute)
    source = parse_data_spec(data.data, data)
    plan = [(e, resolve_towers(e.towers, source, data.tower, e.ref)) for e in entries]
    rows: list[Row] = []
    for entry, towers in plan:  # all towers of a model first: paired metrics need both
        if request.protocol.layers:  # a depth profile: one row per layer (no paired metrics)
            for t in towers:
                for name, ex in extract_layers(entry, source, t, request):
                    rows += model_rows(entry, source, (t, name, ex), request)
            continue
        done = {t: extract_tower(entry, source, t, request, shard=shard) for t in towers}
        if any(isinstance(ex, ShardWork) for ex in done.values()):
            continue  # this process computed its share; another one assembles and reports
        paired = paired_metrics(source, done) if request.diagnose.detail else {}
        for t, ex in done.items():
            rows += model_rows(entry, source, (t, None, ex), request, paired)
    return rows


def model_rows(
    entry: ZooEntry,
    source: Source,
    found: tuple[str, str | None, Extracted],
    request: Request,
    metrics: Mapping[str, float] | None = None,
    model: str | None = None,
) -> list[Row]:
    """The rows of one ``(tower, layer, extraction)`` (a failed one: an error row); ``model``:
    the row label (default: the entry's ref and the layer)."""
    tower, layer, ex = found
    objective = entry.objective if entry.pretrained else "random-init"
    model = model or (f"{entry.ref} {layer}" if layer else entry.ref)
    who = {"model": model, "tower": tower, "objective": objective, "backend": entry.backend}
    if not isinstance(ex, Extraction):
        return [Row(**who, data={"source": source.name}, error=str(ex))]
    extra: dict[str, Any] = {"layer": layer} if layer else {}
    if isinstance(getattr(entry.source, "normalize", None), bool):  # sentence-transformers
        extra["normalize"] = entry.source.normalize
    if entry.source.revision is not None and entry.source.weights is None:
        extra["revision"] = entry.source.revision
    prov = {"weights_sha256": identity_sha256(ex.weights), "weights": ex.weights}
    timing = {"extract_s": round(ex.extract_s, 3), "items_per_s": round(ex.items_per_s, 2)}
    info = Row(
        **who,
        data=data_section(source, tower, ex.n, ex.skipped),
        protocol={"precision": ex.precision, "device": ex.device, **extra},
        provenance=prov | {"data_fingerprint": ex.data_fingerprint},
        timing=timing | {"from_cache": round(ex.from_cache, 3)},
        metrics=dict(metrics or {}),
    )
    return diagnose_rows(ex.embeddings, info, request.protocol, request.diagnose, request.gates)


def paired_metrics(source: Source, done: Mapping[str, Extracted]) -> dict[str, float]:
    """Paired alignment, modality gap and pair count of a model's two towers ({}: unpaired)."""
    from infogauss_cli.diagnostics.sphere import pair_indices, paired_stats  # scipy

    ex_i, ex_t = done.get("image"), done.get("text")
    if not (isinstance(ex_i, Extraction) and isinstance(ex_t, Extraction)):
        return {}
    pair_of = {it.id: it.pair for it in source.items("text")}
    ia, ib = pair_indices(ex_i.ids, [pair_of.get(i) for i in ex_t.ids])
    if ia.size == 0 or ex_i.embeddings.shape[1] != ex_t.embeddings.shape[1]:
        return {}
    ps = paired_stats(np.asarray(ex_i.embeddings)[ia], np.asarray(ex_t.embeddings)[ib])
    return dict(paired_alignment=ps.alignment, modality_gap=ps.modality_gap, paired_n=ps.n_pairs)


def demo_rows(*, models: bool = True, keep_arrays: bool = False) -> list[Row]:
    """Synthetic rows, then :data:`MODEL_ROWS` (a model that cannot load gives error rows)."""
    options = DiagnoseOptions(keep_arrays=keep_arrays)
    rows = synthetic_rows(preset("quick", settings=SYNTHETIC_SETTINGS), Request(diagnose=options))
    for refs, data in MODEL_ROWS if models else ():
        note(f"[dim]{' vs '.join(refs)} on {data}[/]")
        try:
            rows += audit_models(refs, Request(data=DataOptions(data=data), diagnose=options))
        except BadInputError as exc:  # e.g. scikit-image missing: the other rows still count
            rows += [Row(model=ref, data={"source": data}, error=str(exc)) for ref in refs]
    return rows
