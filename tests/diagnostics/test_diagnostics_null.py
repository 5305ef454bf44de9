"""The null table: interpolation, bands, and a fresh Monte-Carlo check of the constants."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from infogauss_cli.diagnostics.normality import NULL_TABLE as _NULL_TABLE
from infogauss_cli.diagnostics.normality import table_row

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from tables import simulate_null_table as _simulate_null_table

GRID = [int(r[0]) for r in _NULL_TABLE]


def test_table_is_sane() -> None:
    t = np.asarray(_NULL_TABLE)
    assert sorted(GRID) == GRID and GRID[0] == 20 and GRID[-1] == 25_000
    assert np.all((t[:, 2] > 0.37) & (t[:, 2] < 0.40))  # mean A*^2 (FACTS: 0.384-0.386)
    assert np.all(np.abs(t[:, 5] - 0.95) < 0.006)  # AD compliance
    assert np.all(np.abs(t[:, 7] - 0.945) < 0.01)  # DP compliance
    assert np.all(np.abs(t[:, 9] - 0.5) < 0.03)  # mean DP p
    assert np.all(t[:, [3, 6, 8, 10]] < 1e-3)  # MC standard errors


def test_interpolation_in_log_n_and_clamping() -> None:
    t = np.asarray(_NULL_TABLE)
    for row in t:
        e = table_row(int(row[0]))
        assert (e["ad_mean"], e["ad_rate"], e["dp_rate"], e["dp_mean_p"]) == pytest.approx(
            (row[2], row[5], row[7], row[9]), abs=1e-12
        )
    assert table_row(5) == table_row(20)
    assert table_row(10**7)["ad_mean"] == pytest.approx(t[-1, 2])
    lo, hi = table_row(1000)["ad_mean"], table_row(2000)["ad_mean"]
    mid = table_row(round(np.sqrt(1000 * 2000)))["ad_mean"]
    assert mid == pytest.approx((lo + hi) / 2, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(("n", "columns"), [(30, 100_000), (500, 40_000), (2000, 20_000)])
def test_table_reproduces_with_another_seed(n: int, columns: int) -> None:
    (row,) = _simulate_null_table((n,), columns=columns, seed=12345)
    ref = next(r for r in _NULL_TABLE if int(r[0]) == n)
    for est, se in ((2, 3), (5, 6), (7, 8), (9, 10)):  # mean A*^2, AD, DP compliance, mean p
        tol = 4.5 * np.hypot(row[se], ref[se])
        assert abs(row[est] - ref[est]) < tol, (n, est, row[est], ref[est], tol)
