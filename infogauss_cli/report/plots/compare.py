"""The comparison chart: AD and DP compliance per row, with the 95% line and null bands."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import AD_CRITICAL, DP_ALPHA
from infogauss_cli.report.cells import row_label
from infogauss_cli.report.plots.figure import AD_COLOR, DP_COLOR, FAIL, NULL, PlotSpec, null_band

# The comparison chart spans the HTML report's content width (about 1,170 px at the figures'
# 110 dpi) at 1:1, so its 9 pt labels stay 9 pt on screen, whatever the number of rows.
COMPARE_WIDTH = 10.6  # inches

COMPARE_FILE = "compare.png"


def _tick(row: Row) -> str:
    """A compact, wrapped x tick label: the model on top, ``[tower] (view)`` below."""
    rest = row_label(row)[len(row.model) :].strip()
    return "\n".join([*textwrap.wrap(row.model, 22, break_on_hyphens=True), rest]).strip()


def _draw_compare(rows: Sequence[Row]) -> Callable[[Any], None]:
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        w = 0.36
        banded = False
        for i, r in enumerate(rows):
            if r.error:
                ax.text(i, 0.03, "error", ha="center", color=FAIL, fontweight="bold")
                continue
            for off, key, color in ((-w / 2, "ad", AD_COLOR), (w / 2, "dp", DP_COLOR)):
                band = null_band(r.null, f"{key}_compliance_band")
                if band:  # the null's spread at this row's n and d, behind the bar's top
                    ax.fill_between(
                        [i + off - w / 2, i + off + w / 2],
                        *band,
                        color="#000000",
                        alpha=0.18,
                        lw=0,
                        zorder=3,
                    )
                    banded = True
                value = r.metrics.get(f"{key}_compliance")
                if value is None:
                    continue
                ax.bar(i + off, value, w * 0.94, color=color, zorder=2)
                near = band and band[0] - 0.04 <= value <= band[1]
                top = band[1] if near else value  # keep the label clear of the band
                ax.text(i + off, top + 0.012, f"{value:.0%}", ha="center", va="bottom", fontsize=8)
        ax.axhline(0.95, color=NULL, ls="--", lw=1.2, zorder=4)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([_tick(r) for r in rows], rotation=30 if len(rows) > 6 else 0)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_ylim(0, 1.1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("share of coordinates that pass")
        ax.grid(axis="x", visible=False)
        handles = [
            Patch(color=AD_COLOR, label=f"AD compliance (A*² < {AD_CRITICAL})"),
            Patch(color=DP_COLOR, label=f"DP compliance (p > {DP_ALPHA})"),
            ax.get_lines()[-1],
        ]
        handles[-1].set_label("iid Gaussian: 95%")
        if banded:
            handles.append(Patch(color="#000000", alpha=0.18, label="null band"))
        fig.legend(handles=handles, loc="outside lower center", ncol=2)
        ax.set_title("Per-coordinate normality: AD and DP compliance per row")

    return draw


def compare_spec(rows: Sequence[Row]) -> PlotSpec:
    return PlotSpec(
        filename=COMPARE_FILE,
        kind="compare",
        row=None,
        title="AD and DP compliance per row",
        alt="Bar chart of AD and DP compliance per row ("
        + ", ".join(row_label(r) for r in rows)
        + ") with the 95% null line",
        draw=_draw_compare(rows),
        width=COMPARE_WIDTH,
    )


def comparable(rows: Sequence[Row]) -> bool:
    return any(
        not r.error and ("ad_compliance" in r.metrics or "dp_compliance" in r.metrics) for r in rows
    )
