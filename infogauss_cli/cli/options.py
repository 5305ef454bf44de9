"""Shared CLI options, each an ``Annotated`` alias defined once, the tables :func:`command` adds
to a command, and the :class:`~infogauss_cli.core.options.Request` they ask for."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, NamedTuple, TypeVar

import typer

from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.core import options as core
from infogauss_cli.report.json_report import read_report

F = TypeVar("F", bound=Callable[..., object])
Params = Mapping[str, object]
Paths = Sequence[tuple[str, object]]  # (option, path)
MAX_SEED = 2**32 - 1  # numpy and torch generators alike
MAX_BOOTSTRAP = 100_000  # each resample costs about one diagnosis


def choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum for typer from a vocabulary of the library (defined once there)."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)  # type: ignore[return-value]


Tower = choices("Tower", core.TOWER_CHOICES)
View = choices("View", core.VIEW_CHOICES)
Precision = choices("Precision", core.PRECISIONS)
Decode = choices("Decode", core.DECODES)
RuleName = choices("RuleName", core.RULES)
Requirement = choices("Requirement", core.REQUIRE)

MODEL_HELP = (
    "Zoo id or alias (MODEL@random: the random-init twin); or a model without a zoo entry: "
    "hf:ID, timm:NAME, open_clip:NAME[:PRETRAINED], st:ID (a hub id or a local path)."
)
SHARD_DONE = (
    "{shard}: done; when every shard has run, the same command without --shard assembles the "
    "cache (and computes whatever is missing)"
)
HELP = {  # every option's help but a few commands' own --json, --out, --n, --seed
    "--zoo": "Model zoo YAML (default: $INFOGAUSS_ZOO, then the packaged zoo).",
    "--revision": "Hub revision (branch, tag or commit hash) of the model's weights; overrides "
    "the zoo entry's revision. One model only (pin several in the zoo file).",
    "--objective": "Training objective recorded for models named hf:ID, timm:NAME, "
    "open_clip:NAME or st:ID (infonce, sigmoid, supervised, self-distillation, mae, other; "
    "default: other). Zoo entries record their own.",
    "--data": "Data to embed: coco-val2017 (default), coco:ANNOTATIONS.json[:IMAGES_DIR], "
    "images:DIR, text:FILE, hf:DATASET[:SPLIT]\\[#COLUMN].",
    "--tower": "Which tower(s) to embed.",
    "--captions": "COCO captions for text towers: first (one per image) or all (about 5 per "
    "image).",
    "--text-field": "Field/column holding the text in .jsonl/.csv files and hf: datasets.",
    "--streaming": "Stream hf: datasets instead of downloading them whole.",
    "--strict": "Unreadable items are an error instead of being skipped.",
    "--download": "Fetch MS-COCO val2017 if it is missing.",
    "--n": "Rows used by the tests (a seeded subsample); default: all rows.",
    "--seed": "Seed for subsampling (0 to 4294967295).",
    "--view": "Which embedding the paper's per-coordinate columns and the Gaussian? call see: "
    "auto (default: the columns on the l2-normalised rows as in the paper, the call on the "
    "embeddings as given), l2, raw, or both (one row each). Norm CV is always on raw; the "
    "sphere call always on the l2 rows.",
    "--layers": "Depth profile: one row per layer (all, or e.g. 0,3,6 or 2-4 or -1; L0 is the "
    "embedding output where the model has one), pooled like the final embedding; a depth plot "
    "with --html/--plots. See docs/training.md.",
    "--detail": "Add rotation-invariant, sphere-level and calibrated diagnostics (a second "
    "table; see docs/diagnostics.md).",
    "--bootstrap": "With --detail: bootstrap CIs of the compliances from B row resamples (0: "
    "off; each costs about one diagnosis).",
    "--rule": "calibrated: Gaussian? against a multivariate Gaussian of any covariance (✓ ≈ ✗ "
    "?); paper: the paper's columns by its printed thresholds (mean A*² < 0.752, mean DP p > "
    "0.05). The paper's call is in the JSON either way.",
    "--alpha": "False-alarm rate of the Gaussian? and sphere calls (Bonferroni over their tests).",
    "--device": "auto, cpu, cuda or cuda:I.",
    "--precision": "auto = bf16 autocast on CUDA, fp32 on CPU.",
    "--batch-size": "Items per batch.",
    "--workers": "Data-loading worker processes.",
    "--decode": "How images are decoded: cpu (the model's own transforms, pixel for pixel; JPEGs "
    "by simplejpeg, which gives PIL's pixels), exact (the same as cpu), fast (Resize + "
    "CenterCrop by torch's uint8 kernel: faster, slightly different pixels) or gpu (JPEG "
    "on the CUDA device).",
    "--compile": "torch.compile the model first (slow start, faster on long GPU runs).",
    "--cache-dir": "Embedding cache (default: $INFOGAUSS_CACHE or the user cache dir).",
    "--no-cache": "Neither read nor write the cache.",
    "--shard": "Compute only piece K of N of the embeddings into the cache and stop (job "
    "arrays); a later run without --shard assembles and computes what is missing. Under "
    "torchrun the ranks split the work themselves (docs/scale.md).",
    "--memory-budget": "Working memory of the diagnostics beyond the matrix (e.g. 512M, 2G); "
    "default: 1/32 of the RAM, within 256M..8G. Files are memory-mapped and read in blocks, so "
    "a matrix larger than memory can be checked (docs/scale.md).",
    "--json": "Write the JSON report ('-' for stdout).",
    "--markdown": "Write a Markdown table.",
    "--html": "Write a self-contained HTML report.",
    "--plots": "Write diagnostic plots (PNG).",
    "--per-coordinate": "Include per-coordinate A*^2 and p-values in the JSON.",
    "--quiet": "No table, no progress.",
    "--require": "Fail (exit 1) unless the call is this: gaussian (✓ or ≈), non-gaussian (✗), "
    "sphere (uniform on the sphere). Repeat to require gaussian and sphere.",
    "--max-cv": "Fail if norm CV exceeds X.",
    "--min-ad-compliance": "Fail if AD compliance (0..1) is below X.",
    "--min-dp-compliance": "Fail if DP compliance (0..1) is below X.",
    "--max-ad-mean": "Fail if mean A*^2 exceeds X.",
    "--max-effect": "Fail if the effect excess (mean QQ distance of a coordinate to N(0,1) "
    "above an iid Gaussian coordinate's at the same n, in SDs) exceeds X.",
    "--max-tail-excess": "Fail if the share of rows beyond the 99th percentile of their law under "
    "the fitted Gaussian (metrics.tail_share; 1% when it fits) exceeds 1% by more than X.",
    "--baseline": "Compare against an earlier JSON report (with --max-drop).",
    "--max-drop": "Fail if a compliance drops by more than X vs --baseline.",
    "--quick": "The quick preset: d=128, 30 epochs, n=2000 (seconds).",
    "--settings": "Comma-separated blocks of the paper's table: laplace, gmm, binary, supervised "
    "(default: all; with --sweep: laplace,binary).",
    "--encoder": "Encoder of every run (default: linear).",
    "--temperature": "InfoNCE temperature.",
    "--epochs": "Training epochs.",
    "--eval-epochs": "Also evaluate after these epochs, e.g. 10,30 (0 and the last always are).",
    "--noise": "Std of the additive noise (continuous inputs).",
    "--bit-noise": "Probability that a 1-bit is dropped (binary inputs; as many switch on).",
    "--reg": "Vanishing norm regulariser lambda_0 (the paper's regularisation path; 0: off).",
    "--sweep": "Sweep d and N instead (InfoNCE runs, final epoch); with --plots DIR also writes "
    "DIR/sweep.png.",
    "--sweep-d": "d values (default 16,32,64,128,256).",
    "--sweep-n": "N values (default 32,64,128,256,512).",
    "--save-checkpoints": "Write each encoder at the evaluated epochs (0 included) to "
    "DIR/RUN/epoch-EEEE.safetensors + .json; `infogauss track DIR` reads them back.",
    "--weights": "Weights files of the one zoo entry, one per checkpoint (a quoted glob such as "
    "'ckpt/step-*.safetensors'; repeatable).",
    "--steps": "Steps of the checkpoints in the order given (default: parsed from the names: the "
    "number after step/epoch/checkpoint, else the last number).",
    "--require-trend": "Gate on the first-to-last change of AD and DP compliance: up/down = "
    "beyond the width of the null's 95% band, flat = within it (see docs/training.md).",
    "--dir": "Data folder (default: $INFOGAUSS_DATA, else the user cache dir). COCO goes to "
    "DIR/coco; use the same folder later through $INFOGAUSS_DATA.",
    "--mirror": "Base URL replacing http://images.cocodataset.org/ (files under URL/zips/ "
    "and URL/annotations/), or a local folder holding the two zips.",
    "--force": "Fetch again even if the data is complete.",
    "--keep-archives": "Keep the downloaded zips after extracting them.",
    "--older-than": "Entries not used for this long: 30d, 12h, 2w.",
    "--model": "Entries of this model (zoo id as in `cache list`).",
    "--dry-run": "Print what would be removed; remove nothing.",
    "--yaml": "Print the entry as a one-model zoo file (to edit, e.g. set source.weights, "
    "and pass with --zoo).",
    "--deep": "Also check every name against the installed timm / open_clip / transformers "
    "(no network; slower: imports the libraries).",
    "--key": "Array to read from .npz/.safetensors/.pt files.",
    "--name": "Row label (default: file name).",
    "--out": "Folder for report.html and report.json.",
    "--models/--no-models": "Also run the real packaged models (minilm-l6, effnet-lite0 and "
    "their random-init twins); --no-models: synthetic rows only.",
}


class Shared(NamedTuple):  # a shared option: its parameter's name, Annotated alias, default
    name: str
    alias: object
    default: object


def shared(kind: object, default: object, flags: str, panel: str, **kw: object) -> Shared:
    """``flags`` (``"--quiet -q"``) with its help (default: from :data:`HELP`) in ``panel``."""
    first, *more = flags.split()
    name = str(kw.pop("name", first[2:].replace("-", "_")))
    kw["help"] = kw.get("help") or HELP[first]
    info = typer.Option(first, *more, rich_help_panel=panel, **kw)  # type: ignore[call-overload]
    return Shared(name, Annotated[kind, info], default)


M, D, P, C, OUT, G, OPT = "Model", "Data", "Protocol", "Compute", "Output", "Gates", "Options"
ZOO = shared(Path | None, None, "--zoo", M)
REVISION = shared(str | None, None, "--revision", M, metavar="REV")
OBJECTIVE = shared(str | None, None, "--objective", M, metavar="OBJ")
DATA = (
    shared(str, "coco-val2017", "--data", D),
    shared(Tower, Tower.all, "--tower", D),  # type: ignore[attr-defined]
    shared(str, "first", "--captions", D),
    shared(str | None, None, "--text-field", D),
    shared(bool, False, "--streaming", D),
    shared(bool, False, "--strict", D),
    shared(bool, False, "--download", D),
)
SAMPLE = (
    shared(int | None, None, "--n", P, min=20),
    shared(int, 0, "--seed", P, min=0, max=MAX_SEED),
)
VIEW = shared(View, View.auto, "--view", P)  # type: ignore[attr-defined]
LAYERS = shared(str | None, None, "--layers", P, metavar="all|LIST")
DETAIL = (
    shared(bool, False, "--detail", P),
    shared(int, 0, "--bootstrap", P, metavar="B", min=0, max=MAX_BOOTSTRAP),
)
MEMORY = shared(str | None, None, "--memory-budget", C, metavar="SIZE")
JUDGE = (
    shared(RuleName, RuleName.calibrated, "--rule", P),  # type: ignore[attr-defined]
    shared(float, 0.05, "--alpha", P, min=0.0001, max=0.5),
)
CACHE_DIR = shared(Path | None, None, "--cache-dir", C)
COMPUTE = (
    shared(str, "auto", "--device", C),
    shared(Precision, Precision.auto, "--precision", C),  # type: ignore[attr-defined]
    shared(int | None, None, "--batch-size", C, min=1),
    shared(int | None, None, "--workers", C, min=0),
    shared(Decode, Decode.cpu, "--decode", C),  # type: ignore[attr-defined]
    shared(bool, False, "--compile", C),
    ZOO,
    REVISION,
    OBJECTIVE,
    CACHE_DIR,
    shared(bool, False, "--no-cache", C),
)
SHARD = shared(str | None, None, "--shard", C, metavar="K/N")
JSON = shared(str | None, None, "--json", OUT, metavar="FILE", name="json_out")
FILES = (
    JSON,
    shared(Path | None, None, "--markdown", OUT, metavar="FILE"),
    shared(Path | None, None, "--html", OUT, metavar="FILE"),
    shared(Path | None, None, "--plots", OUT, metavar="DIR"),
)
LIST_JSON = shared(bool, False, "--json", OPT, name="as_json", help="Print JSON, not a table.")
PER_COORDINATE = shared(bool, False, "--per-coordinate", OUT)
QUIET = shared(bool, False, "--quiet -q", OUT)
MAX_TAIL_EXCESS = shared(float | None, None, "--max-tail-excess", G, min=0.0, max=1.0)  # score too
GATES = (
    shared(list[Requirement] | None, None, "--require", G),  # type: ignore[valid-type]
    shared(float | None, None, "--max-cv", G, min=0.0),
    shared(float | None, None, "--min-ad-compliance", G, min=0.0, max=1.0),
    shared(float | None, None, "--min-dp-compliance", G, min=0.0, max=1.0),
    shared(float | None, None, "--max-ad-mean", G, min=0.0),
    shared(float | None, None, "--max-effect", G, min=0.0),
    MAX_TAIL_EXCESS,
)
BASELINE = (
    shared(Path | None, None, "--baseline", G, metavar="REPORT.json"),
    shared(float | None, None, "--max-drop", G, min=0.0, max=1.0),
)
REPORT = (*FILES, PER_COORDINATE, QUIET, *GATES, *BASELINE)  # every command with a report


def command(*options: Shared | tuple[Shared, ...]) -> Callable[[F], F]:
    """A command (errors handled) with its own parameters, then ``options`` (as ``**params``)."""
    flat = [o for group in options for o in ((group,) if isinstance(group, Shared) else group)]

    def wrap(func: F) -> F:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        kw = inspect.Parameter.KEYWORD_ONLY
        more = [inspect.Parameter(o.name, kw, annotation=o.alias, default=o.default) for o in flat]
        wrapper = handle_errors(func)
        wrapper.__signature__ = sig.replace(parameters=[*own, *more])  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return wrap


def request(
    params: Params, reads: Paths = (), folders: Paths = (), **protocol: object
) -> core.Request:
    """The option objects ``params`` ask for (``protocol``: overrides); first every output is
    checked against the files the command ``reads`` and its other output ``folders``."""
    out = core.from_params(core.Outputs, params)
    out.preflight([*reads, ("--baseline", params.get("baseline"))], folders)
    gates = core.pick(params, core.GATE_OPTIONS)
    gates["require"] = tuple(getattr(r, "value", r) for r in gates.get("require") or ())
    if params.get("baseline") is not None:
        gates["baseline"] = tuple(read_report(Path(str(params["baseline"])))["rows"])
    return core.Request(
        protocol=core.from_params(core.Protocol, params, **protocol),
        data=core.from_params(core.DataOptions, params),
        compute=core.from_params(core.Compute, params, use_cache=not params.get("no_cache", False)),
        diagnose=core.from_params(core.DiagnoseOptions, params, keep_arrays=out.needs_arrays),
        gates=core.Gates(**gates),
        outputs=out,
    )


def ints(text: str | None, flag: str) -> tuple[int, ...] | None:
    """``"1,2,3"`` -> (1, 2, 3); anything else is a usage error naming ``flag``."""
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter("expected comma-separated integers", param_hint=flag) from None
    if not values:
        raise typer.BadParameter("expected at least one value", param_hint=flag)
    return values
