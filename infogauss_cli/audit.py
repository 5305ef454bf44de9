"""Library entry points: an embedding matrix, a file or zoo models -> report rows.

The CLI is a thin wrapper over these; they know nothing of the CLI. Options come as the
objects of :mod:`infogauss_cli.options`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RunError
from .gates import Gates, evaluate_gates
from .options import Compute, DataOptions, DiagnoseOptions, Protocol
from .progress import steps
from .report.model import Row, RowSource
from .verdict import judge

PLOT_COLUMNS = 6  # coordinates kept for the QQ plots


@dataclass(frozen=True)
class RowInfo(RowSource):
    """What a matrix is and how it was obtained (``protocol``: entries beyond n/d/seed/view),
    with its ``timing``; ``extra_metrics`` join every row's metrics (e.g. ``paired_alignment``)."""

    timing: Mapping[str, Any] = field(default_factory=dict)
    extra_metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Shared:
    """What the views of one matrix share: the tested rows, the view-free detail, the joint
    tests' rows and the sphere call's metrics."""

    sub: Any = None
    sphere: Any = None
    proj_metrics: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    proj_null: Mapping[str, Any] = field(default_factory=dict)
    joint: Any = None
    sphere_metrics: Mapping[str, Any] = field(default_factory=dict)
    sphere_null: Mapping[str, Any] = field(default_factory=dict)


def _joint(x: Any, protocol: Protocol, options: DiagnoseOptions, shared: _Shared) -> _Shared:
    """The rows of the joint tests, and the sphere tests on them (once per matrix)."""
    from dataclasses import replace

    from .diagnostics.gaussian import joint_sample
    from .diagnostics.uniform import sphere_metrics, sphere_tests

    t0 = time.perf_counter()
    joint = joint_sample(x, protocol.n, protocol.seed)
    metrics, null = sphere_metrics(sphere_tests(joint, alpha=options.alpha))
    seconds = shared.seconds + time.perf_counter() - t0
    return replace(shared, joint=joint, sphere_metrics=metrics, sphere_null=null, seconds=seconds)


def _gaussian(view: str, shared: _Shared, protocol: Protocol) -> tuple[dict, dict]:
    """The decorrelated tests' metrics and null of ``view`` on the joint rows."""
    from .diagnostics.gaussian import gaussian_metrics, gaussian_tests

    return gaussian_metrics(gaussian_tests(shared.joint, view, seed=protocol.seed))


def _shared(x: Any, protocol: Protocol, options: DiagnoseOptions) -> _Shared:
    """Subsample once, and run what does not depend on the view (sphere-level detail, or
    the projection compliances the projections verdict reads)."""
    from .diagnostics import subsample

    projections = options.verdict == "projections"
    if not (options.detail or projections or options.keep_arrays):
        return _Shared()
    sub = subsample(x, protocol.n, protocol.seed)[0]
    if not (options.detail or projections):
        return _Shared(sub=sub)
    from .diagnostics.detail import projection_metrics, projection_null, sphere_detail
    from .diagnostics.projections import projection_tests

    t0 = time.perf_counter()
    budget = options.memory_budget
    if options.detail:
        sphere = sphere_detail(sub, seed=protocol.seed, budget=budget)  # type: ignore[arg-type]
        return _Shared(sub, sphere, {}, time.perf_counter() - t0)
    tests = projection_tests(sub, seed=protocol.seed, budget=budget)  # type: ignore[arg-type]
    proj = projection_metrics(tests)
    null = projection_null(tests, options.alpha)
    return _Shared(sub, None, proj, time.perf_counter() - t0, null)


