"""The paper's synthetic table and the "paper vs infogauss" comparison of the rows that carry a
``data["paper"]`` reference (on the terminal and in the HTML report)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infogauss_cli.judge.model import Row
from infogauss_cli.report.cells import COLUMNS, call_symbols, metric_cells, row_label
from infogauss_cli.report.html import Section, cell, table

if TYPE_CHECKING:
    from rich.table import Table


FIELDS = ("setting", "norm_cv", "ad_mean", "ad_compliance", "dp_mean_p", "dp_compliance")
FIELDS += ("gaussian", "analogue")  # 1/0; analogue: a different setting that plays the part
PAPER: dict[str, dict[str, Any]] = {
    key: dict(zip(FIELDS, (*values[:6], *map(bool, values[6:])), strict=True))
    for key, values in {
        "laplace": ("Synthetic Laplace (Linear)", 0.08, 0.38, 1.0, 0.49, 1.0, 1, 0),
        "gmm": ("Synthetic GMM (Linear)", 0.08, 0.39, 1.0, 0.46, 1.0, 1, 0),
        "binary-initial": ("Synthetic Binary (Initial E0)", 0.36, 1.64, 0.3, 0.02, 0.15, 0, 0),
        "binary-trained": ("Synthetic Binary (Trained E100)", 0.09, 0.42, 0.97, 0.46, 0.98, 1, 0),
        "supervised": ("CIFAR-10 Supervised (ResNet-18)", 0.5, 3.3, 0.062, 0.041, 0.039, 0, 1),
        "contrastive": ("CIFAR-10 Contrastive (ResNet-18)", 0.09, 0.43, 0.961, 0.39, 0.945, 1, 1),
    }.items()
}

HEADER = ("Setting", *COLUMNS[5:])  # the results table's metric columns
NOTE = (
    "Each infogauss row is followed by the paper's line it corresponds to. The paper's protocol "
    "(n, d, N, temperature, epochs, augmentation) is not public; ours is in the protocol "
    "section. * an analogue, not the same setting: the paper's supervised CIFAR-10 ResNet-18 "
    "next to our supervised run on the Gaussian mixture."
)


def comparison_cells(rows: Sequence[Row]) -> list[tuple[list[str], list[str]]]:
    """For each row that carries ``data["paper"]``: (our cells, the paper's cells)."""
    body = []
    for r in rows:
        paper = (r.data or {}).get("paper")
        if not paper or r.error:
            continue
        mine = [row_label(r), *metric_cells(r.metrics, *call_symbols(r.verdict))]
        setting = "  paper: " + paper["setting"] + (" *" if paper.get("analogue") else "")
        body.append((mine, [setting, *metric_cells(paper, "–", "✓" if paper["gaussian"] else "✗")]))
    return body


def render_comparison(rows: Sequence[Row]) -> Table | None:
    """The comparison as a rich table (None: no paper reference); the setting column folds."""
    from rich import box
    from rich.table import Table

    body = comparison_cells(rows)
    if not body:
        return None
    out = Table(
        title="infogauss next to the paper's table",
        title_justify="left",
        header_style="bold",
        caption=NOTE,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0),
    )
    out.add_column(HEADER[0], overflow="fold", min_width=8)
    for i, name in enumerate(HEADER[1:], 1):  # as wide as its widest cell or header word
        width = max(*(len(cells[i]) for pair in body for cells in pair), *map(len, name.split()))
        out.add_column("\n".join(textwrap.wrap(name, width)), justify="right", width=width)
    for mine, theirs in body:
        out.add_row(*mine)
        out.add_row(*theirs, style="dim", end_section=True)
    return out


def comparison_sections(rows: Sequence[Row]) -> list[Section]:
    """The comparison as an HTML report section (none without a paper reference)."""
    body = comparison_cells(rows)
    if not body:
        return []
    classes = ["model"] + ["num"] * (len(HEADER) - 1)
    lines = [
        {"cls": cls, "cells": [cell(x.strip(), c) for c, x in zip(classes, cells, strict=True)]}
        for mine, theirs in body
        for cells, cls in ((mine, ""), (theirs, "paper-ref"))
    ]
    html = table(list(zip(HEADER, classes, strict=True)), lines, notes=[("", NOTE)])
    return [Section("paper", "infogauss next to the paper", html)]
