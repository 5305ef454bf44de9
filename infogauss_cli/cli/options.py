"""Shared CLI options, each an ``Annotated`` alias defined once (huggingface_hub's CLI style),
grouped into the tables that :func:`command` adds to a command's parameters, and the
:class:`~infogauss_cli.core.options.Request` they ask for. Only typer and light modules here."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from typer.models import OptionInfo

from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.core.options import (
    DECODES,
    GATE_OPTIONS,
    PRECISIONS,
    REQUIRE,
    RULES,
    TOWER_CHOICES,
    VERDICT_MODES,
    VIEW_CHOICES,
    Compute,
    DataOptions,
    DiagnoseOptions,
    Gates,
    Outputs,
    Protocol,
    Request,
    from_params,
    pick,
)
from infogauss_cli.report.json_report import read_report

F = TypeVar("F", bound=Callable[..., object])
Params = Mapping[str, object]
MAX_SEED = 2**32 - 1  # numpy and torch generators alike
MAX_BOOTSTRAP = 100_000  # each resample costs about one diagnosis


def opt(*decls: str, help: str, panel: str | None = None, **kw: object) -> OptionInfo:
    return typer.Option(*decls, help=help, rich_help_panel=panel, **kw)  # type: ignore[arg-type]


def choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum for typer from a vocabulary of the library (defined once there)."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)  # type: ignore[return-value]


Tower = choices("Tower", TOWER_CHOICES)
View = choices("View", VIEW_CHOICES)
Precision = choices("Precision", PRECISIONS)
Decode = choices("Decode", DECODES)
VerdictMode = choices("VerdictMode", VERDICT_MODES)
RuleName = choices("RuleName", RULES)
Requirement = choices("Requirement", REQUIRE)

MODEL_HELP = (
    "Zoo id or alias (MODEL@random: the random-init twin); or a model without a zoo entry: "
    "hf:ID, timm:NAME, open_clip:NAME[:PRETRAINED], st:ID (a hub id or a local path)."
)
DATA_HELP = (
    "Data to embed: coco-val2017 (default), coco:ANNOTATIONS.json[:IMAGES_DIR], images:DIR, "
    "text:FILE, hf:DATASET[:SPLIT]\\[#COLUMN]."
)
SHARD_DONE = (
    "{shard}: done; when every shard has run, the same command without --shard assembles the "
    "cache (and computes whatever is missing)"
)

# ---- model -------------------------------------------------------------------------------------
M = "Model"
ZooOpt = Annotated[
    Path | None,
    opt("--zoo", help="Model zoo YAML (default: $INFOGAUSS_ZOO, then the packaged zoo).", panel=M),
]
RevisionOpt = Annotated[
    str | None,
    opt(
        "--revision",
        metavar="REV",
        help="Hub revision (branch, tag or commit hash) of the model's weights; overrides the "
        "zoo entry's revision. One model only (pin several in the zoo file).",
        show_default=False,
        panel=M,
    ),
]
ObjectiveOpt = Annotated[
    str | None,
    opt(
        "--objective",
        metavar="OBJ",
        help="Training objective recorded for models named hf:ID, timm:NAME, open_clip:NAME or "
        "st:ID (infonce, sigmoid, supervised, self-distillation, mae, other; default: other). "
        "Zoo entries record their own.",
        show_default=False,
        panel=M,
    ),
]

# ---- data --------------------------------------------------------------------------------------
D = "Data"
DataOpt = Annotated[str, opt("--data", help=DATA_HELP, panel=D)]
TowerOpt = Annotated[Tower, opt("--tower", help="Which tower(s) to embed.", panel=D)]
CaptionsOpt = Annotated[
    str,
    opt(
        "--captions",
        help="COCO captions for text towers: first (one per image) or all (about 5 per image).",
        panel=D,
    ),
]
TextFieldOpt = Annotated[
    str | None,
    opt(
        "--text-field",
        help="Field/column holding the text in .jsonl/.csv files and hf: datasets.",
        panel=D,
    ),
]
StreamingOpt = Annotated[
    bool, opt("--streaming", help="Stream hf: datasets instead of downloading them whole.", panel=D)
]
StrictOpt = Annotated[
    bool, opt("--strict", help="Unreadable items are an error instead of being skipped.", panel=D)
]
DownloadOpt = Annotated[
    bool, opt("--download", help="Fetch MS-COCO val2017 if it is missing.", panel=D)
]

# ---- protocol ----------------------------------------------------------------------------------
P = "Protocol"
NOpt = Annotated[
    int | None,
    opt(
        "--n",
        min=20,
        help="Rows used by the tests (a seeded subsample); default: all rows.",
        panel=P,
    ),
]
SeedOpt = Annotated[
    int, opt("--seed", min=0, max=MAX_SEED, help="Seed for subsampling (0 to 4294967295).", panel=P)
]
ViewOpt = Annotated[
    View,
    opt(
        "--view",
        help="Which embedding the paper's per-coordinate columns and the Gaussian? call see: "
        "auto (default: the columns on the l2-normalised rows as in the paper, the call on the "
        "embeddings as given), l2, raw, or both (one row each). Norm CV is always on raw; the "
        "sphere call always on the l2 rows.",
        panel=P,
    ),
]
LayersOpt = Annotated[
    str | None,
    opt(
        "--layers",
        metavar="all|LIST",
        help="Depth profile: one row per layer (all, or e.g. 0,3,6 or 2-4 or -1; L0 is the "
        "embedding output where the model has one), pooled like the final embedding; a depth "
        "plot with --html/--plots. See docs/training.md.",
        panel=P,
    ),
]
DetailOpt = Annotated[
    bool,
    opt(
        "--detail",
        help="Add rotation-invariant, sphere-level and calibrated diagnostics (a second table; "
        "see docs/diagnostics.md).",
        panel=P,
    ),
]
BootstrapOpt = Annotated[
    int,
    opt(
        "--bootstrap",
        metavar="B",
        min=0,
        max=MAX_BOOTSTRAP,
        help="With --detail: bootstrap CIs of the compliances from B row resamples (0: off; "
        "each costs about one diagnosis).",
        panel=P,
    ),
]
VerdictModeOpt = Annotated[
    VerdictMode,
    opt(
        "--verdict",
        help="Kept for compatibility: the Gaussian? call is rotation invariant either way; "
        "projections also reports the random-projection compliances.",
        panel=P,
    ),
]
RuleOpt = Annotated[
    RuleName,
    opt(
        "--rule",
        help="calibrated: Gaussian? against a multivariate Gaussian of any covariance "
        "(✓ ≈ ✗ ?); paper: the paper's columns by its printed thresholds (mean A*² < 0.752, "
        "mean DP p > 0.05). The paper's call is in the JSON either way.",
        panel=P,
    ),
]
AlphaOpt = Annotated[
    float,
    opt(
        "--alpha",
        min=0.0001,
        max=0.5,
        help="False-alarm rate of the Gaussian? and sphere calls (Bonferroni over their tests).",
        panel=P,
    ),
]

# ---- compute -----------------------------------------------------------------------------------
C = "Compute"
DeviceOpt = Annotated[str, opt("--device", help="auto, cpu, cuda or cuda:I.", panel=C)]
PrecisionOpt = Annotated[
    Precision, opt("--precision", help="auto = bf16 autocast on CUDA, fp32 on CPU.", panel=C)
]
BatchSizeOpt = Annotated[int | None, opt("--batch-size", min=1, help="Items per batch.", panel=C)]
WorkersOpt = Annotated[
    int | None, opt("--workers", min=0, help="Data-loading worker processes.", panel=C)
]
DecodeOpt = Annotated[
    Decode,
    opt(
        "--decode",
        help="How images are decoded: cpu (JPEGs to tensors, Resize + CenterCrop by torch's "
        "uint8 kernel; other transforms: PIL, fused), exact (PIL, the model's transforms step "
        "by step), fast (PIL fused, and large JPEGs decoded at a reduced size: slightly "
        "different pixels) or gpu (JPEG on the CUDA device).",
        panel=C,
    ),
]
CompileOpt = Annotated[
    bool,
    opt(
        "--compile",
        help="torch.compile the model first (slow start, faster on long GPU runs).",
        panel=C,
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    opt(
        "--cache-dir",
        help="Embedding cache (default: $INFOGAUSS_CACHE or the user cache dir).",
        panel=C,
    ),
]
NoCacheOpt = Annotated[bool, opt("--no-cache", help="Neither read nor write the cache.", panel=C)]
ShardOpt = Annotated[
    str | None,
    opt(
        "--shard",
        metavar="K/N",
        help="Compute only piece K of N of the embeddings into the cache and stop (job arrays); "
        "a later run without --shard assembles and computes what is missing. Under torchrun the "
        "ranks split the work themselves (docs/scale.md).",
        show_default=False,
        panel=C,
    ),
]
MemoryBudgetOpt = Annotated[
    str | None,
    opt(
        "--memory-budget",
        metavar="SIZE",
        help="Working memory of the diagnostics beyond the matrix (e.g. 512M, 2G); default: "
        "1/32 of the RAM, within 256M..8G. Files are memory-mapped and read in blocks, so a "
        "matrix larger than memory can be checked (docs/scale.md).",
        show_default=False,
        panel=C,
    ),
]

# ---- output ------------------------------------------------------------------------------------
OUT = "Output"
JsonOpt = Annotated[
    str | None,
    opt("--json", metavar="FILE", help="Write the JSON report ('-' for stdout).", panel=OUT),
]
MarkdownOpt = Annotated[
    Path | None, opt("--markdown", metavar="FILE", help="Write a Markdown table.", panel=OUT)
]
HtmlOpt = Annotated[
    Path | None,
    opt("--html", metavar="FILE", help="Write a self-contained HTML report.", panel=OUT),
]
PlotsOpt = Annotated[
    Path | None, opt("--plots", metavar="DIR", help="Write diagnostic plots (PNG).", panel=OUT)
]
PerCoordinateOpt = Annotated[
    bool,
    opt(
        "--per-coordinate", help="Include per-coordinate A*^2 and p-values in the JSON.", panel=OUT
    ),
]
QuietOpt = Annotated[bool, opt("--quiet", "-q", help="No table, no progress.", panel=OUT)]

# ---- gates -------------------------------------------------------------------------------------
G = "Gates"
RequireOpt = Annotated[
    list[Requirement] | None,
    opt(
        "--require",
        help="Fail (exit 1) unless the call is this: gaussian (✓ or ≈), non-gaussian (✗), "
        "sphere (uniform on the sphere). Repeat to require gaussian and sphere.",
        panel=G,
    ),
]


def _at_most(flag: str, what: str, **kw: object) -> OptionInfo:
    return opt(flag, min=0.0, help=f"Fail if {what}.", panel=G, **kw)


def _compliance(flag: str, test: str) -> OptionInfo:
    return _at_most(flag, f"{test} compliance (0..1) is below X", max=1.0)


MaxCvOpt = Annotated[float | None, _at_most("--max-cv", "norm CV exceeds X")]
MinAdOpt = Annotated[float | None, _compliance("--min-ad-compliance", "AD")]
MinDpOpt = Annotated[float | None, _compliance("--min-dp-compliance", "DP")]
MaxAdMeanOpt = Annotated[float | None, _at_most("--max-ad-mean", "mean A*^2 exceeds X")]
MaxEffectOpt = Annotated[
    float | None,
    _at_most(
        "--max-effect",
        "the effect excess (mean QQ distance of a coordinate to N(0,1) above an iid Gaussian "
        "coordinate's at the same n, in SDs) exceeds X",
    ),
]
BaselineOpt = Annotated[
    Path | None,
    opt(
        "--baseline",
        metavar="REPORT.json",
        help="Compare against an earlier JSON report (with --max-drop).",
        panel=G,
    ),
]
MaxDropOpt = Annotated[
    float | None,
    _at_most("--max-drop", "a compliance drops by more than X vs --baseline", max=1.0),
]

# ---- the tables :func:`command` adds: name -> (alias, default) ----------------------------------
Table = dict[str, tuple[object, object]]
DATA: Table = {
    "data": (DataOpt, "coco-val2017"),
    "tower": (TowerOpt, Tower.all),  # type: ignore[attr-defined]
    "captions": (CaptionsOpt, "first"),
    "text_field": (TextFieldOpt, None),
    "streaming": (StreamingOpt, False),
    "strict": (StrictOpt, False),
    "download": (DownloadOpt, False),
}
DATA_SPEC: Table = {k: DATA[k] for k in ("data", "tower")}
SAMPLE: Table = {"n": (NOpt, None), "seed": (SeedOpt, 0)}
DIAGNOSE: Table = {
    "view": (ViewOpt, View.auto),  # type: ignore[attr-defined]
    "detail": (DetailOpt, False),
    "bootstrap": (BootstrapOpt, 0),
    "memory_budget": (MemoryBudgetOpt, None),
}
DETAIL: Table = {k: DIAGNOSE[k] for k in ("detail", "bootstrap")}
JUDGE: Table = {
    "verdict": (VerdictModeOpt, VerdictMode.coordinates),  # type: ignore[attr-defined]
    "rule": (RuleOpt, RuleName.calibrated),  # type: ignore[attr-defined]
    "alpha": (AlphaOpt, 0.05),
}
COMPUTE: Table = {
    "device": (DeviceOpt, "auto"),
    "precision": (PrecisionOpt, Precision.auto),  # type: ignore[attr-defined]
    "batch_size": (BatchSizeOpt, None),
    "workers": (WorkersOpt, None),
    "decode": (DecodeOpt, Decode.cpu),  # type: ignore[attr-defined]
    "compile": (CompileOpt, False),
    "zoo": (ZooOpt, None),
    "revision": (RevisionOpt, None),
    "objective": (ObjectiveOpt, None),
    "cache_dir": (CacheDirOpt, None),
    "no_cache": (NoCacheOpt, False),
}
SHARD: Table = {"shard": (ShardOpt, None)}
FILES: Table = {
    "json_out": (JsonOpt, None),
    "markdown": (MarkdownOpt, None),
    "html": (HtmlOpt, None),
    "plots": (PlotsOpt, None),
}
PER_COORDINATE: Table = {"per_coordinate": (PerCoordinateOpt, False)}
QUIET: Table = {"quiet": (QuietOpt, False)}
GATES: Table = {
    "require": (RequireOpt, None),
    "max_cv": (MaxCvOpt, None),
    "min_ad_compliance": (MinAdOpt, None),
    "min_dp_compliance": (MinDpOpt, None),
    "max_ad_mean": (MaxAdMeanOpt, None),
    "max_effect": (MaxEffectOpt, None),
}
BASELINE: Table = {"baseline": (BaselineOpt, None), "max_drop": (MaxDropOpt, None)}


def command(*tables: Table) -> Callable[[F], F]:
    """A command (errors handled, :func:`~.errors.handle_errors`) whose parameters are its own
    followed by the shared options of ``tables``; their values reach it as ``**params``."""

    def wrap(func: F) -> F:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        kw = inspect.Parameter.KEYWORD_ONLY
        shared = [
            inspect.Parameter(name, kw, annotation=alias, default=default)
            for table in tables
            for name, (alias, default) in table.items()
        ]
        wrapper = handle_errors(func)
        wrapper.__signature__ = sig.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return wrap


def gates(params: Params) -> Gates:
    """The gates asked for, with the ``--baseline`` report's rows (the library does no I/O)."""
    given = pick(params, GATE_OPTIONS)
    given["require"] = tuple(getattr(r, "value", r) for r in given.get("require") or ())
    if params.get("baseline") is not None:
        given["baseline"] = tuple(read_report(Path(str(params["baseline"])))["rows"])
    return Gates(**given)


def outputs(params: Params) -> Outputs:
    return from_params(Outputs, params)


def request(params: Params, out: Outputs, **protocol: object) -> Request:
    """The option objects the command's ``params`` ask for (``protocol``: overrides)."""
    return Request(
        protocol=from_params(Protocol, params, **protocol),
        data=from_params(DataOptions, params),
        compute=from_params(Compute, params, use_cache=not params.get("no_cache", False)),
        diagnose=from_params(DiagnoseOptions, params, keep_arrays=out.needs_arrays),
        gates=gates(params),
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