def _plot_arrays(diag: Any, shared: _Shared, view: str) -> dict[str, Any]:
    """What the plots draw (see :attr:`Row.arrays`): the first columns of the view, read in
    row blocks (no float64 copy of the matrix)."""
    from .diagnostics.blocks import read_columns

    k = min(PLOT_COLUMNS, diag.d)
    norms = diag.norms.norms  # raw row norms of the tested rows
    columns = read_columns(shared.sub, 0, k)
    if view == "l2":
        columns /= norms[:, None]
    arrays = {
        "ad_statistic": diag.ad.statistic,
        "dp_pvalue": diag.dp.pvalue,
        "norms": norms,
        "columns": columns,
        "column_index": np.arange(k),
    }
    if shared.sphere is not None:
        arrays |= {
            "eigenvalues": shared.sphere.scatter.eigenvalues,
            "proj_columns": shared.sphere.projections.columns,
            "proj_ad_statistic": shared.sphere.projections.ad.statistic,
        }
    return arrays


def _view_row(
    x: Any,
    view: str,
    info: RowInfo,
    protocol: Protocol,
    options: DiagnoseOptions,
    gates: Gates,
    shared: _Shared,
) -> Row:
    """Diagnose one view of the matrix and judge it."""
    from .diagnostics import apply_view, diagnose

    t0 = time.perf_counter()
    diag = diagnose(
        x, view=view, n=protocol.n, seed=protocol.seed, budget=options.memory_budget, checked=True
    )
    metrics, null = diag.metrics(), diag.null_dict(options.alpha)
    if shared.sphere is not None:
        from .diagnostics.detail import calibration_detail, detail_metrics, detail_null

        tested = apply_view(shared.sub, view) if options.bootstrap > 0 else None
        label = f"bootstrap: {options.bootstrap} resamples of the rows ({view})"
        with steps(label) if options.bootstrap else nullcontext():  # spinner, elapsed time
            calib = calibration_detail(
                diag, tested, bootstrap=options.bootstrap, seed=protocol.seed
            )
        metrics |= detail_metrics(shared.sphere, calib)
        null |= detail_null(shared.sphere, options.alpha)
    metrics |= dict(shared.proj_metrics) | dict(info.extra_metrics)
    null |= dict(shared.proj_null)
    asked = protocol.verdict_view(view)
    joint_metrics, joint_null = _gaussian(asked, shared, protocol)
    metrics |= joint_metrics | dict(shared.sphere_metrics)
    null |= joint_null | dict(shared.sphere_null)
    elapsed = time.perf_counter() - t0 + shared.seconds
    verdict = judge(metrics, options.verdict_rule, options.verdict, null, view=asked)
    warnings = _dead_warning(diag.dead_columns, diag.d)
    row_protocol = {"n": diag.n, "d": diag.d, "seed": protocol.seed, "view": view}
    row_protocol |= dict(info.protocol)
    if options.verdict != "coordinates":
        row_protocol["verdict"] = options.verdict
    key = {"model": info.model, "tower": info.tower, "protocol": row_protocol, "metrics": metrics}
    key["data"] = dict(info.data)
    per_coordinate = {"ad_statistic": diag.ad.statistic, "dp_pvalue": diag.dp.pvalue}
    return Row(
        model=info.model,
        tower=info.tower,
        objective=info.objective,
        backend=info.backend,
        data=dict(info.data),
        protocol=row_protocol,
        provenance=info.provenance,
        metrics=metrics,
        null=null,
        verdict=verdict,
        gates=tuple(evaluate_gates(key, verdict, gates)),
        timing={**info.timing, "diagnose_s": round(elapsed, 4)},
        per_coordinate=per_coordinate if options.per_coordinate else None,
        arrays=_plot_arrays(diag, shared, view) if options.keep_arrays else None,
        warnings=tuple(warnings),
    )


def _dead_warning(dead: Sequence[int], d: int) -> list[str]:
    """The footer line naming the dead coordinates (left out of the compliances)."""
    if not dead:
        return []
    if len(dead) == d:
        return ["every coordinate is dead (no spread): nothing to test, the compliances are 0"]
    shown = ", ".join(str(i) for i in dead[:8])
    more = f", ... ({len(dead)} in all)" if len(dead) > 8 else ""
    return [
        "dead coordinate(s) left out of the compliances (std < 1e-6 x the median "
        f"coordinate's): {shown}{more}"
    ]


