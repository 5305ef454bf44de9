"""The "infogauss next to the paper" table on a terminal: numbers whole at 100 and 80 columns,
the label column folding instead."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import Verdict
from infogauss_cli.pipelines.synthetic.experiment import PAPER, comparison_cells, render_comparison

METRICS = {
    "norm_cv": 0.0871,
    "ad_mean": 0.412,
    "ad_compliance": 0.9688,
    "dp_mean_p": 0.4567,
    "dp_compliance": 0.9844,
}


def paper_rows() -> list[Row]:
    """One row per paper setting, with long synthetic-run names and the paper's reference."""
    return [
        Row(
            model=f"Synthetic {key.title()} (Linear, InfoNCE, tau 0.1) E100",
            objective="infonce",
            protocol={"view": "l2", "n": 2000, "d": 64},
            data={"paper": ref},
            metrics=METRICS,
            verdict=Verdict("gaussian", ("reason",)),
        )
        for key, ref in PAPER.items()
    ]


def _print(width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, legacy_windows=False)
    console.print(render_comparison(paper_rows()))
    return out.getvalue()


@pytest.mark.parametrize("width", [100, 80])
def test_numbers_never_truncate_and_the_label_folds(width):
    text = _print(width)
    assert "…" not in text and "..." not in text
    assert max(len(line) for line in text.splitlines()) <= width
    for mine, theirs in comparison_cells(paper_rows()):
        for cell in (*mine[1:], *theirs[1:]):
            assert cell in text, (cell, text)  # every number whole, on one line
    assert "(Linear, InfoNCE," in text  # the long label folds onto more lines
