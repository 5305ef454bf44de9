"""`infogauss synthetic`: the paper's synthetic experiments, end to end, on CPU."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import gate_options as g
from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.cli.output import emit, publish, terminal

_P = "Experiment"


class Encoder(str, Enum):
    linear = "linear"
    mlp = "mlp"


def _ints(text: str | None, flag: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter("expected comma-separated integers", param_hint=flag) from None
    if not values:
        raise typer.BadParameter("expected at least one value", param_hint=flag)
    return values


@handle_errors
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
        Encoder | None,
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
    view: o.ViewOpt = o.View.l2,
    detail: o.DetailOpt = False,
    bootstrap: o.BootstrapOpt = 0,
    verdict: o.VerdictModeOpt = o.VerdictMode.coordinates,
    rule: o.RuleOpt = o.RuleName.calibrated,
    alpha: o.AlphaOpt = 0.05,
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
    params = locals()
    from infogauss_cli.core.options import DiagnoseOptions, Outputs
    from infogauss_cli.pipelines.synthetic.experiment import preset, synthetic_rows

    chosen = tuple(s.strip() for s in settings.split(",") if s.strip()) if settings else None
    if sweep and chosen is None:
        from infogauss_cli.pipelines.synthetic.sweep import SWEEP_SETTINGS

        chosen = SWEEP_SETTINGS
    cfg = preset(
        "quick" if quick else "default",
        settings=chosen,
        encoder=encoder.value if encoder else None,
        d=d,
        batch_size=batch_size,
        temperature=temperature,
        epochs=epochs,
        eval_epochs=_ints(eval_epochs, "--eval-epochs"),
        noise=noise,
        bit_noise=bit_noise,
        reg=reg,
        n_eval=n,
        view=view.value,
        seed=seed,
    )
    out = o.from_params(Outputs, params)
    out.preflight([("--baseline", baseline)], [("--save-checkpoints", save_checkpoints)])
    options = o.from_params(DiagnoseOptions, params, keep_arrays=out.needs_arrays)
    gates = g.gates(params)
    if sweep and save_checkpoints is not None:
        raise typer.BadParameter("not with --sweep", param_hint="--save-checkpoints")
    if sweep:
        from infogauss_cli.pipelines.synthetic.sweep import (
            SWEEP_D,
            SWEEP_N,
            sweep_rows,
            write_sweep_plot,
        )

        ds = _ints(sweep_d, "--sweep-d") or SWEEP_D
        ns = _ints(sweep_n, "--sweep-n") or SWEEP_N
        rows = sweep_rows(cfg, ds, ns, options=options, gates=gates)
        if plots:
            write_sweep_plot(rows, cfg, plots)
        emit(rows, out)
    from infogauss_cli.pipelines.synthetic.checkpoints import as_saver
    from infogauss_cli.pipelines.synthetic.paper import comparison_sections, render_comparison

    saver = as_saver(save_checkpoints)
    rows = synthetic_rows(cfg, options=options, gates=gates, save_dir=saver)
    code = publish(rows, out, **comparison_sections(rows))
    if not quiet and (table := render_comparison(rows)) is not None:
        terminal(out.to_stdout).print(table)
    if not quiet:
        terminal(out.to_stdout).print(f"[dim]{cfg.describe()}[/]", highlight=False)
    if saver is not None:
        saver.raise_failure()  # the report is out: now say what was not saved (exit 3)
    raise typer.Exit(code)