def diagnose_rows(
    x: Any,
    info: RowInfo,
    protocol: Protocol = Protocol(),
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
) -> list[Row]:
    """Diagnose one embedding matrix under the protocol's view(s); one :class:`Row` per view.

    ``options.keep_arrays`` keeps what the plots need in ``Row.arrays``; ``options.detail``
    adds the rotation-invariant, sphere-level and calibrated diagnostics (docs/diagnostics.md)
    to ``metrics`` and ``null``; ``options.bootstrap`` B > 0 adds bootstrap CIs of the
    compliances (with ``detail``); ``options.verdict="projections"`` judges on the
    random-projection compliances (computed even without ``detail``);
    ``options.memory_budget`` bounds the working memory (``x`` may be memory-mapped).
    """
    from .diagnostics import validate_matrix

    return _checked_rows(validate_matrix(x), info, protocol, options, gates)


def _checked_rows(
    x: Any, info: RowInfo, protocol: Protocol, options: DiagnoseOptions, gates: Gates
) -> list[Row]:
    """:func:`diagnose_rows` of a matrix already through ``validate_matrix``."""
    from .refstore import use_disk_store

    use_disk_store()  # simulated references are kept on disk between runs
    shared = _joint(x, protocol, options, _shared(x, protocol, options))
    return [_view_row(x, v, info, protocol, options, gates, shared) for v in protocol.views]


def check_file(
    path: str | Path,
    *,
    key: str | None = None,
    name: str | None = None,
    protocol: Protocol = Protocol(),
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
) -> list[Row]:
    """``infogauss check``: audit an embedding matrix stored in a file."""
    from .diagnostics import validate_matrix
    from .readers import read_matrix

    path = Path(path)
    t0 = time.perf_counter()
    x = validate_matrix(read_matrix(path, key))
    info = RowInfo(
        model=name or path.name + (f"[{key}]" if key else ""),
        backend="file",
        data={"source": f"file:{path}", "items": int(x.shape[0]), "skipped": 0},
        protocol={"precision": str(np.asarray(x).dtype), "device": None},
        timing={"load_s": round(time.perf_counter() - t0, 4)},
    )
    return _checked_rows(x, info, protocol, options, gates)


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
    from .extract import ShardWork, resolve_towers
    from .sources import parse_data_spec

    entries = compute.resolve(list(refs))
    source = parse_data_spec(data.data, console=console, **data.source_options())
    plan = [
        (entry, resolve_towers(entry.towers, source, data.tower, entry.ref)) for entry in entries
    ]
    cache = compute.cache()
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
    from .depth import extract_layers

    rows: list[Row] = []
    cache = compute.cache()
    for t in towers:
        found = extract_layers(entry, source, t, protocol, compute, cache, data, console)
        for name, ex in found:
            rows += _model_rows(entry, source, t, ex, {}, protocol, options, gates, layer=name)
    return rows


def extract_tower(
    entry: Any,
    source: Any,
    tower: str,
    protocol: Protocol,
    compute: Compute,
    cache: Any,
    data: DataOptions,
    console: Any,
    encoder: Any = None,
) -> Any:
    """The extraction of one tower (with ``encoder``: that one, e.g. one layer of a depth
    profile, instead of building the entry's), or the :class:`RunError` that stopped it (the
    other models still run)."""
    from .extract import extract_model

    try:
        return extract_model(
            entry,
            source,
            tower,
            protocol,
            compute,
            cache=cache,
            console=console,
            strict=data.strict,
            encoder=encoder,
        )
    except RunError as exc:
        return exc


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
    from .sources import data_section

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
    from .weights_digest import identity_sha256

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
    from .diagnostics.paired import pair_indices, paired_stats

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
