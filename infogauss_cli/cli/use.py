"""`infogauss fit MODEL|MATRIX` and `infogauss score MODEL|MATRIX --fit FIT` (docs/use.md)."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import stdout_named, terminal
from infogauss_cli.cli.output import keep_on_failure, publish, write_report
from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Outputs, Request, pick
from infogauss_cli.core.preflight import check_distinct, data_inputs, preflight_outputs
from infogauss_cli.core.safe_text import printable

FitView = o.choices("FitView", ("raw", "l2"))
Shrink = o.choices("Shrink", ("auto", "sample", "ledoit-wolf"))
S, P, D, OUT = o.shared, o.P, o.D, o.OUT
TARGET = Annotated[str, typer.Argument(metavar="MODEL|MATRIX", show_default=False, help=(
    "A zoo model on --data (one tower: --tower), or a matrix file as check reads."))]  # fmt: skip
COMMON = (
    o.DATA, o.SAMPLE, o.COMPUTE, S(str | None, None, "--key", D), o.JSON, o.QUIET,
    S(Path | None, None, "--labels", D, metavar="FILE", help="Labels, one a line, in row order."),
    S(str | None, None, "--label-column", D, metavar="NAME", help="CSV/Parquet column of labels."),
)  # fmt: skip
FIT = (
    S(Path, ..., "--out", OUT, metavar="FIT.safetensors", help="The fit (and FIT.json)."),
    S(FitView, FitView.raw, "--view", P, name="fit_view", help="Fit raw or l2-normalised rows."),  # type: ignore[attr-defined]
    S(Shrink, Shrink.auto, "--shrinkage", P, help="Covariance estimator (auto: by n and d)."),  # type: ignore[attr-defined]
    S(bool, False, "--whiten-check", P, help="Diagnose the rows and their ZCA-whitened rows."),
)  # fmt: skip
SCORE = (
    S(Path, ..., "--fit", P, metavar="FIT", help="A fit written by `infogauss fit`."),
    S(FitView | None, None, "--view", P, name="fit_view", help="Refuse a fit of another view."),
    S(Path | None, None, "--out", OUT, metavar="FILE", help="Per-row scores (.parquet or .csv)."),
    S(Path | None, None, "--html", OUT, metavar="FILE", help="HTML page (thumbnails for images)."),
    S(Path | None, None, "--qq", OUT, metavar="FILE.png", help="QQ plot against the exact law."),
    S(int, 10, "--top", OUT, metavar="K", min=1, help="Most extreme rows listed."),
    S(str | None, None, "--ood", D, metavar="DATA", help="Other data scored with the fit (a "
      "--data spec for a MODEL, a file for a MATRIX): AUROC and FPR95 against cosine-to-mean."),
    o.MAX_TAIL_EXCESS,
)  # fmt: skip


def _start(target: str, v: o.Params, files: list, inputs: list) -> tuple[Request, Outputs]:
    """Before any work: each output's suffix right, writable, and none an input or another."""
    for option, path, suffixes in files:
        if path is not None and suffixes and Path(path).suffix.lower() not in suffixes:
            raise typer.BadParameter(f"{path}: expected {' or '.join(suffixes)}", param_hint=option)
    reads = [("MATRIX", target), ("--data", v["data"]), ("--ood", v.get("ood"))]
    inputs += [(what, path) for what, spec in reads for _, path in data_inputs(spec)]
    inputs += [("--labels", v["labels"]), ("--zoo", v["zoo"])]
    req = o.request(v, inputs)  # the report's outputs checked
    named = [(option, path) for option, path, _ in files]
    check_distinct(named + req.outputs.files(), inputs)
    preflight_outputs(named)
    return req, req.outputs


