"""The options that name a model: the zoo file, a hub revision, the objective of a model without
a zoo entry, and the help of a MODEL argument (shared by audit, compare, extract, track, zoo).

Only typer and the standard library are imported here: `infogauss --help` must stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

MODEL_HELP = (
    "Zoo id or alias (MODEL@random: the random-init twin); or a model without a zoo entry: "
    "hf:ID, timm:NAME, open_clip:NAME[:PRETRAINED], st:ID (a hub id or a local path)."
)
OBJECTIVES_HELP = "infonce, sigmoid, supervised, self-distillation, mae, other"

ZooOpt = Annotated[
    Path | None,
    typer.Option(
        "--zoo",
        help="Model zoo YAML (default: $INFOGAUSS_ZOO, then the packaged zoo).",
        rich_help_panel="Model",
    ),
]
RevisionOpt = Annotated[
    str | None,
    typer.Option(
        "--revision",
        metavar="REV",
        help="Hub revision (branch, tag or commit hash) of the model's weights; overrides the "
        "zoo entry's revision. One model only (pin several in the zoo file).",
        show_default=False,
        rich_help_panel="Model",
    ),
]
ObjectiveOpt = Annotated[
    str | None,
    typer.Option(
        "--objective",
        metavar="OBJ",
        help="Training objective recorded for models named hf:ID, timm:NAME, open_clip:NAME or "
        f"st:ID ({OBJECTIVES_HELP}; default: other). Zoo entries record their own.",
        show_default=False,
        rich_help_panel="Model",
    ),
]
