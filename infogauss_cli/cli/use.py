"""`infogauss fit MODEL|MATRIX` and `infogauss score MODEL|MATRIX --fit FIT` (docs/use.md)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import stdout_named, terminal
from infogauss_cli.cli.output import emit, keep_on_failure, write_report
from infogauss_cli.core.preflight import check_distinct, data_inputs, preflight_outputs

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
    S(float | None, None, "--max-tail-excess", o.G, metavar="X", min=0.0, max=1.0, help="Fail "
      "if the share of rows beyond their law's 99th percentile exceeds 1% by more than X."),
)  # fmt: skip


def _check(params: o.Params, target: str, outputs: list, inputs: list) -> None:
    """Suffixes right, every output writable and none an input or another output: first."""
    from infogauss_cli.pipelines.use import is_matrix  # numpy

    want = {"--out": (".safetensors",) if "shrinkage" in params else (".parquet", ".csv")}
    for option, path in outputs:
        ok = (want | {"--qq": (".png",)}).get(option)
        if ok and path is not None and Path(path).suffix.lower() not in ok:
            raise typer.BadParameter(f"{path}: expected {' or '.join(ok)}", param_hint=option)
    inputs += [("MATRIX", target)] if is_matrix(target) else data_inputs(str(params["data"]))
    inputs += [("--labels", params["labels"]), ("--zoo", params["zoo"])]
    check_distinct([*outputs, ("--json", params["json_out"])], inputs)
    preflight_outputs(files=[*outputs, ("--json", params["json_out"])])


def _rows(target: str, params: o.Params, **kw: object) -> tuple:
    from infogauss_cli.pipelines.use import load_rows  # numpy

    req = o.request(params, o.outputs(params))
    names = {k: params[k] for k in ("key", "labels", "label_column")} | kw
    return req, load_rows(target, req, **names)  # type: ignore[arg-type]


@o.command(*COMMON, *FIT, o.MEMORY)
def fit_cmd(target: TARGET, **params: object) -> None:
    """Fit the Gaussian of a model's embeddings (or a matrix) and save it for `infogauss score`.

    Example: [bold]infogauss fit minilm-l6 --data pydoc-topics --out m.safetensors --whiten-check[/]
    """
    from infogauss_cli.diagnostics.fit import fit  # numpy
    from infogauss_cli.pipelines.use import whiten_check

    out, view, outs = Path(str(params["out"])), params["fit_view"].value, o.outputs(params)  # type: ignore[attr-defined]
    _check(params, target, [("--out", out), ("--out (its .json)", out.with_suffix(".json"))], [])
    req, rows = _rows(target, params)
    prov = rows.provenance | {"view": view}
    shrinkage = params["shrinkage"].value  # type: ignore[attr-defined]
    g = fit(rows.x, labels=rows.labels, shrinkage=shrinkage, view=view, provenance=prov)
    keep_on_failure("--out", out, g.save)
    classes = f", {len(g.classes)} classes" if g.classes else ""
    text = f"fit: {g.reason}\nn = {g.n:,}, d = {g.d:,}, {view} view{classes}; written to {out}"
    if not outs.quiet:
        with stdout_named():
            terminal(outs.to_stdout).print(f"{text} and its .json", highlight=False, soft_wrap=True)
    if params["whiten_check"]:
        emit(whiten_check(g, rows, req), outs)
    if outs.json_out:
        info = {"fit": str(out), "shrinkage": g.shrinkage, "intensity": g.intensity}
        info |= {"reason": g.reason, "classes": {k: c.n for k, c in g.classes.items()}}
        write_report("--json", outs.json_out, json.dumps(info | prov, default=str) + "\n")


@o.command(*COMMON, *SCORE)
def score_cmd(target: TARGET, **params: object) -> None:
    """Score rows under a saved fit: squared Mahalanobis distance, log-likelihood, exact tail
    p-value (in-sample: scaled Beta; new rows: scaled F), nearest class.

    Example: [bold]infogauss score emb.npy --fit fit.safetensors --ood other.npy --qq qq.png[/]
    """
    from infogauss_cli.diagnostics.fit import GaussianFit  # numpy
    from infogauss_cli.pipelines.use import is_matrix, score, thumbnails
    from infogauss_cli.report import score as report  # matplotlib, pyarrow inside

    fit, ood, top, outs = Path(str(params["fit"])), params["ood"], params["top"], o.outputs(params)
    files = {k: params[k] for k in ("out", "html", "qq")}
    ood_in = [("--ood", ood)] if is_matrix(target) else data_inputs(ood)  # type: ignore[arg-type]
    fits = [("--fit", fit), ("--fit (its .json)", fit.with_suffix(".json")), *ood_in]
    _check(params, target, [(f"--{k}", v) for k, v in files.items()], fits)
    g = GaussianFit.load(fit)
    req, rows = _rows(target, params, fit=g)
    other = None
    if ood is not None:  # the same model and tower on other data, or another matrix file
        data = {"data": ood, "tower": rows.tower or req.data.tower, "labels": None}
        other = _rows(ood if is_matrix(target) else target, params | data, label_column=None)[1]
    view = params["fit_view"].value if params["fit_view"] else None  # type: ignore[attr-defined]
    result = score(g, rows, view=view, ood=other)
    console = terminal(outs.to_stdout)
    with stdout_named():
        if not outs.quiet:
            console.print(report.score_table(result, g, top=top))
        if outs.json_out:
            doc = report.score_json(result, g, top=top)
            write_report("--json", outs.json_out, json.dumps(doc) + "\n")
    pics = thumbnails(rows, result, top) if files["html"] else {}
    html = {"top": top, "command": shlex.join(["infogauss", *sys.argv[1:]])}
    writers = {
        "out": lambda p: report.write_scores(result, p),
        "qq": lambda p: report.write_qq_plot(result, p),
        "html": lambda p: report.write_score_html(result, g, p, pics, **html),
    }
    for key, path in files.items():
        if path is not None:
            keep_on_failure(f"--{key}", path, writers[key])
    if (limit := params["max_tail_excess"]) is not None:
        excess = result.tail_share - 0.01
        text = f"{rows.provenance['model']}: max-tail-excess = {excess:.4g} (threshold {limit})"
        if excess > limit:  # type: ignore[operator]
            print(f"infogauss: gate max-tail-excess failed for {text}", file=sys.stderr)
            raise typer.Exit(1)
        if not outs.quiet:
            console.print(f"✓ pass  {text}", highlight=False)
