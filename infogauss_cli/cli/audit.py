"""`infogauss audit MODEL` and `infogauss compare MODEL MODEL...`: the paper's table end to end."""

from __future__ import annotations

from typing import Annotated

import typer

from infogauss_cli.cli import gate_options as g
from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.cli.output import emit


@handle_errors
def audit_cmd(
    models: Annotated[
        list[str],
        typer.Argument(
            metavar="MODEL...",
            help=o.MODEL_HELP,
            show_default=False,
        ),
    ],
    data: o.DataOpt = "coco-val2017",
    tower: o.TowerOpt = o.Tower.all,
    captions: o.CaptionsOpt = "first",
    text_field: o.TextFieldOpt = None,
    streaming: o.StreamingOpt = False,
    strict: o.StrictOpt = False,
    download: o.DownloadOpt = False,
    n: o.NOpt = None,
    seed: o.SeedOpt = 0,
    layers: o.LayersOpt = None,
    view: o.ViewOpt = o.View.auto,
    detail: o.DetailOpt = False,
    bootstrap: o.BootstrapOpt = 0,
    memory_budget: o.MemoryBudgetOpt = None,
    verdict: o.VerdictModeOpt = o.VerdictMode.coordinates,
    rule: o.RuleOpt = o.RuleName.calibrated,
    alpha: o.AlphaOpt = 0.05,
    device: o.DeviceOpt = "auto",
    precision: o.PrecisionOpt = o.Precision.auto,
    batch_size: o.BatchSizeOpt = None,
    workers: o.WorkersOpt = None,
    decode: o.DecodeOpt = o.Decode.cpu,  # type: ignore[attr-defined]
    compile: o.CompileOpt = False,
    zoo: o.ZooOpt = None,
    revision: o.RevisionOpt = None,
    objective: o.ObjectiveOpt = None,
    cache_dir: o.CacheDirOpt = None,
    no_cache: o.NoCacheOpt = False,
    shard: o.ShardOpt = None,
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
    """Embed the data with each model (cache reused), run the diagnostics, print the verdict.

    A two-tower model (CLIP) gives two rows: image tower on the images, text on the captions.

    Examples:

      [bold]infogauss audit clip-vit-l14[/]

      [bold]infogauss compare resnet34 dino --n 2000 --html report.html[/]

      [bold]infogauss audit st:sentence-transformers/all-MiniLM-L6-v2 --data text:s.txt[/]
    """
    params = locals()
    from infogauss_cli.core.options import (
        Compute,
        DataOptions,
        DiagnoseOptions,
        Outputs,
        Protocol,
        Request,
    )  # fmt: skip
    from infogauss_cli.extract.distributed import current_shard
    from infogauss_cli.extract.store import check_cache_writable
    from infogauss_cli.pipelines.audit import audit_models

    out = o.from_params(Outputs, params)
    compute = o.from_params(Compute, params, use_cache=not no_cache)
    from infogauss_cli.core.collisions import data_inputs

    inputs = [*data_inputs(data), ("--zoo", zoo), ("--baseline", baseline)]
    out.preflight(inputs)  # every output writable, and no input, before any model loads
    check_cache_writable(compute)
    share = current_shard(compute.shard)
    request = Request(
        protocol=o.from_params(Protocol, params),
        data=o.from_params(DataOptions, params),
        compute=compute,
        diagnose=o.from_params(DiagnoseOptions, params, keep_arrays=out.needs_arrays),
        gates=g.gates(params),
    )
    rows = audit_models(models, request, share)
    if share.synced and not share.assembles:
        raise typer.Exit(0)  # rank 0 reports; the ranks agree on its exit code
    if share.mode == "job" and not rows:
        if not quiet:
            typer.echo(o.SHARD_DONE.format(shard=share.label), err=True)
        raise typer.Exit(0)
    emit(rows, out)
