"""`infogauss synthetic` (the paper's synthetic experiments, end to end, on CPU) and `infogauss
demo` (offline, minutes on a CPU: synthetic rows and packaged models, an HTML report)."""

from __future__ import annotations

from pathlib import Path

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import terminal
from infogauss_cli.cli.output import publish
from infogauss_cli.core.options import Outputs
from infogauss_cli.judge.model import Row
from infogauss_cli.pipelines.synthetic import experiment
from infogauss_cli.pipelines.synthetic.checkpoints import CheckpointSaver
from infogauss_cli.pipelines.synthetic.train import preset

E, S = "Experiment", "Sweep"
Encoder = o.choices("Encoder", ("linear", "mlp"))
N_HELP = "Fresh held-out rows the tests see (default: the preset's)."
SEED_HELP = "Seed of data, initialisation and training."
EXPERIMENT = (
    o.shared(bool, False, "--quick", E),
    o.shared(str | None, None, "--settings", E, metavar="LIST"),
    o.shared(Encoder | None, None, "--encoder", E),
    o.shared(int | None, None, "--d", E, min=2, help="Embedding dimension d."),
    o.shared(
        int | None, None, "--batch-size", E, min=2, help="Training batch size (the paper's N)."
    ),
    o.shared(float | None, None, "--temperature", E, min=1e-6),
    o.shared(int | None, None, "--epochs", E, min=0),
    o.shared(str | None, None, "--eval-epochs", E, metavar="LIST"),
    o.shared(float | None, None, "--noise", E, min=0.0),
    o.shared(float | None, None, "--bit-noise", E, min=0.0, max=0.99),
    o.shared(float | None, None, "--reg", E, min=0.0),
    o.shared(int | None, None, "--n", o.P, min=20, help=N_HELP),
    o.shared(int, 0, "--seed", o.P, min=0, max=o.MAX_SEED, help=SEED_HELP),
    o.VIEW._replace(default=o.View.l2),  # type: ignore[attr-defined]
    *o.DETAIL,
    *o.JUDGE,
    o.shared(bool, False, "--sweep", S),
    o.shared(str | None, None, "--sweep-d", S, metavar="LIST"),
    o.shared(str | None, None, "--sweep-n", S, metavar="LIST"),
    o.shared(Path | None, None, "--save-checkpoints", E, metavar="DIR"),
)
DEMO = (
    o.shared(Path, Path("infogauss-demo"), "--out", o.OPT, metavar="DIR", file_okay=False),
    o.shared(bool, True, "--models/--no-models", o.OPT, name="models"),
)


def _publish(rows: list[Row], out: Outputs, *lines: str) -> int:
    """The report with the paper comparison (HTML and terminal), then ``lines``; its exit code."""
    code = publish(rows, out, experiment.comparison_sections(rows))
    if not out.quiet:
        console = terminal(out.to_stdout)
        if (table := experiment.render_comparison(rows)) is not None:
            console.print(table)
        for line in lines:
            console.print(line, highlight=False)
    return code


@o.command(EXPERIMENT, o.REPORT)
def synthetic_cmd(**params: object) -> None:
    """Train encoders on the paper's synthetic inputs (Laplace, Gaussian mixture, sparse binary)
    with InfoNCE (and a supervised contrast), and diagnose fresh held-out embeddings at epoch 0
    and after training; the paper's numbers are printed next to ours.

    Examples:

      [bold]infogauss synthetic[/]  (the default preset)

      [bold]infogauss synthetic --quick --json r.json --html r.html[/]

      [bold]infogauss synthetic --sweep --quick --plots plots/[/]

      [bold]infogauss synthetic --quick --eval-epochs 5,10,20 --save-checkpoints ckpt/[/]
      then [bold]infogauss track ckpt/[/]
    """
    p = {k: getattr(v, "value", v) for k, v in params.items()}
    sweep, save_checkpoints = bool(p["sweep"]), p["save_checkpoints"]
    settings = [s.strip() for s in str(p["settings"] or "").split(",") if s.strip()]
    cfg = preset(
        "quick" if p["quick"] else "default",
        settings=tuple(settings) or (experiment.SWEEP_SETTINGS if sweep else None),
        eval_epochs=o.ints(p["eval_epochs"], "--eval-epochs"),  # type: ignore[arg-type]
        n_eval=p["n"],
        **{k: p[k] for k in ("encoder", "d", "batch_size", "temperature", "epochs", "noise")},
        **{k: p[k] for k in ("bit_noise", "reg", "view", "seed")},
    )
    req = o.request(params, folders=[("--save-checkpoints", save_checkpoints)])
    out = req.outputs
    if sweep and save_checkpoints is not None:
        raise typer.BadParameter("not with --sweep", param_hint="--save-checkpoints")
    if sweep:
        ds = o.ints(p["sweep_d"], "--sweep-d") or experiment.SWEEP_D  # type: ignore[arg-type]
        ns = o.ints(p["sweep_n"], "--sweep-n") or experiment.SWEEP_N  # type: ignore[arg-type]
        rows = experiment.sweep_rows(cfg, ds, ns, req)
        if out.plots:
            experiment.write_sweep_plot(rows, cfg, out.plots)
        raise typer.Exit(publish(rows, out))
    saver = None if save_checkpoints is None else CheckpointSaver(Path(save_checkpoints))
    rows = experiment.synthetic_rows(cfg, req, saver)
    code = _publish(rows, out, f"[dim]{cfg.describe()}[/]")
    if saver is not None:
        saver.raise_failure()  # the report is out: now say what was not saved (exit 3)
    raise typer.Exit(code)


@o.command(DEMO, o.JSON, o.QUIET)
def demo_cmd(**params: object) -> None:
    """Run the paper's comparison offline: synthetic encoders at initialisation, after InfoNCE
    training and after supervised training, and real packaged weights (contrastive MiniLM,
    supervised EfficientNet-Lite0, and their random-init twins) on real text and images that
    ship with Python and scikit-image (measured wall time: docs/synthetic.md, "The demo");
    writes DIR/report.html and DIR/report.json.

    Examples:

      [bold]infogauss demo[/]

      [bold]infogauss demo --no-models --out /tmp/demo[/]
    """
    from infogauss_cli.pipelines.audit import GPU_COMMAND, demo_rows  # numpy

    out, json_out, quiet = Path(str(params["out"])), params["json_out"], bool(params["quiet"])
    html, report = out / "report.html", out / "report.json"
    outputs = Outputs(json_out=str(json_out or report), html=html, quiet=quiet)
    outputs.preflight(folders=[("--out", out)])
    rows = demo_rows(models=bool(params["models"]), keep_arrays=True)
    out.mkdir(parents=True, exist_ok=True)
    json_file = "" if json_out == "-" else f" and {json_out or report}"
    where = f"Report: [bold]{html}[/]{json_file}"
    gpu = f"The real thing, MS-COCO on a GPU machine: [bold]{GPU_COMMAND}[/]"
    raise typer.Exit(_publish(rows, outputs, where, gpu))
