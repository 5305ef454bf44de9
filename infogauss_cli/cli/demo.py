"""`infogauss demo`: offline, minutes on a CPU, one paper-like table and an HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import terminal
from infogauss_cli.cli.output import publish
from infogauss_cli.core.options import Outputs
from infogauss_cli.pipelines.demo import GPU_COMMAND, demo_rows
from infogauss_cli.pipelines.synthetic.paper import comparison_sections, render_comparison

DEMO = (
    o.shared(Path, Path("infogauss-demo"), "--out", o.OPT, metavar="DIR", file_okay=False),
    o.shared(bool, True, "--models/--no-models", o.OPT, name="models"),
)


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
    out, json_out, quiet = Path(str(params["out"])), params["json_out"], bool(params["quiet"])
    html, report = out / "report.html", out / "report.json"
    outputs = Outputs(json_out=str(json_out or report), html=html, quiet=quiet)
    outputs.preflight(folders=[("--out", out)])
    rows = demo_rows(models=bool(params["models"]), keep_arrays=True)
    out.mkdir(parents=True, exist_ok=True)
    code = publish(rows, outputs, comparison_sections(rows))
    if not quiet and (table := render_comparison(rows)) is not None:
        terminal(outputs.to_stdout).print(table)
    if not quiet:
        where = terminal(outputs.to_stdout)
        json_file = "" if json_out == "-" else f" and {json_out or report}"
        where.print(f"Report: [bold]{html}[/]{json_file}")
        where.print(f"The real thing, MS-COCO on a GPU machine: [bold]{GPU_COMMAND}[/]")
    raise typer.Exit(code)
