"""The paper's synthetic table and the "paper vs infogauss" comparison of the rows that carry a
``data["paper"]`` reference (terminal, Markdown, HTML)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from infogauss_cli.judge.model import Row
from infogauss_cli.report.cells import COLUMNS, call_symbols, metric_cells, row_label
from infogauss_cli.report.html import Section, cell, table

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult


@dataclass(frozen=True)
class PaperRow:
    """One line of the paper's table; ``analogue``: a different setting that plays the part."""

    setting: str
    norm_cv: float
    ad_mean: float
    ad_compliance: float
    dp_mean_p: float
    dp_compliance: float
    gaussian: bool
    analogue: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PAPER: dict[str, PaperRow] = {
    key: PaperRow(*values[:6], *map(bool, values[6:]))  # gaussian, analogue: 1/0
    for key, values in {
        "laplace": ("Synthetic Laplace (Linear)", 0.08, 0.38, 1.0, 0.49, 1.0, 1),
        "gmm": ("Synthetic GMM (Linear)", 0.08, 0.39, 1.0, 0.46, 1.0, 1),
        "binary-initial": ("Synthetic Binary (Initial E0)", 0.36, 1.64, 0.3, 0.02, 0.15, 0),
        "binary-trained": ("Synthetic Binary (Trained E100)", 0.09, 0.42, 0.97, 0.46, 0.98, 1),
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


ROOMY = 24  # the setting column's width below which the table drops its box


def render_comparison(rows: Sequence[Row]) -> _Comparison | None:
    """A renderable fitted to the console (None: no paper reference); the setting column folds."""
    body = comparison_cells(rows)
    return _Comparison(body) if body else None


class _Comparison:
    """Boxed when the setting column keeps :data:`ROOMY` characters, else compact."""

    def __init__(self, body: list[tuple[list[str], list[str]]]) -> None:
        self.body = body
        # a number column's width: its widest cell, and its header's longest word (it wraps)
        cells = [[len(c) for c in cells] for pair in body for cells in pair]
        words = [max(len(w) for w in name.split()) for name in HEADER]
        self.widths = [max(*(c[i] for c in cells), words[i]) for i in range(1, len(HEADER))]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich import box
        from rich.table import Table

        boxed_overhead = 1 + 3 * len(HEADER)  # edges, separators, one space each side
        compact = options.max_width - boxed_overhead - sum(self.widths) < ROOMY
        style: dict[str, Any] = (
            {"box": box.SIMPLE_HEAD, "show_edge": False, "padding": (0, 0)} if compact else {}
        )
        out = Table(
            title="infogauss next to the paper's table",
            title_justify="left",
            header_style="bold",
            caption=NOTE,
            caption_justify="left",
            **style,
        )
        out.add_column(HEADER[0], overflow="fold", min_width=8)
        for name, width in zip(HEADER[1:], self.widths, strict=True):
            header = "\n".join(textwrap.wrap(name, width))
            out.add_column(header, justify="right", no_wrap=True, width=width)
        for mine, theirs in self.body:
            out.add_row(*mine)
            out.add_row(*theirs, style="dim", end_section=True)
        yield out


def comparison_markdown(rows: Sequence[Row]) -> str:
    body = comparison_cells(rows)
    if not body:
        return ""
    esc = lambda c: c.strip().replace("|", "\\|")  # noqa: E731
    lines = ["**infogauss next to the paper**", "", "| " + " | ".join(HEADER) + " |"]
    lines.append("| :--- |" + " ---: |" * (len(HEADER) - 1))
    for mine, theirs in body:
        lines.append("| " + " | ".join(esc(c) for c in mine) + " |")
        lines.append("| " + " | ".join(f"*{esc(c)}*" for c in theirs) + " |")
    return "\n".join([*lines, "", NOTE]) + "\n"


def comparison_sections(rows: Sequence[Row]) -> dict[str, Any]:
    """The comparison as ``publish``'s ``markdown_tail`` and ``html_sections``."""
    body = comparison_cells(rows)
    if not body:
        return {"markdown_tail": "", "html_sections": []}
    classes = ["model"] + ["num"] * (len(HEADER) - 1)
    lines = [
        {"cls": cls, "cells": [cell(x.strip(), c) for c, x in zip(classes, cells, strict=True)]}
        for mine, theirs in body
        for cells, cls in ((mine, ""), (theirs, "paper-ref"))
    ]
    html = table(list(zip(HEADER, classes, strict=True)), lines, notes=[("", NOTE)])
    section = Section("paper", "infogauss next to the paper", html)
    return {"markdown_tail": "\n" + comparison_markdown(rows), "html_sections": [section]}
