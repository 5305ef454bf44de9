"""One embedding matrix -> report rows: each view's diagnostics, joint and sphere tests, calls."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from infogauss_cli.core.options import DiagnoseOptions, Protocol
from infogauss_cli.core.progress import steps
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import Gates, Metrics, evaluate_gates, judge

if TYPE_CHECKING:
    from infogauss_cli.diagnostics.diagnosis import Diagnosis
    from infogauss_cli.diagnostics.suite import SphereDetail

PLOT_COLUMNS = 6  # coordinates kept for the QQ plots


@dataclass(frozen=True)
class _Shared:
    """What the views of one matrix ``x`` share (computed once by :func:`_shared`)."""

    x: np.ndarray
    protocol: Protocol
    options: DiagnoseOptions
    sub: np.ndarray | None
    sphere: SphereDetail | None
    joint: np.ndarray
    metrics: Metrics  # of the sphere tests
    null: Metrics
    seconds: float


def _shared(x: np.ndarray, protocol: Protocol, options: DiagnoseOptions) -> _Shared:
    """Subsample; the view-free detail tests; the joint rows and sphere tests."""
    from infogauss_cli.diagnostics import subsample
    from infogauss_cli.diagnostics.gaussian import joint_sample
    from infogauss_cli.diagnostics.sphere import sphere_tests

    seed = protocol.seed
    sub = subsample(x, protocol.n, seed)[0] if options.detail or options.keep_arrays else None
    t0 = time.perf_counter()
    sphere = None
    if options.detail:
        from infogauss_cli.diagnostics.suite import sphere_detail

        sphere = sphere_detail(sub, seed=seed, budget=options.memory_budget)  # type: ignore[arg-type]
    joint = joint_sample(x, protocol.n, seed)
    metrics, null = sphere_tests(joint, alpha=options.alpha)
    return _Shared(
        x, protocol, options, sub, sphere, joint, metrics, null, time.perf_counter() - t0
    )


def _plot_arrays(diag: Diagnosis, shared: _Shared, view: str) -> dict[str, np.ndarray]:
    """What the plots draw (:attr:`Row.arrays`); columns read in row blocks (no float64 copy)."""
    from infogauss_cli.diagnostics.validate import read_columns

    norms = diag.norms.norms  # raw row norms of the tested rows
    columns = read_columns(shared.sub, 0, min(PLOT_COLUMNS, diag.d))
    if view == "l2":
        columns /= norms[:, None]
    arrays = {"ad_statistic": diag.ad.statistic, "dp_pvalue": diag.dp.pvalue, "norms": norms}
    arrays["columns"] = columns
    if shared.sphere is not None:
        arrays |= {
            "eigenvalues": shared.sphere.scatter.eigenvalues,
            "proj_columns": shared.sphere.projections.columns,
            "proj_ad_statistic": shared.sphere.projections.ad.statistic,
        }
    return arrays


def _view_row(view: str, info: Row, gates: Gates, shared: _Shared) -> Row:
    """Diagnose one view of the matrix and judge it."""
    from infogauss_cli.diagnostics import apply_view
    from infogauss_cli.diagnostics.diagnosis import diagnose_valid
    from infogauss_cli.diagnostics.gaussian import gaussian_tests

    t0 = time.perf_counter()
    protocol, options = shared.protocol, shared.options
    seed, alpha = protocol.seed, options.alpha
    diag = diagnose_valid(shared.x, view, n=protocol.n, seed=seed, budget=options.memory_budget)
    metrics, null = diag.metrics(), diag.null_dict(alpha)
    if shared.sphere is not None:
        from infogauss_cli.diagnostics.suite import calibration_detail, detail_metrics, detail_null

        tested = apply_view(shared.sub, view) if options.bootstrap > 0 else None
        label = f"bootstrap: {options.bootstrap} resamples of the rows ({view})"
        with steps(label) if options.bootstrap else nullcontext():  # spinner, elapsed time
            metrics |= calibration_detail(diag, tested, bootstrap=options.bootstrap, seed=seed)
        metrics |= detail_metrics(shared.sphere)
        null |= detail_null(shared.sphere, alpha)
    asked = protocol.verdict_view(view)
    joint_metrics, joint_null = gaussian_tests(shared.joint, asked, seed=seed, alpha=alpha)
    metrics |= dict(info.metrics) | joint_metrics | dict(shared.metrics)
    null |= joint_null | dict(shared.null)
    elapsed = time.perf_counter() - t0 + shared.seconds
    verdict = judge(metrics, options.rule, alpha, null, asked)
    row_protocol = {"n": diag.n, "d": diag.d, "seed": seed, "view": view} | dict(info.protocol)
    per_coordinate = {"ad_statistic": diag.ad.statistic, "dp_pvalue": diag.dp.pvalue}
    row = replace(
        info,
        protocol=row_protocol,
        metrics=metrics,
        null=null,
        verdict=verdict,
        timing={**info.timing, "diagnose_s": round(elapsed, 4)},
        per_coordinate=per_coordinate if options.per_coordinate else None,
        arrays=_plot_arrays(diag, shared, view) if options.keep_arrays else None,
        warnings=_dead_warning(diag.dead_columns, diag.d),
    )
    return replace(row, gates=tuple(evaluate_gates(vars(row), verdict, gates)))


def _dead_warning(dead: Sequence[int], d: int) -> tuple[str, ...]:
    if len(dead) == d:
        return ("every coordinate is dead (no spread): nothing to test, the compliances are 0",)
    if not dead:
        return ()
    more = f", ... ({len(dead)} in all)" if len(dead) > 8 else ""
    text = "dead coordinate(s) left out of the compliances (std < 1e-6 x the median coordinate's)"
    return (f"{text}: {', '.join(str(i) for i in dead[:8])}{more}",)


def diagnose_rows(
    x: object,
    info: Row,
    protocol: Protocol = Protocol(),
    options: DiagnoseOptions = DiagnoseOptions(),
    gates: Gates = Gates(),
) -> list[Row]:
    """One :class:`Row` per view of the protocol for a matrix (may be memory-mapped); ``info``:
    what the matrix is and how it was obtained, its ``metrics`` joining every row's."""
    from infogauss_cli.diagnostics import validate_matrix

    return checked_rows(validate_matrix(x), info, protocol, options, gates)


def checked_rows(
    x: np.ndarray, info: Row, protocol: Protocol, options: DiagnoseOptions, gates: Gates
) -> list[Row]:
    """:func:`diagnose_rows` of a matrix already through ``validate_matrix``."""
    from infogauss_cli.diagnostics.refsim import use_disk_store

    use_disk_store()  # simulated references are kept on disk between runs
    shared = _shared(x, protocol, options)
    return [_view_row(v, info, gates, shared) for v in protocol.views]
