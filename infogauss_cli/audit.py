"""Library entry points: an embedding matrix (and later a model) -> report rows.

The CLI is a thin wrapper over these; they know nothing of the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .report.model import Row
from .verdict import Gates, Rule, evaluate_gates, judge

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
) -> list[Row]:
    """Diagnose one embedding matrix under one or both views; one :class:`Row` per view.

    ``keep_arrays`` keeps what the plots need (per-coordinate statistics, raw norms, a few
    coordinates of the tested view) in ``Row.arrays``.
    """
    from .diagnostics import apply_view, diagnose, subsample

    rows = []
    for v in views_for(view):
        t0 = time.perf_counter()
        diag = diagnose(x, view=v, n=n, seed=seed)
        elapsed = time.perf_counter() - t0
        arrays = None
        if keep_arrays:
            sub = np.asarray(subsample(np.asarray(x), n, seed)[0], dtype=np.float64)
            k = min(PLOT_COLUMNS, diag.d)
            arrays = {
                "ad_statistic": diag.ad.statistic,
                "dp_pvalue": diag.dp.pvalue,
                "norms": np.linalg.norm(sub, axis=1),
                "columns": apply_view(sub, v)[:, :k],
                "column_index": np.arange(k),
            }
        metrics = diag.metrics()
        verdict = judge(metrics, rule)
        row_protocol = {"n": diag.n, "d": diag.d, "seed": seed, "view": v, **(protocol or {})}
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
                null=diag.null_dict(),
                verdict=verdict,
                gates=tuple(evaluate_gates(key, verdict, gates)),
                timing={**(timing or {}), "diagnose_s": round(elapsed, 4)},
                per_coordinate=(
                    {"ad_statistic": diag.ad.statistic, "dp_pvalue": diag.dp.pvalue}
                    if per_coordinate
                    else None
                ),
                arrays=arrays,
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
    per_coordinate: bool = False,
    keep_arrays: bool = False,
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
        per_coordinate=per_coordinate,
        backend="file",
        data={"source": f"file:{path}", "items": int(x.shape[0]), "skipped": 0},
        protocol={"precision": str(np.asarray(x).dtype), "device": None},
        timing={"load_s": round(load_s, 4)},
        keep_arrays=keep_arrays,
    )


def gates_from_options(
    *,
    require: str | None = None,
    max_cv: float | None = None,
    min_ad_compliance: float | None = None,
    min_dp_compliance: float | None = None,
    max_ad_mean: float | None = None,
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
        max_drop=max_drop,
        baseline=rows,
    )
