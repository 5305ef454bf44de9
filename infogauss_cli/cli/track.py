"""`infogauss track`: the same data and protocol over a sequence of checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import gate_options as g
from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.cli.output import publish

_T = "Checkpoints"


class Trend(str, Enum):
    up = "up"
    down = "down"
    flat = "flat"


def _steps(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            "expected comma-separated integers", param_hint="--steps"
        ) from None


@handle_errors
def track_cmd(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="TARGET...",
            help="A folder (or .json files) of `synthetic --save-checkpoints`; or a training run's "
            "folder of sentence-transformers / Hugging Face checkpoints (checkpoint-N/); or one "
            "zoo entry with --weights; or several zoo refs, one per checkpoint (zoo ids, or "
            "hf:ID, timm:NAME, open_clip:NAME[:PRETRAINED], st:ID).",
            show_default=False,
        ),
    ],
    weights: Annotated[
        list[str] | None,
        typer.Option(
            "--weights",
            metavar="GLOB",
            help="Weights files of the one zoo entry, one per checkpoint (a quoted glob such "
            "as 'ckpt/step-*.safetensors'; repeatable).",
            rich_help_panel=_T,
        ),
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option(
            "--steps",
            metavar="LIST",
            help="Steps of the checkpoints in the order given (default: parsed from the names: "
            "the number after step/epoch/checkpoint, else the last number).",
            rich_help_panel=_T,
        ),
    ] = None,
    require_trend: Annotated[
        Trend | None,
        typer.Option(
            "--require-trend",
            help="Gate on the first-to-last change of AD and DP compliance: up/down = beyond "
            "the width of the null's 95% band, flat = within it (see docs/training.md).",
            rich_help_panel="Gates",
        ),
    ] = None,
    data: o.DataOpt = "coco-val2017",
    tower: o.TowerOpt = o.Tower.all,
    n: o.NOpt = None,
    seed: o.SeedOpt = 0,
    view: Annotated[
        o.View | None,
        typer.Option(
            "--view",
            help="l2, raw or both (default l2; synthetic checkpoints: the view they were saved "
            "with).",
            rich_help_panel="Protocol",
        ),
    ] = None,
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
    json_out: o.JsonOpt = None,
    markdown: o.MarkdownOpt = None,
    html: o.HtmlOpt = None,
    plots: o.PlotsOpt = None,
    quiet: o.QuietOpt = False,
    require: g.RequireOpt = None,
    max_cv: g.MaxCvOpt = None,
    min_ad_compliance: g.MinAdOpt = None,
    min_dp_compliance: g.MinDpOpt = None,
    max_ad_mean: g.MaxAdMeanOpt = None,
    max_effect: g.MaxEffectOpt = None,
) -> None:
    """Diagnose every checkpoint of a training run on the same data: one row per checkpoint
    (JSON rows carry `step`), a trajectory plot (--plots DIR/trajectory.png, and in --html).
    Threshold gates apply to the last checkpoint; --require-trend to the change over the run.

    Examples:

      [bold]infogauss synthetic --quick --eval-epochs 5,10,20 --save-checkpoints ckpt/[/]
      then [bold]infogauss track ckpt/ --html track.html[/]

      [bold]infogauss track my-encoder --weights 'runs/step-*.safetensors' --data text:s.txt[/]

      [bold]infogauss track runs/st-finetune/ --data text:s.txt --require-trend up[/]
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
    from infogauss_cli.extract.store import check_cache_writable
    from infogauss_cli.pipelines.track import track_synthetic, track_zoo, zoo_checkpoints
    from infogauss_cli.pipelines.track_folders import folder_checkpoints, targets_kind

    out = o.from_params(Outputs, params)
    out.preflight(_inputs(targets, weights or (), zoo))
    if not no_cache:
        check_cache_writable(o.from_params(Compute, params))
    options = o.from_params(DiagnoseOptions, params, keep_arrays=out.needs_arrays)
    gates = g.gates(params)
    trend = require_trend.value if require_trend else None
    local = all(Path(t).exists() for t in targets)
    if revision is not None and local:
        raise typer.BadParameter("--revision pins a zoo model's hub weights, not local checkpoints")
    kind = targets_kind(targets)
    if kind == "folders" and weights:
        raise typer.BadParameter("--weights goes with one zoo entry, not a run folder")
    if kind == "synthetic":
        if weights or steps:
            raise typer.BadParameter(
                "synthetic checkpoints carry their steps: no --weights or --steps"
            )
        request = Request(diagnose=options, gates=gates)
        v = view.value if view else None
        result = track_synthetic(targets, request, view=v, n=n, trend=trend)
    else:
        if kind == "folders":
            checkpoints = folder_checkpoints(targets[0], _steps(steps))
        else:
            checkpoints = zoo_checkpoints(
                targets,
                weights=weights or (),
                steps=_steps(steps),
                zoo=zoo,
                revision=revision,
                objective=objective,
            )
        request = Request(
            protocol=o.from_params(Protocol, params, view=view.value if view else "l2"),
            data=o.from_params(DataOptions, params),
            compute=o.from_params(Compute, params, use_cache=not no_cache),
            diagnose=options,
            gates=gates,
        )
        result = track_zoo(checkpoints, request, trend)
    drawable = [s for s in result.series if any(r.error is None for r in s.rows)]
    sections = []
    if drawable and html:
        from infogauss_cli.report.trajectory import trajectory_section

        sections.append(trajectory_section(drawable))
    code = publish(result.rows, out, html_sections=sections)
    if drawable and plots:
        from infogauss_cli.report.trajectory import write_trajectory_plot

        write_trajectory_plot(drawable, plots)
    raise typer.Exit(code)


def _inputs(targets: list[str], weights: Sequence[str], zoo: object) -> list[tuple[str, object]]:
    """What ``track`` reads (checkpoints, weights files, the zoo): no output may be one."""
    import glob

    from infogauss_cli.pipelines.track_folders import read_files

    found: list[tuple[str, object]] = [("--zoo", zoo)]
    found += [("TARGET", f) for t in targets for f in read_files(t)]
    patterns = [p for w in weights for p in (glob.glob(w) if glob.has_magic(w) else [w])]
    found += [("--weights", f) for w in patterns for f in read_files(w)]
    return found
