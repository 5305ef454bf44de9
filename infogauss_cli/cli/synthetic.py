"""`infogauss synthetic`: the paper's synthetic experiments, end to end, on CPU."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from infogauss_cli.cli import options as o
from infogauss_cli.cli.output import emit, publish, terminal
from infogauss_cli.core.progress import note
from infogauss_cli.pipelines.synthetic.checkpoints import as_saver
from infogauss_cli.pipelines.synthetic.paper import comparison_sections, publish_comparison

_P = "Experiment"
Encoder = o.choices("Encoder", ("linear", "mlp"))
SYNTHETIC_VIEW = dataclasses.replace(o.VIEW, default=o.View.l2)  # type: ignore[attr-defined]


@o.command(
    SYNTHETIC_VIEW, o.DETAIL, o.JUDGE, o.FILES, o.PER_COORDINATE, o.QUIET, o.GATES, o.BASELINE
)
def synthetic_cmd(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="The quick preset: d=128, 30 epochs, n=2000 (seconds).",
            rich_help_panel=_P,
        ),
    ] = False,
    settings: Annotated[
        str | None,
        typer.Option(
            "--settings",
            metavar="LIST",
            help="Comma-separated blocks of the paper's table: laplace, gmm, binary, supervised "
            "(default: all; with --sweep: laplace,binary).",
            rich_help_panel=_P,
        ),
    ] = None,
    encoder: Annotated[
        Encoder | None,  # type: ignore[valid-type]
        typer.Option(
            "--encoder", help="Encoder of every run (default: linear).", rich_help_panel=_P
        ),
    ] = None,
    d: Annotated[
        int | None, typer.Option("--d", min=2, help="Embedding dimension d.", rich_help_panel=_P)
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", min=2, help="Training batch size (the paper's N).", rich_help_panel=_P
        ),
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option("--temperature", min=1e-6, help="InfoNCE temperature.", rich_help_panel=_P),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=0, help="Training epochs.", rich_help_panel=_P)
    ] = None,
    eval_epochs: Annotated[
        str | None,
        typer.Option(
            "--eval-epochs",
            metavar="LIST",
            help="Also evaluate after these epochs, e.g. 10,30 (0 and the last always are).",
            rich_help_panel=_P,
        ),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(
            "--noise",
            min=0.0,
            help="Std of the additive noise (continuous inputs).",
            rich_help_panel=_P,
        ),
    ] = None,
    bit_noise: Annotated[
        float | None,
        typer.Option(
            "--bit-noise",
            min=0.0,
            max=0.99,
            help="Probability that a 1-bit is dropped (binary inputs; as many switch on).",
            rich_help_panel=_P,
        ),
    ] = None,
    reg: Annotated[
        float | None,
        typer.Option(
            "--reg",
            min=0.0,
            help="Vanishing norm regulariser lambda_0 (the paper's regularisation path; 0: off).",
            rich_help_panel=_P,
        ),
    ] = None,
    n: Annotated[
        int | None,
        typer.Option(
            "--n",
            min=20,
            help="Fresh held-out rows the tests see (default: the preset's).",
            rich_help_panel="Protocol",
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            min=0,
            max=o.MAX_SEED,
            help="Seed of data, initialisation and training.",
            rich_help_panel="Protocol",
        ),
    ] = 0,
    sweep: Annotated[
        bool,
        typer.Option(
            "--sweep",
            help="Sweep d and N instead (InfoNCE runs, final epoch); with --plots DIR also "
            "writes DIR/sweep.png.",
            rich_help_panel="Sweep",
        ),
    ] = False,
    sweep_d: Annotated[
        str | None,
        typer.Option(
            "--sweep-d",
            metavar="LIST",
            help="d values (default 16,32,64,128,256).",
            rich_help_panel="Sweep",
        ),
    ] = None,
    sweep_n: Annotated[
        str | None,
        typer.Option(
            "--sweep-n",
            metavar="LIST",
            help="N values (default 32,64,128,256,512).",
            rich_help_panel="Sweep",
        ),
    ] = None,
    save_checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--save-checkpoints",
            metavar="DIR",
            help="Write each encoder at the evaluated epochs (0 included) to "
            "DIR/RUN/epoch-EEEE.safetensors + .json; `infogauss track DIR` reads them back.",
            rich_help_panel=_P,
        ),
    ] = None,
    **params: object,
) -> None:
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
    from infogauss_cli.pipelines.synthetic.experiment import preset, synthetic_rows  # numpy
    from infogauss_cli.pipelines.synthetic.sweep import (
        SWEEP_D,
        SWEEP_N,
        SWEEP_SETTINGS,
        sweep_rows,
        write_sweep_plot,
    )

    chosen = tuple(s.strip() for s in settings.split(",") if s.strip()) if settings else None
    cfg = preset(
        "quick" if quick else "default",
        settings=SWEEP_SETTINGS if sweep and chosen is None else chosen,
        encoder=encoder.value if encoder else None,  # type: ignore[attr-defined]
        d=d,
        batch_size=batch_size,
        temperature=temperature,
        epochs=epochs,
        eval_epochs=o.ints(eval_epochs, "--eval-epochs"),
        noise=noise,
        bit_noise=bit_noise,
        reg=reg,
        n_eval=n,
        view=params["view"].value,  # type: ignore[attr-defined]
        seed=seed,
    )
    out = o.outputs(params)
    out.preflight([("--baseline", params["baseline"])], [("--save-checkpoints", save_checkpoints)])
    req = o.request(params, out)
    progress = None if out.quiet else (lambda msg: note(f"[dim]{escape(msg)}[/]"))
    if sweep and save_checkpoints is not None:
        raise typer.BadParameter("not with --sweep", param_hint="--save-checkpoints")
    if sweep:
        ds = o.ints(sweep_d, "--sweep-d") or SWEEP_D
        ns = o.ints(sweep_n, "--sweep-n") or SWEEP_N
        rows = sweep_rows(cfg, ds, ns, options=req.diagnose, gates=req.gates, progress=progress)
        if out.plots:
            write_sweep_plot(rows, cfg, out.plots)
        emit(rows, out)
    saver = as_saver(save_checkpoints)
    rows = synthetic_rows(
        cfg, options=req.diagnose, gates=req.gates, progress=progress, save_dir=saver
    )
    code = publish(rows, out, **comparison_sections(rows))
    publish_comparison(rows, None if out.quiet else terminal(out.to_stdout))
    if not out.quiet:
        terminal(out.to_stdout).print(f"[dim]{cfg.describe()}[/]", highlight=False)
    if saver is not None:
        saver.raise_failure()  # the report is out: now say what was not saved (exit 3)
    raise typer.Exit(code)
