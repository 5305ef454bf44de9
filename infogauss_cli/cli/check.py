"""`infogauss check FILE`: audit an embedding matrix from a file, no model needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import options as o
from .errors import handle_errors
from .output import emit


@handle_errors
def check_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Embedding matrices (rows = items); several give one table.",
            show_default=False,
        ),
    ],
    key: Annotated[
        str | None, typer.Option("--key", help="Array to read from .npz/.safetensors/.pt files.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Row label (default: file name).")
    ] = None,
    n: o.NOpt = None,
    seed: o.SeedOpt = 0,
    view: o.ViewOpt = o.View.l2,
    detail: o.DetailOpt = False,
    bootstrap: o.BootstrapOpt = 0,
    verdict: o.VerdictModeOpt = o.VerdictMode.coordinates,
    rule: o.RuleOpt = o.RuleName.calibrated,
    alpha: o.AlphaOpt = 0.05,
    json_out: o.JsonOpt = None,
    markdown: o.MarkdownOpt = None,
    html: o.HtmlOpt = None,
    plots: o.PlotsOpt = None,
    per_coordinate: o.PerCoordinateOpt = False,
    quiet: o.QuietOpt = False,
    require: o.RequireOpt = None,
    max_cv: o.MaxCvOpt = None,
    min_ad_compliance: o.MinAdOpt = None,
    min_dp_compliance: o.MinDpOpt = None,
    max_ad_mean: o.MaxAdMeanOpt = None,
    max_effect: o.MaxEffectOpt = None,
    baseline: o.BaselineOpt = None,
    max_drop: o.MaxDropOpt = None,
) -> None:
    """Audit embedding matrices stored in files (.npy .npz .safetensors .pt .csv .tsv .parquet).

    Example: [bold]infogauss check emb.npy --require gaussian --json -[/]
    """
    from ..audit import check_file, gates_from_options
    from ..verdict import Rule

    gates = gates_from_options(
        require=require.value if require else None,
        max_cv=max_cv,
        min_ad_compliance=min_ad_compliance,
        min_dp_compliance=min_dp_compliance,
        max_ad_mean=max_ad_mean,
        max_effect=max_effect,
        baseline=baseline,
        max_drop=max_drop,
    )
    if name is not None and len(files) > 1:
        raise typer.BadParameter("--name labels a single FILE", param_hint="--name")
    rows = [
        row
        for file in files
        for row in check_file(
            file,
            key=key,
            name=name,
            view=view.value,
            n=n,
            seed=seed,
            gates=gates,
            rule=Rule(name=rule.value, alpha=alpha),
            per_coordinate=per_coordinate,
            keep_arrays=bool(html or plots),
            detail=detail,
            bootstrap=bootstrap,
            verdict_mode=verdict.value,
        )
    ]
    emit(rows, json_out=json_out, markdown=markdown, html=html, plots=plots, quiet=quiet)