@o.command(*COMMON, *FIT, o.MEMORY)
def fit_cmd(target: TARGET, **params: object) -> None:
    """Fit the Gaussian of a model's embeddings (or a matrix) and save it for `infogauss score`.

    Example: [bold]infogauss fit minilm-l6 --data pydoc-topics --out m.safetensors --whiten-check[/]
    """
    from infogauss_cli.diagnostics.fit import fit  # numpy
    from infogauss_cli.pipelines.use import load_rows, whiten_check

    v = pick(params, params)
    out, view = Path(v["out"]), v["fit_view"]
    files = [("--out", out, (".safetensors",)), ("--out (its .json)", out.with_suffix(".json"), ())]
    req, outs = _start(target, v, files, [])
    rows = load_rows(target, req, v["key"], v["labels"], v["label_column"])
    prov = rows.provenance | {"view": view}
    g = fit(rows.x, labels=rows.labels, shrinkage=v["shrinkage"], view=view, provenance=prov)
    keep_on_failure("--out", out, g.save)
    if not outs.quiet:
        classes = f", {len(g.classes)} classes" if g.classes else ""
        text = f"n = {g.n:,}, d = {g.d:,}, {view} view{classes}; written to {out} and its .json"
        lines = (printable(f"fit: {g.reason}"), printable(text))  # the path as typed
        with stdout_named():
            terminal(outs.to_stdout).print(*lines, sep="\n", markup=False, highlight=False)
    if v["whiten_check"]:
        raise typer.Exit(publish(whiten_check(g, rows, req), outs))  # --json: that report
    if outs.json_out:  # the sidecar: schema, sizes, estimator, classes, provenance
        write_report("--json", outs.json_out, out.with_suffix(".json").read_text())


@o.command(*COMMON, *SCORE)
def score_cmd(target: TARGET, **params: object) -> None:
    """Score rows under a saved fit: squared Mahalanobis distance, log-likelihood, exact tail
    p-value (in-sample: scaled Beta; new rows: scaled F), nearest class.

    Example: [bold]infogauss score emb.npy --fit fit.safetensors --ood other.npy --qq qq.png[/]
    """
    from infogauss_cli.diagnostics.fit import GaussianFit  # numpy
    from infogauss_cli.pipelines.use import load_rows, score, thumbnails
    from infogauss_cli.report import score as report  # matplotlib, pyarrow inside

    v = pick(params, params)
    fit, top, view = Path(v["fit"]), v["top"], v["fit_view"]
    files = [("--out", v["out"], (".parquet", ".csv")), ("--qq", v["qq"], (".png",))]
    fits = [("--fit", fit), ("--fit (its .json)", fit.with_suffix(".json"))]
    req, outs = _start(target, v, files, fits)
    g = GaussianFit.load(fit)
    if view is not None and view != g.view:
        raise BadInputError(f"--fit is of the {g.view} view, not {view}: fit the {view} view")
    rows = load_rows(target, req, v["key"], v["labels"], v["label_column"], fit=g)
    ood = None
    if v["ood"] is not None:  # another matrix file, or the model's tower on other data
        data = replace(req.data, data=v["ood"], tower=rows.provenance["tower"] or "all")
        ood = load_rows(target if rows.source else v["ood"], replace(req, data=data), v["key"])
    result = score(g, rows, ood)
    with stdout_named():
        if not outs.quiet:
            terminal(outs.to_stdout).print(report.score_table(result, g, top=top))
        if outs.json_out:
            doc = json.dumps(report.score_json(result, g, top=top))
            write_report("--json", outs.json_out, doc + "\n")
        if v["out"] is not None:
            keep_on_failure("--out", v["out"], lambda p: report.write_scores(result, p))
        if v["qq"] is not None:
            png = report.qq_png(result)
            keep_on_failure("--qq", v["qq"], lambda p: atomic_write_bytes(p, png, parents=True))
        if outs.html:
            pics = thumbnails(rows, {str(e["id"]) for e in report.extremes(result, top)})
            command = shlex.join(["infogauss", *sys.argv[1:]])
            page = report.score_html(result, g, pics, top=top, command=command)
            write_report("--html", outs.html, page)
    if (limit := v["max_tail_excess"]) is not None:
        excess = result.tail_share - report.TAIL_LEVEL
        model = printable(rows.provenance["model"])
        text = f"{model}: max-tail-excess = {excess:.4g} (threshold {limit})"
        if excess > limit:
            print(f"infogauss: gate max-tail-excess failed for {text}", file=sys.stderr)
            raise typer.Exit(1)
        if not outs.quiet:
            terminal(outs.to_stdout).print(f"✓ pass  {text}", markup=False, highlight=False)
