"""Summaries of the per-coordinate Anderson-Darling (modified A*^2) and D'Agostino-Pearson
tests, and what iid Gaussian coordinates give at n rows (``null_table.tsv``, made by
``benchmarks/tables.py``; interpolated linearly in log n, clamped to its grid)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

AD_CRITICAL_5PCT = 0.752  # 5% point of A*^2 (mean and variance estimated)
DP_ALPHA = 0.05


@dataclass(frozen=True, eq=False)
class ADResult:
    """A*^2 per column (NaN: constant); ``mean`` and ``compliance`` (share below 0.752)."""

    statistic: np.ndarray
    mean: float
    compliance: float


@dataclass(frozen=True, eq=False)
class DPResult:
    """K^2 and p per column (NaN: constant); ``mean_p`` and ``compliance`` (p > 0.05)."""

    statistic: np.ndarray
    pvalue: np.ndarray
    mean_p: float
    compliance: float


def nanmean(a: np.ndarray) -> float:
    """Mean of the finite values (NaN if none)."""
    ok = a[np.isfinite(a)]
    return float(ok.mean()) if ok.size else float("nan")


def ad_result(a2star: np.ndarray, live: np.ndarray | None = None) -> ADResult:
    """Summaries of per-column A*^2 over the ``live`` columns (default all)."""
    a = a2star if live is None else a2star[live]
    comp = float(np.count_nonzero(a < AD_CRITICAL_5PCT) / a.size) if a.size else float("nan")
    a2star.setflags(write=False)
    return ADResult(a2star, nanmean(a), comp)


def dp_result(k2: np.ndarray, pvalue: np.ndarray, live: np.ndarray | None = None) -> DPResult:
    """Summaries of per-column K^2 and p over the ``live`` columns (default all)."""
    p = pvalue if live is None else pvalue[live]
    comp = float(np.count_nonzero(p > DP_ALPHA) / p.size) if p.size else float("nan")
    k2.setflags(write=False)
    pvalue.setflags(write=False)
    return DPResult(k2, pvalue, nanmean(p), comp)


TABLE_FILE = Path(__file__).with_name("null_table.tsv")
COLUMNS = ("n", "cols", "ad_mean", "ad_mean_se", "ad_sd", "ad_rate", "ad_rate_se", "dp_rate",
           "dp_rate_se", "dp_mean_p", "dp_mean_p_se", "dp_sd")  # fmt: skip


def read_tsv(path: Path) -> list[list[str]]:
    """The rows of a tab-separated table, its header row first, ``#`` comments left out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


@functools.cache
def _read_grid(
    path: Path, m_grid: tuple[int, ...], k_grid: tuple[int, ...], prefix: tuple[str, ...]
) -> np.ndarray:
    """(m, k) values of a table's rows that start with ``prefix``, NaN where missing."""
    t = np.full((len(m_grid), len(k_grid)), np.nan)
    for row in read_tsv(path)[1:]:
        if tuple(row[: len(prefix)]) == prefix:
            m, k, value = row[len(prefix) : len(prefix) + 3]
            t[m_grid.index(int(m)), k_grid.index(int(k))] = float(value)
    return t


def grid_interp(
    path: Path, m_grid: tuple[int, ...], k_grid: tuple[int, ...], m: int, k: int,
    prefix: tuple[str, ...] = (),
) -> float:  # fmt: skip
    """A table of (m, k) values (rows starting with ``prefix``; read once) at (m, k): in log k
    within each m (its finite values), then in log m."""
    lk = math.log(min(max(k, 1), k_grid[-1]))
    ms, col = [], []
    for mm, row in zip(m_grid, _read_grid(path, m_grid, k_grid, prefix), strict=True):
        ok = np.isfinite(row)
        if ok.any():
            ms.append(math.log(mm))
            col.append(float(np.interp(lk, np.log(np.asarray(k_grid)[ok]), row[ok])))
    return float(np.interp(math.log(max(m, m_grid[0])), ms, col))


NULL_TABLE = tuple(tuple(float(v) for v in row) for row in read_tsv(TABLE_FILE)[1:])


def table_row(n: int) -> dict[str, float]:
    """The null table at n rows (columns :data:`COLUMNS`)."""
    t = np.asarray(NULL_TABLE, dtype=np.float64)
    logn = np.log(t[:, 0])
    return {c: float(np.interp(math.log(n), logn, t[:, j])) for j, c in enumerate(COLUMNS)}
