"""Library entry points: an embedding matrix (and later a model) -> report rows.

The CLI is a thin wrapper over these; they know nothing of the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadInputError, RunError
from .report.model import Row
from .verdict import VERDICT_MODES, Gates, Rule, evaluate_gates, judge, row_warnings

VIEWS = {"l2": ("l2",), "raw": ("raw",), "both": ("l2", "raw")}
PLOT_COLUMNS = 6  # coordinates kept for the QQ plots


def views_for(view: str) -> tuple[str, ...]:
    """``l2``/``raw``/``both`` -> the views to run."""
    return VIEWS[view]


def diagnose_rows(
    x: Any,
    *,
    model: str,
    view: str = "l2",
    n: int | None = None,
    seed: int = 0,
    gates: Gates = Gates(),
    rule: Rule = Rule(),
    per_coordinate: bool = False,
    tower: str | None = None,
    objective: str | None = None,
    backend: str | None = None,
    data: Mapping[str, Any] | None = None,
    protocol: Mapping[str, Any] | None = None,
    timing: Mapping[str, Any] | None = None,
    keep_arrays: bool = False,
    detail: bool = False,
    bootstrap: int = 0,
    verdict_mode: str = "coordinates",
    extra_metrics: Mapping[str, Any] | None = None,
) -> list[Row]:
    """Diagnose one embedding matrix under one or both views; one :class:`Row` per view.

    ``keep_arrays`` keeps what the plots need (per-coordinate statistics, raw norms, a few
    coordinates of the tested view; with ``detail`` the spectrum and a few projections) in
    ``Row.arrays``. ``detail`` adds the rotation-invariant, sphere-level and calibrated
    diagnostics (docs/diagnostics.md) to ``metrics`` and ``null``; ``bootstrap`` B > 0 adds
    bootstrap CIs of the compliances (B resamples of the rows; implies nothing without
    ``detail``). ``verdict_mode="projections"`` judges on the random-projection compliances
    (computed even without ``detail``). ``extra_metrics`` are merged into every row's metrics
    (e.g. ``paired_alignment`` / ``modality_gap``).
    """
    from .diagnostics import apply_view, diagnose, subsample, validate_matrix
    from .refstore import use_disk_store

    use_disk_store()  # simulated references are kept on disk between runs

    if verdict_mode not in VERDICT_MODES:
        raise BadInputError(
            f"unknown verdict mode {verdict_mode!r}; expected one of {', '.join(VERDICT_MODES)}"
        )
    if bootstrap < 0:
        raise BadInputError(f"--bootstrap must be >= 0, got {bootstrap}")
    sphere = None
    proj_metrics: dict[str, Any] = {}
    proj_null: dict[str, Any] = {}
    sphere_s = 0.0
    # the rows tested (a seeded subsample), for what works on them beyond diagnose()
    sub = None
    if detail or verdict_mode == "projections" or keep_arrays:
        sub = subsample(validate_matrix(x), n, seed)[0]
    if detail or verdict_mode == "projections":
        from .diagnostics.detail import projection_metrics, projection_null, sphere_detail
        from .diagnostics.projections import projection_tests

        t0 = time.perf_counter()
        if detail:
            sphere = sphere_detail(sub, seed=seed)
        else:
            proj = projection_tests(sub, seed=seed)
            proj_metrics = projection_metrics(proj)
            proj_null = projection_null(proj, rule.alpha)
        sphere_s = time.perf_counter() - t0
    rows = []
    for v in views_for(view):
        t0 = time.perf_counter()
        diag = diagnose(x, view=v, n=n, seed=seed)
        metrics = diag.metrics()
        null = diag.null_dict(rule.alpha)
        if sphere is not None:
            from .diagnostics.detail import calibration_detail, detail_metrics, detail_null

            tested = apply_view(sub, v) if bootstrap > 0 else None
            calib = calibration_detail(diag, tested, bootstrap=bootstrap, seed=seed)
            metrics |= detail_metrics(sphere, calib)
            null |= detail_null(sphere, rule.alpha)
        null |= proj_null
        metrics |= proj_metrics
        metrics |= dict(extra_metrics or {})
        elapsed = time.perf_counter() - t0 + sphere_s
        arrays = None
        if keep_arrays:
            sub64 = np.asarray(sub, dtype=np.float64)
            k = min(PLOT_COLUMNS, diag.d)
            arrays = {
                "ad_statistic": diag.ad.statistic,
                "dp_pvalue": diag.dp.pvalue,
                "norms": np.linalg.norm(sub64, axis=1),
                "columns": apply_view(sub64, v)[:, :k],
                "column_index": np.arange(k),
            }
            if sphere is not None:
                arrays |= {
                    "eigenvalues": sphere.scatter.eigenvalues,
                    "proj_columns": sphere.projections.columns,
                    "proj_ad_statistic": sphere.projections.ad.statistic,
                }
        verdict = judge(metrics, rule, verdict_mode, null)
        warnings = row_warnings(metrics, null, verdict, diag.n, verdict_mode)
        if diag.dead_columns:
            shown = ", ".join(str(i) for i in diag.dead_columns[:8])
            more = f", ... ({len(diag.dead_columns)} in all)" if len(diag.dead_columns) > 8 else ""
            warnings.append(
                f"dead coordinate(s) left out of the compliances (std < 1e-6 x the median "
                f"coordinate's): {shown}{more}"
            )
        row_protocol = {"n": diag.n, "d": diag.d, "seed": seed, "view": v, **(protocol or {})}
        if verdict_mode != "coordinates":
            row_protocol["verdict"] = verdict_mode
        key = {"model": model, "tower": tower, "protocol": row_protocol, "metrics": metrics}
        rows.append(
            Row(
                model=model,
                tower=tower,
                objective=objective,
                backend=backend,
                data=dict(data or {}),
                protocol=row_protocol,
                metrics=metrics,
                null=null,
                verdict=verdict,
                gates=tuple(evaluate_gates(key, verdict, gates)),
                timing={**(timing or {}), "diagnose_s": round(elapsed, 4)},
                per_coordinate=(
                    {"ad_statistic": diag.ad.statistic, "dp_pvalue": diag.dp.pvalue}
                    if per_coordinate
                    else None
                ),
                arrays=arrays,
                warnings=tuple(warnings),
            )
        )
    return rows


def check_file(
    path: str | Path,
    *,
    key: str | None = None,
    name: str | None = None,
    view: str = "l2",
    n: int | None = None,
    seed: int = 0,
    gates: Gates = Gates(),
    rule: Rule = Rule(),
    per_coordinate: bool = False,
    keep_arrays: bool = False,
    detail: bool = False,
    bootstrap: int = 0,
    verdict_mode: str = "coordinates",
) -> list[Row]:
    """``infogauss check``: audit an embedding matrix stored in a file."""
    from .diagnostics import validate_matrix
    from .readers import read_matrix

    path = Path(path)
    t0 = time.perf_counter()
    x = validate_matrix(read_matrix(path, key))
    load_s = time.perf_counter() - t0
    label = name or path.name + (f"[{key}]" if key else "")
    return diagnose_rows(
        x,
        model=label,
        view=view,
        n=n,
        seed=seed,
        gates=gates,
        rule=rule,
        per_coordinate=per_coordinate,
        backend="file",
        data={"source": f"file:{path}", "items": int(x.shape[0]), "skipped": 0},
        protocol={"precision": str(np.asarray(x).dtype), "device": None},
        timing={"load_s": round(load_s, 4)},
        keep_arrays=keep_arrays,
        detail=detail,
        bootstrap=bootstrap,
        verdict_mode=verdict_mode,
    )


def gates_from_options(
    *,
    require: str | None = None,
    max_cv: float | None = None,
    min_ad_compliance: float | None = None,
    min_dp_compliance: float | None = None,
    max_ad_mean: float | None = None,
    max_effect: float | None = None,
    baseline: str | Path | None = None,
    max_drop: float | None = None,
) -> Gates:
    """Build :class:`Gates`, reading the baseline report if one is named."""
    rows: Sequence[Mapping[str, Any]] | None = None
    if baseline is not None:
        from .report.json_report import read_report

        rows = tuple(read_report(Path(baseline))["rows"])
    return Gates(
        require=require,
        max_cv=max_cv,
        min_ad_compliance=min_ad_compliance,
        min_dp_compliance=min_dp_compliance,
        max_ad_mean=max_ad_mean,
        max_effect=max_effect,
        max_drop=max_drop,
        baseline=rows,
    )


def audit_models(
    refs: Sequence[str],
    *,
    data: str = "coco-val2017",
    data_options: Mapping[str, Any] | None = None,
    tower: str = "all",
    n: int | None = None,
    seed: int = 0,
    view: str = "l2",
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
    workers: int | None = None,
    zoo: str | Path | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    strict: bool = False,
    gates: Gates = Gates(),
    rule: Rule = Rule(),
    per_coordinate: bool = False,
    keep_arrays: bool = False,
    detail: bool = False,
    bootstrap: int = 0,
    verdict_mode: str = "coordinates",
    progress: bool = True,
    console: Any = None,
) -> list[Row]:
    """``infogauss audit`` / ``compare``: zoo -> data source -> extraction (cached) ->
    diagnostics -> verdict, one :class:`Row` per model x tower x view, in the order given.

    Bad usage (unknown model, bad data spec, a tower the data cannot feed) raises
    :class:`BadInputError` before any model is built. A model that fails to load or run gives
    an error row, and the others still run.
    """
    from .extract import extract_model, resolve_towers
    from .sources import data_section, parse_data_spec
    from .store import EmbeddingCache
    from .zoo import load_zoo

    registry = load_zoo(zoo)
    entries = [registry.resolve(ref) for ref in refs]
    source = parse_data_spec(data, **(data_options or {}))
    plan = [(entry, resolve_towers(entry.towers, source, tower)) for entry in entries]
    cache = EmbeddingCache(cache_dir) if use_cache else None
    rows: list[Row] = []
    for entry, towers in plan:  # all towers of a model first: paired metrics need both
        done: dict[str, tuple[dict[str, Any], Any]] = {}
        for t in towers:
            info = {
                "model": entry.ref,
                "tower": t,
                "objective": entry.objective if entry.pretrained else "random-init",
                "backend": entry.backend,
            }
            try:
                ex = extract_model(
                    entry,
                    source,
                    t,
                    n=n,
                    seed=seed,
                    device=device,
                    precision=precision,
                    batch_size=batch_size,
                    workers=workers,
                    cache=cache,
                    strict=strict,
                    progress=progress,
                    console=console,
                )
            except RunError as exc:  # this model failed to load or run; the others still run
                done[t] = (info, exc)
                continue
            done[t] = (info, ex)
        paired = paired_metrics(source, done) if detail else {}
        for info, ex in done.values():
            if isinstance(ex, RunError):
                rows.append(Row(**info, data={"source": source.name}, error=str(ex)))
                continue
            rows += diagnose_rows(
                ex.embeddings,
                **info,
                view=view,
                n=n,
                seed=seed,
                gates=gates,
                rule=rule,
                per_coordinate=per_coordinate,
                keep_arrays=keep_arrays,
                detail=detail,
                bootstrap=bootstrap,
                verdict_mode=verdict_mode,
                extra_metrics=paired,
                data=data_section(source, info["tower"], ex),
                protocol={"precision": ex.precision, "device": ex.device},
                timing={
                    "extract_s": round(ex.extract_s, 3),
                    "items_per_s": round(ex.items_per_s, 2),
                    "from_cache": round(ex.from_cache, 3),
                },
            )
    return rows


def paired_metrics(source: Any, done: Mapping[str, tuple[Any, Any]]) -> dict[str, Any]:
    """``paired_alignment``, ``modality_gap`` and ``paired_n`` between the image and text
    extractions of one model when the source pairs them (text items carry ``pair`` = the id
    of their image); {} when it does not, or no extracted pair survives subsampling."""
    from .diagnostics.paired import pair_indices, paired_stats

    img, txt = done.get("image"), done.get("text")
    if img is None or txt is None or isinstance(img[1], Exception):
        return {}
    if isinstance(txt[1], Exception):
        return {}
    pair_of = {it.id: it.pair for it in source.items("text")}
    ex_i, ex_t = img[1], txt[1]
    ia, ib = pair_indices(ex_i.ids, [pair_of.get(i) for i in ex_t.ids])
    if ia.size == 0 or ex_i.embeddings.shape[1] != ex_t.embeddings.shape[1]:
        return {}
    ps = paired_stats(np.asarray(ex_i.embeddings)[ia], np.asarray(ex_t.embeddings)[ib])
    return {
        "paired_alignment": ps.alignment,
        "modality_gap": ps.modality_gap,
        "paired_n": ps.n_pairs,
    }
