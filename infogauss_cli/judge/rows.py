"""One embedding matrix -> report rows: the diagnostics of each view, the joint tests, the
sphere tests and the calls (:func:`diagnose_rows`). Models and files are :mod:`.audit`'s."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infogauss_cli.core.options import DiagnoseOptions, Protocol
from infogauss_cli.core.progress import steps
from infogauss_cli.judge.gates import Gates, evaluate_gates
from infogauss_cli.judge.model import Row, RowSource
from infogauss_cli.judge.verdict import Rule, judge

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

    from infogauss_cli.diagnostics.gaussian import joint_sample
    from infogauss_cli.diagnostics.sphere import sphere_metrics, sphere_tests

    t0 = time.perf_counter()
    joint = joint_sample(x, protocol.n, protocol.seed)
    metrics, null = sphere_metrics(sphere_tests(joint, alpha=options.alpha))
    seconds = shared.seconds + time.perf_counter() - t0
    return replace(shared, joint=joint, sphere_metrics=metrics, sphere_null=null, seconds=seconds)


def _gaussian(view: str, shared: _Shared, protocol: Protocol, alpha: float) -> tuple[dict, dict]:
    """The decorrelated tests' metrics and null of ``view`` on the joint rows."""
    from infogauss_cli.diagnostics.gaussian import gaussian_metrics, gaussian_tests

    return gaussian_metrics(gaussian_tests(shared.joint, view, seed=protocol.seed), alpha)


def _shared(x: Any, protocol: Protocol, options: DiagnoseOptions) -> _Shared:
    """Subsample once, and run what does not depend on the view (sphere-level detail, or
    the projection compliances the projections verdict reads)."""
    from infogauss_cli.diagnostics import subsample

    projections = options.verdict == "projections"
    if not (options.detail or projections or options.keep_arrays):
        return _Shared()
    sub = subsample(x, protocol.n, protocol.seed)[0]
    if not (options.detail or projections):
        return _Shared(sub=sub)
    from infogauss_cli.diagnostics.projections import projection_tests
    from infogauss_cli.diagnostics.suite import projection_metrics, projection_null, sphere_detail

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
    from infogauss_cli.diagnostics.blocks import read_columns

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
    from infogauss_cli.diagnostics import apply_view
    from infogauss_cli.diagnostics.diagnosis import diagnose_valid

    t0 = time.perf_counter()
    diag = diagnose_valid(x, view, n=protocol.n, seed=protocol.seed, budget=options.memory_budget)
    metrics, null = diag.metrics(), diag.null_dict(options.alpha)
    if shared.sphere is not None:
        from infogauss_cli.diagnostics.suite import calibration_detail, detail_metrics, detail_null

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
    joint_metrics, joint_null = _gaussian(asked, shared, protocol, options.alpha)
    metrics |= joint_metrics | dict(shared.sphere_metrics)
    null |= joint_null | dict(shared.sphere_null)
    elapsed = time.perf_counter() - t0 + shared.seconds
    rule = Rule(name=options.rule, alpha=options.alpha)
    verdict = judge(metrics, rule, options.verdict, null, view=asked)
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
    from infogauss_cli.diagnostics import validate_matrix

    return checked_rows(validate_matrix(x), info, protocol, options, gates)


def checked_rows(
    x: Any, info: RowInfo, protocol: Protocol, options: DiagnoseOptions, gates: Gates
) -> list[Row]:
    """:func:`diagnose_rows` of a matrix already through ``validate_matrix``."""
    from infogauss_cli.diagnostics.refstore import use_disk_store

    use_disk_store()  # simulated references are kept on disk between runs
    shared = _joint(x, protocol, options, _shared(x, protocol, options))
    return [_view_row(x, v, info, protocol, options, gates, shared) for v in protocol.views]
