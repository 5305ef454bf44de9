"""`infogauss check FILE`: audit an embedding matrix from a file, no model needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import gate_options as g
from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.cli.output import emit


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
    view: o.ViewOpt = o.View.auto,
    detail: o.DetailOpt = False,
    bootstrap: o.BootstrapOpt = 0,
    memory_budget: o.MemoryBudgetOpt = None,
    verdict: o.VerdictModeOpt = o.VerdictMode.coordinates,
    rule: o.RuleOpt = o.RuleName.calibrated,
    alpha: o.AlphaOpt = 0.05,
    json_out: o.JsonOpt = None,
    markdown: o.MarkdownOpt = None,
    html: o.HtmlOpt = None,
    plots: o.PlotsOpt = None,
    per_coordinate: o.PerCoordinateOpt = False,
    quiet: o.QuietOpt = False,
    require: g.RequireOpt = None,
    max_cv: g.MaxCvOpt = None,
    min_ad_compliance: g.MinAdOpt = None,
    min_dp_compliance: g.MinDpOpt = None,
    max_ad_mean: g.MaxAdMeanOpt = None,
    max_effect: g.MaxEffectOpt = None,
    baseline: g.BaselineOpt = None,
    max_drop: g.MaxDropOpt = None,
) -> None:
    """Audit embedding matrices stored in files (.npy .npz .safetensors .pt .csv .tsv .parquet).

    Example: [bold]infogauss check emb.npy --require gaussian --json -[/]
    """
    params = locals()
    from infogauss_cli.core.options import DiagnoseOptions, Outputs, Protocol
    from infogauss_cli.pipelines.check import check_file

    if name is not None and len(files) > 1:
        raise typer.BadParameter("--name labels a single FILE", param_hint="--name")
    out = o.from_params(Outputs, params)
    inputs = [*(("FILE", f) for f in files), ("--baseline", baseline)]
    out.preflight(inputs)  # every output writable, and no input, before any file is read
    protocol = o.from_params(Protocol, params)
    options = o.from_params(DiagnoseOptions, params, keep_arrays=out.needs_arrays)
    gates = g.gates(params)
    rows = [
        row
        for file in files
        for row in check_file(
            file, key=key, name=name, protocol=protocol, options=options, gates=gates
        )
    ]
    emit(rows, out)
