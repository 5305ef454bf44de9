"""`infogauss track`: the same data and protocol over a sequence of checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.output import publish
from infogauss_cli.extract.store import check_cache_writable
from infogauss_cli.report.html import trajectory_section
from infogauss_cli.report.plots import write_figures
from infogauss_cli.report.plots.charts import trajectory_spec

Trend = o.choices("Trend", ("up", "down", "flat"))
VIEW_HELP = "l2, raw or both (default l2; synthetic checkpoints: the view they were saved with)."
CHECKPOINTS = (
    o.shared(list[str] | None, None, "--weights", "Checkpoints", metavar="GLOB"),
    o.shared(str | None, None, "--steps", "Checkpoints", metavar="LIST"),
    o.shared(Trend | None, None, "--require-trend", o.G),  # type: ignore[valid-type]
)
VIEW = o.shared(o.View | None, None, "--view", o.P, help=VIEW_HELP)


@o.command(CHECKPOINTS, o.DATA[:2], o.SAMPLE, VIEW, o.JUDGE, o.COMPUTE, o.FILES, o.QUIET, o.GATES)
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
    **params: object,
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
    from infogauss_cli.pipelines import track as T  # numpy

    p = {k: getattr(v, "value", v) for k, v in params.items()}
    weights, trend, view = (p[k] for k in ("weights", "require_trend", "view"))
    steps = o.ints(p["steps"], "--steps")  # type: ignore[arg-type]
    weights = T.expand_weights(weights or ())
    named = [("TARGET", t) for t in targets] + [("--weights", w) for w in weights]
    reads = [("--zoo", params["zoo"]), *((k, f) for k, t in named for f in T.read_files(t))]
    req = o.request(params, reads, view=view or "l2")
    out = req.outputs
    if req.compute.use_cache:
        check_cache_writable(req.compute)
    if p["revision"] is not None and all(Path(t).exists() for t in targets):
        raise typer.BadParameter("--revision pins a zoo model's hub weights, not local checkpoints")
    kind = T.targets_kind(targets)
    if kind == "folders" and weights:
        raise typer.BadParameter("--weights goes with one zoo entry, not a run folder")
    if kind == "synthetic" and (weights or steps):
        raise typer.BadParameter("synthetic checkpoints carry their steps: no --weights, --steps")
    if kind == "synthetic":
        series = T.track_synthetic(targets, req, view, trend)
    elif kind == "folders":
        series = T.track_zoo(T.folder_checkpoints(targets[0], steps), req, trend)
    else:
        series = T.track_zoo(T.zoo_checkpoints(targets, req.compute, weights, steps), req, trend)
    drawable = [s for s in series if any(r.error is None for r in s.rows)]
    sections = [trajectory_section(drawable)] if drawable and out.html else []
    code = publish([r for s in series for r in s.rows], out, sections)
    if drawable and out.plots:
        write_figures(out.plots, [trajectory_spec(drawable)])
    raise typer.Exit(code)
