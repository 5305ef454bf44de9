"""The gate options (shared ``Annotated`` aliases) and the :class:`~infogauss_cli.judge.gates.Gates`
they ask for, with the ``--baseline`` report read here (the library does no I/O for gates)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infogauss_cli.core.options import pick

if TYPE_CHECKING:
    from infogauss_cli.judge.gates import Gates


class Requirement(str, Enum):
    gaussian = "gaussian"
    non_gaussian = "non-gaussian"
    sphere = "sphere"


# ---- gates -------------------------------------------------------------------------------------
RequireOpt = Annotated[
    list[Requirement] | None,
    typer.Option(
        "--require",
        help="Fail (exit 1) unless the call is this: gaussian (✓ or ≈), non-gaussian (✗), "
        "sphere (uniform on the sphere). Repeat to require gaussian and sphere.",
        rich_help_panel="Gates",
    ),
]
MaxCvOpt = Annotated[
    float | None,
    typer.Option("--max-cv", min=0.0, help="Fail if norm CV exceeds X.", rich_help_panel="Gates"),
]
MinAdOpt = Annotated[
    float | None,
    typer.Option(
        "--min-ad-compliance",
        min=0.0,
        max=1.0,
        help="Fail if AD compliance (0..1) is below X.",
        rich_help_panel="Gates",
    ),
]
MinDpOpt = Annotated[
    float | None,
    typer.Option(
        "--min-dp-compliance",
        min=0.0,
        max=1.0,
        help="Fail if DP compliance (0..1) is below X.",
        rich_help_panel="Gates",
    ),
]
MaxAdMeanOpt = Annotated[
    float | None,
    typer.Option(
        "--max-ad-mean", min=0.0, help="Fail if mean A*^2 exceeds X.", rich_help_panel="Gates"
    ),
]
MaxEffectOpt = Annotated[
    float | None,
    typer.Option(
        "--max-effect",
        min=0.0,
        help="Fail if the effect excess (mean QQ distance of a coordinate to N(0,1) above an "
        "iid Gaussian coordinate's at the same n, in SDs) exceeds X.",
        rich_help_panel="Gates",
    ),
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        metavar="REPORT.json",
        help="Compare against an earlier JSON report (with --max-drop).",
        rich_help_panel="Gates",
    ),
]
MaxDropOpt = Annotated[
    float | None,
    typer.Option(
        "--max-drop",
        min=0.0,
        max=1.0,
        help="Fail if a compliance drops by more than X vs --baseline.",
        rich_help_panel="Gates",
    ),
]


def gates(params: Mapping[str, Any]) -> Gates:
    """The :class:`~infogauss_cli.judge.gates.Gates` asked for by a command's gate options
    (``params``: the command's ``locals()``), with the ``--baseline`` report's rows."""
    from infogauss_cli.judge.gates import GATE_OPTIONS, Gates

    given = pick(params, GATE_OPTIONS)
    given["require"] = tuple(getattr(r, "value", r) for r in given.get("require") or ())
    baseline = params.get("baseline")
    if baseline is not None:
        from infogauss_cli.report.json_report import read_report

        given["baseline"] = tuple(read_report(Path(baseline))["rows"])
    return Gates(**given)


__all__ = ["Requirement", "gates"]
