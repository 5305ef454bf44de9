"""Shared CLI options, each defined once (huggingface_hub's CLI style) and reused by every command.

Only typer and the standard library are imported here: `infogauss --help` must stay fast.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli.model_options import MODEL_HELP as MODEL_HELP
from infogauss_cli.cli.model_options import ObjectiveOpt as ObjectiveOpt
from infogauss_cli.cli.model_options import RevisionOpt as RevisionOpt
from infogauss_cli.cli.model_options import ZooOpt as ZooOpt
from infogauss_cli.core.options import (
    DECODES,
    PRECISIONS,
    RULES,
    TOWER_CHOICES,
    VERDICT_MODES,
    VIEW_CHOICES,
    from_params,
)

MAX_SEED = 2**32 - 1  # numpy and torch generators alike
MAX_BOOTSTRAP = 100_000  # each resample costs about one diagnosis

DATA_HELP = (
    "Data to embed: coco-val2017 (default), coco:ANNOTATIONS.json[:IMAGES_DIR], images:DIR, "
    "text:FILE, hf:DATASET[:SPLIT]\\[#COLUMN]."
)


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum for typer from a vocabulary of the library (defined once there)."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)  # type: ignore[return-value]


Tower = _choices("Tower", TOWER_CHOICES)
View = _choices("View", VIEW_CHOICES)
Precision = _choices("Precision", PRECISIONS)
Decode = _choices("Decode", DECODES)
VerdictMode = _choices("VerdictMode", VERDICT_MODES)
RuleName = _choices("RuleName", RULES)


# ---- data / model ------------------------------------------------------------------------------
DataOpt = Annotated[str, typer.Option("--data", help=DATA_HELP, rich_help_panel="Data")]
TowerOpt = Annotated[
    Tower, typer.Option("--tower", help="Which tower(s) to embed.", rich_help_panel="Data")
]
NOpt = Annotated[
    int | None,
    typer.Option(
        "--n",
        min=20,
        help="Rows used by the tests (a seeded subsample); default: all rows.",
        rich_help_panel="Protocol",
    ),
]
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        min=0,
        max=MAX_SEED,
        help="Seed for subsampling (0 to 4294967295).",
        rich_help_panel="Protocol",
    ),
]
ViewOpt = Annotated[
    View,
    typer.Option(
        "--view",
        help="Which embedding the paper's per-coordinate columns and the Gaussian? call see: "
        "auto (default: the columns on the l2-normalised rows as in the paper, the call on the "
        "embeddings as given), l2, raw, or both (one row each). Norm CV is always on raw; the "
        "sphere call always on the l2 rows.",
        rich_help_panel="Protocol",
    ),
]
LayersOpt = Annotated[
    str | None,
    typer.Option(
        "--layers",
        metavar="all|LIST",
        help="Depth profile: one row per layer (all, or e.g. 0,3,6 or 2-4 or -1; L0 is the "
        "embedding output where the model has one), pooled like the final embedding; a depth "
        "plot with --html/--plots. See docs/training.md.",
        rich_help_panel="Protocol",
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option("--device", help="auto, cpu, cuda or cuda:I.", rich_help_panel="Compute"),
]
PrecisionOpt = Annotated[
    Precision,
    typer.Option(
        "--precision",
        help="auto = bf16 autocast on CUDA, fp32 on CPU.",
        rich_help_panel="Compute",
    ),
]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option("--batch-size", min=1, help="Items per batch.", rich_help_panel="Compute"),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers", min=0, help="Data-loading worker processes.", rich_help_panel="Compute"
    ),
]
DecodeOpt = Annotated[
    Decode,
    typer.Option(
        "--decode",
        help="How images are decoded: cpu (the model's own transforms, pixel for pixel; JPEGs "
        "by simplejpeg, which gives PIL's pixels), exact (the same as cpu), fast (Resize + "
        "CenterCrop by torch's uint8 kernel: faster, slightly different pixels) or gpu (JPEG "
        "on the CUDA device).",
        rich_help_panel="Compute",
    ),
]
CompileOpt = Annotated[
    bool,
    typer.Option(
        "--compile",
        help="torch.compile the model first (slow start, faster on long GPU runs).",
        rich_help_panel="Compute",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Embedding cache (default: $INFOGAUSS_CACHE or the user cache dir).",
        rich_help_panel="Compute",
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option("--no-cache", help="Neither read nor write the cache.", rich_help_panel="Compute"),
]
SHARD_DONE = (
    "{shard}: done; when every shard has run, the same command without --shard assembles the "
    "cache (and computes whatever is missing)"
)
ShardOpt = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="K/N",
        help="Compute only piece K of N of the embeddings into the cache and stop (job arrays); "
        "a later run without --shard assembles and computes what is missing. Under torchrun the "
        "ranks split the work themselves (docs/scale.md).",
        show_default=False,
        rich_help_panel="Compute",
    ),
]

# ---- detail ------------------------------------------------------------------------------------
DetailOpt = Annotated[
    bool,
    typer.Option(
        "--detail",
        help="Add rotation-invariant, sphere-level and calibrated diagnostics (a second table; "
        "see docs/diagnostics.md).",
        rich_help_panel="Protocol",
    ),
]
BootstrapOpt = Annotated[
    int,
    typer.Option(
        "--bootstrap",
        metavar="B",
        min=0,
        max=MAX_BOOTSTRAP,
        help="With --detail: bootstrap CIs of the compliances from B row resamples (0: off; "
        "each costs about one diagnosis).",
        rich_help_panel="Protocol",
    ),
]
MemoryBudgetOpt = Annotated[
    str | None,
    typer.Option(
        "--memory-budget",
        metavar="SIZE",
        help="Working memory of the diagnostics beyond the matrix (e.g. 512M, 2G); default: "
        "1/32 of the RAM, within 256M..8G. Files are memory-mapped and read in blocks, so a "
        "matrix larger than memory can be checked (docs/scale.md).",
        show_default=False,
        rich_help_panel="Compute",
    ),
]
VerdictModeOpt = Annotated[
    VerdictMode,
    typer.Option(
        "--verdict",
        help="Kept for compatibility: the Gaussian? call is rotation invariant either way; "
        "projections also reports the random-projection compliances.",
        rich_help_panel="Protocol",
    ),
]

RuleOpt = Annotated[
    RuleName,
    typer.Option(
        "--rule",
        help="calibrated: Gaussian? against a multivariate Gaussian of any covariance "
        "(✓ ≈ ✗ ?); paper: the paper's columns by its printed thresholds (mean A*² < 0.752, "
        "mean DP p > 0.05). The paper's call is in the JSON either way.",
        rich_help_panel="Protocol",
    ),
]
AlphaOpt = Annotated[
    float,
    typer.Option(
        "--alpha",
        min=0.0001,
        max=0.5,
        help="False-alarm rate of the Gaussian? and sphere calls (Bonferroni over their tests).",
        rich_help_panel="Protocol",
    ),
]

# ---- output ------------------------------------------------------------------------------------
JsonOpt = Annotated[
    str | None,
    typer.Option(
        "--json",
        metavar="FILE",
        help="Write the JSON report ('-' for stdout).",
        rich_help_panel="Output",
    ),
]
MarkdownOpt = Annotated[
    Path | None,
    typer.Option(
        "--markdown", metavar="FILE", help="Write a Markdown table.", rich_help_panel="Output"
    ),
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        metavar="FILE",
        help="Write a self-contained HTML report.",
        rich_help_panel="Output",
    ),
]
PlotsOpt = Annotated[
    Path | None,
    typer.Option(
        "--plots", metavar="DIR", help="Write diagnostic plots (PNG).", rich_help_panel="Output"
    ),
]
PerCoordinateOpt = Annotated[
    bool,
    typer.Option(
        "--per-coordinate",
        help="Include per-coordinate A*^2 and p-values in the JSON.",
        rich_help_panel="Output",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No table, no progress.", rich_help_panel="Output")
]

# ---- data source details -----------------------------------------------------------------------
CaptionsOpt = Annotated[
    str,
    typer.Option(
        "--captions",
        help="COCO captions for text towers: first (one per image) or all (about 5 per image).",
        rich_help_panel="Data",
    ),
]
TextFieldOpt = Annotated[
    str | None,
    typer.Option(
        "--text-field",
        help="Field/column holding the text in .jsonl/.csv files and hf: datasets.",
        rich_help_panel="Data",
    ),
]
StreamingOpt = Annotated[
    bool,
    typer.Option(
        "--streaming",
        help="Stream hf: datasets instead of downloading them whole.",
        rich_help_panel="Data",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Unreadable items are an error instead of being skipped.",
        rich_help_panel="Data",
    ),
]
DownloadOpt = Annotated[
    bool,
    typer.Option(
        "--download", help="Fetch MS-COCO val2017 if it is missing.", rich_help_panel="Data"
    ),
]


# ---- from options to the library's option objects ----------------------------------------------
__all__ = ["from_params"]
