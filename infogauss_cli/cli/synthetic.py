"""`infogauss synthetic`: the paper's synthetic experiments, end to end, on CPU."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.output import emit, publish, terminal
from infogauss_cli.pipelines.synthetic.checkpoints import CheckpointSaver
from infogauss_cli.pipelines.synthetic.paper import comparison_sections, render_comparison

E, S = "Experiment", "Sweep"
LIST = {"metavar": "LIST"}
Encoder = o.choices("Encoder", ("linear", "mlp"))
EXPERIMENT = (
    o.shared(
        bool, False, "--quick", E, help="The quick preset: d=128, 30 epochs, n=2000 (seconds)."
    ),
    o.shared(
        str | None,
        None,
        "--settings",
        E,
        help="Comma-separated blocks of the paper's table: laplace, gmm, binary, supervised "
        "(default: all; with --sweep: laplace,binary).",
        **LIST,
    ),
    o.shared(Encoder | None, None, "--encoder", E, help="Encoder of every run (default: linear)."),
    o.shared(int | None, None, "--d", E, min=2, help="Embedding dimension d."),
    o.shared(
        int | None, None, "--batch-size", E, min=2, help="Training batch size (the paper's N)."
    ),
    o.shared(float | None, None, "--temperature", E, min=1e-6, help="InfoNCE temperature."),
    o.shared(int | None, None, "--epochs", E, min=0, help="Training epochs."),
    o.shared(
        str | None,
        None,
        "--eval-epochs",
        E,
        help="Also evaluate after these epochs, e.g. 10,30 (0 and the last always are).",
        **LIST,
    ),
    o.shared(
        float | None,
        None,
        "--noise",
        E,
        min=0.0,
        help="Std of the additive noise (continuous inputs).",
    ),
    o.shared(
        float | None,
        None,
        "--bit-noise",
        E,
        min=0.0,
        max=0.99,
        help="Probability that a 1-bit is dropped (binary inputs; as many switch on).",
    ),
    o.shared(
        float | None,
        None,
        "--reg",
        E,
        min=0.0,
        help="Vanishing norm regulariser lambda_0 (the paper's regularisation path; 0: off).",
    ),
    o.shared(
        int | None,
        None,
        "--n",
        o.P,
        min=20,
        help="Fresh held-out rows the tests see (default: the preset's).",
    ),
    o.shared(
        int,
        0,
        "--seed",
        o.P,
        min=0,
        max=o.MAX_SEED,
        help="Seed of data, initialisation and training.",
    ),
    dataclasses.replace(o.VIEW, default=o.View.l2),  # type: ignore[attr-defined]
    *o.DETAIL,
    *o.JUDGE,
    o.shared(
        bool,
        False,
        "--sweep",
        S,
        help="Sweep d and N instead (InfoNCE runs, final epoch); with --plots DIR also writes "
        "DIR/sweep.png.",
    ),
    o.shared(str | None, None, "--sweep-d", S, help="d values (default 16,32,64,128,256).", **LIST),
    o.shared(
        str | None, None, "--sweep-n", S, help="N values (default 32,64,128,256,512).", **LIST
    ),
    o.shared(
        Path | None,
        None,
        "--save-checkpoints",
        E,
        metavar="DIR",
        help="Write each encoder at the evaluated epochs (0 included) to "
        "DIR/RUN/epoch-EEEE.safetensors + .json; `infogauss track DIR` reads them back.",
    ),
)


@o.command(EXPERIMENT, o.FILES, o.PER_COORDINATE, o.QUIET, o.GATES, o.BASELINE)
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
    from infogauss_cli.pipelines.synthetic.experiment import (  # numpy
        SWEEP_D,
        SWEEP_N,
        SWEEP_SETTINGS,
        preset,
        sweep_rows,
        synthetic_rows,
        write_sweep_plot,
    )

    p = {k: getattr(v, "value", v) for k, v in params.items()}
    sweep, save_checkpoints = bool(p["sweep"]), p["save_checkpoints"]
    settings = [s.strip() for s in str(p["settings"] or "").split(",") if s.strip()]
    cfg = preset(
        "quick" if p["quick"] else "default",
        settings=tuple(settings) or (SWEEP_SETTINGS if sweep else None),
        eval_epochs=o.ints(p["eval_epochs"], "--eval-epochs"),  # type: ignore[arg-type]
        n_eval=p["n"],
        **{k: p[k] for k in ("encoder", "d", "batch_size", "temperature", "epochs", "noise")},
        **{k: p[k] for k in ("bit_noise", "reg", "view", "seed")},
    )
    out = o.outputs(params)
    out.preflight([("--baseline", params["baseline"])], [("--save-checkpoints", save_checkpoints)])
    req = o.request(params, out)
    if sweep and save_checkpoints is not None:
        raise typer.BadParameter("not with --sweep", param_hint="--save-checkpoints")
    if sweep:
        ds = o.ints(p["sweep_d"], "--sweep-d") or SWEEP_D  # type: ignore[arg-type]
        ns = o.ints(p["sweep_n"], "--sweep-n") or SWEEP_N  # type: ignore[arg-type]
        rows = sweep_rows(cfg, ds, ns, req)
        if out.plots:
            write_sweep_plot(rows, cfg, out.plots)
        emit(rows, out)
    saver = None if save_checkpoints is None else CheckpointSaver(Path(save_checkpoints))
    rows = synthetic_rows(cfg, req, save_dir=saver)
    code = publish(rows, out, **comparison_sections(rows))
    if not out.quiet and (table := render_comparison(rows)) is not None:
        terminal(out.to_stdout).print(table)
    if not out.quiet:
        terminal(out.to_stdout).print(f"[dim]{cfg.describe()}[/]", highlight=False)
    if saver is not None:
        saver.raise_failure()  # the report is out: now say what was not saved (exit 3)
    raise typer.Exit(code)
