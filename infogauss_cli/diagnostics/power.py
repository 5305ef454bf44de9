"""Power of "Gaussian?" against the relevant departure, iid Student t10 decorrelated coordinates:
up to :data:`TABLE_MAX_ROWS` rows from ``power_table.tsv`` (made by ``benchmarks/tables.py``;
interpolated in log m and log k), beyond it the larger of the closed forms of the pass-count
tests and (raw view) the radial test."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import special

from infogauss_cli.diagnostics.mardia import gaussian_moments
from infogauss_cli.diagnostics.null import read_tsv, table_row
from infogauss_cli.diagnostics.reference import reference
from infogauss_cli.diagnostics.refsim import ALT_DF

TABLE_FILE = Path(__file__).with_name("power_table.tsv")
TABLE_MAX_ROWS = 500
M_GRID = (20, 30, 50, 75, 100, 150, 200, 300, 500)
K_GRID = (1, 2, 4, 8, 16, 32, 64, 128)
VIEWS = ("raw", "l2")


@lru_cache(maxsize=1)
def _table() -> dict[str, np.ndarray]:
    """{view: (len(M_GRID), len(K_GRID)) power}, NaN where k > (m - 1) // 2."""
    out = {v: np.full((len(M_GRID), len(K_GRID)), np.nan) for v in VIEWS}
    for view, m, k, power, *_ in read_tsv(TABLE_FILE)[1:]:
        out[view][M_GRID.index(int(m)), K_GRID.index(int(k))] = float(power)
    return out


def _from_table(m: int, k: int, view: str) -> float:
    t = _table()[view]
    lm, lk = math.log(min(max(m, M_GRID[0]), M_GRID[-1])), math.log(min(max(k, 1), K_GRID[-1]))
    column = []
    for row in t:  # along k within each m, over the k that exist at that m
        ok = np.isfinite(row)
        keys = np.log(np.asarray(K_GRID)[ok])
        column.append(float(np.interp(lk, keys, row[ok])) if ok.any() else np.nan)
    col = np.asarray(column)
    ok = np.isfinite(col)
    return float(np.interp(lm, np.log(np.asarray(M_GRID)[ok]), col[ok]))


def relevant_power(m: int, k: int, view: str, alpha: float = 0.05) -> float:
    """The chance that the decision at ``alpha`` rejects iid t10 decorrelated coordinates at m
    rows and k coordinates."""
    if m <= TABLE_MAX_ROWS and alpha == 0.05:
        return _from_table(m, k, view)
    tests = 6 if view == "raw" else 5
    power = count_power(m, k, alpha / tests)
    if view == "raw":
        power = max(power, radial_power(m, k, alpha / tests))
    return power


def rows_for_power(rank: int, view: str, start: int, alpha: float = 0.05) -> int | None:
    """The smallest n (from ``start``, growing by half) at which the relevant departure would
    be caught at least half of the time (None beyond 10^7)."""
    n = max(start, 20)
    while n <= 10_000_000:
        if relevant_power(n, min(rank, max((n - 1) // 2, 1)), view, alpha) >= 0.5:
            return n
        n = int(n * 1.5) + 1
    return None


def count_power(m: int, k: int, level: float) -> float:
    """Binomial power of the AD or DP pass-count test at ``level`` against t10 coordinates."""
    ref = reference(m, 1, "raw")
    row = table_row(m)
    power = 0.0
    for null_rate, alt_rate in (
        (row["ad_rate"], ref.alt_ad_rate),
        (row["dp_rate"], ref.alt_dp_rate),
    ):
        ok = np.flatnonzero(special.bdtr(np.arange(k + 1), k, null_rate) <= level)
        if ok.size:
            power = max(power, float(special.bdtr(int(ok[-1]), k, alt_rate)))
    return power


def _t_moment(order: int, df: int = ALT_DF) -> float:
    """E t^order of a unit-variance Student t (order even, < df)."""
    r = order // 2
    raw = df**r * math.gamma(r + 0.5) * math.gamma(df / 2 - r)
    return raw / (math.sqrt(math.pi) * math.gamma(df / 2)) / (df / (df - 2)) ** r


def radial_power(m: int, k: int, level: float) -> float:
    """Power of the two-sided b2 test at ``level`` against k iid unit-variance t10
    coordinates: b2 shifts by k x their excess kurtosis; its sd is that of mean D^4."""
    mu4, mu6, mu8 = _t_moment(4), _t_moment(6), _t_moment(8)
    c2, c3 = mu4 - 1, mu6 - 3 * mu4 + 2
    c4 = mu8 - 4 * mu6 + 6 * mu4 - 3
    var_d4 = 4 * k**3 * c2 + k * c4 + 3 * k * (k - 1) * c2**2 - (k * c2) ** 2 + 4 * k**2 * c3
    crit = float(special.ndtri(1 - level / 2)) * math.sqrt(max(gaussian_moments(m, k)[2], 0.0))
    return float(special.ndtr((k * (mu4 - 3) - crit) / math.sqrt(var_d4 / m)))
