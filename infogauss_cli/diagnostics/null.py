"""What iid Gaussian coordinates give at n rows (``null_table.tsv``, made by
``benchmarks/tables.py``; interpolated linearly in log n, clamped to its grid)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import bdtr

TABLE_FILE = Path(__file__).with_name("null_table.tsv")
COLUMNS = ("n", "cols", "ad_mean", "ad_mean_se", "ad_sd", "ad_rate", "ad_rate_se", "dp_rate",
           "dp_rate_se", "dp_mean_p", "dp_mean_p_se", "dp_sd")  # fmt: skip


def read_tsv(path: Path) -> list[list[str]]:
    """The rows of a tab-separated table, its header row first, ``#`` comments left out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


NULL_TABLE = tuple(tuple(float(v) for v in row) for row in read_tsv(TABLE_FILE)[1:])


@dataclass(frozen=True)
class NullExpectation:
    """Per-coordinate summaries of iid N(0, 1) columns at this n and d; ``*_band``: central 95%
    range over d independent columns (binomial for the compliances, normal for the means)."""

    ad_compliance: float
    dp_compliance: float
    ad_mean: float
    dp_mean_p: float
    ad_compliance_band: tuple[float, float]
    dp_compliance_band: tuple[float, float]
    n: int = 0
    d: int = 0
    ad_mean_band: tuple[float, float] = (float("nan"), float("nan"))
    dp_mean_p_band: tuple[float, float] = (float("nan"), float("nan"))


def binom_ppf(q: float, d: int, p: float) -> int:
    """Smallest k with P(Binomial(d, p) <= k) >= q (as scipy.stats.binom.ppf)."""
    return int(min(np.searchsorted(bdtr(np.arange(d + 1), d, p), q * (1 - 1e-12)), d))


def table_row(n: int) -> dict[str, float]:
    """The null table at n rows (columns :data:`COLUMNS`)."""
    t = np.asarray(NULL_TABLE, dtype=np.float64)
    logn = np.log(t[:, 0])
    return {c: float(np.interp(math.log(n), logn, t[:, j])) for j, c in enumerate(COLUMNS)}


def null_expectation(n: int, d: int) -> NullExpectation:
    """Null expectation of the diagnostics for n rows and d coordinates (n, d >= 1)."""
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    r = table_row(n)
    z = 1.959963984540054 / math.sqrt(d)
    ad, dp = r["ad_rate"], r["dp_rate"]
    return NullExpectation(
        ad_compliance=ad,
        dp_compliance=dp,
        ad_mean=r["ad_mean"],
        dp_mean_p=r["dp_mean_p"],
        ad_compliance_band=(binom_ppf(0.025, d, ad) / d, binom_ppf(0.975, d, ad) / d),
        dp_compliance_band=(binom_ppf(0.025, d, dp) / d, binom_ppf(0.975, d, dp) / d),
        n=int(n),
        d=int(d),
        ad_mean_band=(r["ad_mean"] - z * r["ad_sd"], r["ad_mean"] + z * r["ad_sd"]),
        dp_mean_p_band=(r["dp_mean_p"] - z * r["dp_sd"], r["dp_mean_p"] + z * r["dp_sd"]),
    )
