"""What iid Gaussian coordinates give: the null expectation the measured numbers are read against.

The table (``null_table.tsv`` beside this module) was made once by :func:`_simulate_null_table`
(seed and sizes in its docstring) and is interpolated linearly in log n (clamped outside the
grid). The compliance bands are the central 95% range of a Binomial(d, p) share, i.e. what d
*independent* null coordinates give; real embeddings have correlated coordinates, which widens
the true spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infogauss_cli.diagnostics.normality import AD_CRITICAL_5PCT, DP_ALPHA, column_tests

TABLE_FILE = Path(__file__).with_name("null_table.tsv")  # how it was made: its header


def _load_table(path: Path = TABLE_FILE) -> tuple[tuple[float, ...], ...]:
    """Rows of the Monte-Carlo null table (columns: see the file's header)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return tuple(tuple(float(v) for v in row) for row in rows[1:])  # rows[0]: column names


_NULL_TABLE = _load_table()

SIM_SEED = 20260101


@dataclass(frozen=True)
class NullExpectation:
    """Per-coordinate summaries that iid N(0, 1) columns give at this n and d.

    ``*_band``: central 95% range over d independent columns (binomial for the compliances,
    normal approximation for the means)."""

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


def _binom_ppf(q: float, d: int, p: float) -> int:
    """Smallest k with P(Binomial(d, p) <= k) >= q (as scipy.stats.binom.ppf; no scipy.stats)."""
    from scipy.special import bdtr

    cdf = bdtr(np.arange(d + 1), d, p)
    return int(min(np.searchsorted(cdf, q * (1 - 1e-12)), d))


def _share_band(d: int, p: float) -> tuple[float, float]:
    return (_binom_ppf(0.025, d, p) / d, _binom_ppf(0.975, d, p) / d)


def table_row(n: int) -> tuple[float, ...]:
    """The null table's row at n rows: interpolated linearly in log n, clamped to the grid."""
    t = np.asarray(_NULL_TABLE, dtype=np.float64)
    logn = np.log(t[:, 0])
    return tuple(float(np.interp(math.log(n), logn, t[:, col])) for col in range(t.shape[1]))


def null_expectation(n: int, d: int) -> NullExpectation:
    """Null expectation of the diagnostics for n rows and d coordinates (n >= 20, d >= 1)."""
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    row = table_row(n)
    ad_mean, ad_sd, ad_comp = row[2], row[4], row[5]
    dp_comp, dp_mean, dp_sd = row[7], row[9], row[11]
    z = 1.959963984540054 / float(np.sqrt(d))
    return NullExpectation(
        ad_compliance=ad_comp,
        dp_compliance=dp_comp,
        ad_mean=ad_mean,
        dp_mean_p=dp_mean,
        ad_compliance_band=_share_band(d, ad_comp),
        dp_compliance_band=_share_band(d, dp_comp),
        n=int(n),
        d=int(d),
        ad_mean_band=(ad_mean - z * ad_sd, ad_mean + z * ad_sd),
        dp_mean_p_band=(dp_mean - z * dp_sd, dp_mean + z * dp_sd),
    )


def _simulate_null_table(
    n_grid: tuple[int, ...] = (20, 30, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 25000),
    columns: int | None = None,
    seed: int = SIM_SEED,
    workers: int | None = None,
) -> list[tuple[float, ...]]:
    """Monte-Carlo null table: for each n, ``columns`` iid N(0, 1) float64 columns (default
    1,000,000 for n <= 1000 and 200,000 above), ``np.random.default_rng([seed, n])``, through the
    same code as the diagnostics. Rows: n, columns, mean A*^2, its SE, sd A*^2, AD compliance,
    its SE, DP compliance, its SE, mean p, its SE, sd p."""
    rows = []
    for n in n_grid:
        m_total = columns or (1_000_000 if n <= 1000 else 200_000)
        rng = np.random.default_rng([seed, n])
        per = max(1, (32 << 20) // (8 * n))  # ~32 MB per batch
        a2_parts, p_parts = [], []
        done = 0
        while done < m_total:
            m = min(per, m_total - done)
            res = column_tests(rng.standard_normal((n, m)), workers=workers)
            a2_parts.append(res.a2star)
            p_parts.append(res.pvalue)
            done += m
        a2, p = np.concatenate(a2_parts), np.concatenate(p_parts)
        m = a2.size
        ad_ok = (a2 < AD_CRITICAL_5PCT).mean()
        dp_ok = (p > DP_ALPHA).mean()
        rows.append(
            (
                float(n),
                float(m),
                a2.mean(),
                a2.std(ddof=1) / np.sqrt(m),
                a2.std(ddof=1),
                ad_ok,
                np.sqrt(ad_ok * (1 - ad_ok) / m),
                dp_ok,
                np.sqrt(dp_ok * (1 - dp_ok) / m),
                p.mean(),
                p.std(ddof=1) / np.sqrt(m),
                p.std(ddof=1),
            )
        )
    return rows


if __name__ == "__main__":  # pragma: no cover - regenerates the table (a few minutes)
    import sys
    import time

    t0 = time.perf_counter()
    rows = _simulate_null_table()
    header = TABLE_FILE.read_text(encoding="utf-8").splitlines()[:8]
    print("\n".join(header))  # the comments and the column names
    for n, m, *v in rows:
        print("\t".join([str(int(n)), str(int(m)), *(f"{x:.6f}" for x in v)]))
    print(f"# {time.perf_counter() - t0:.0f} s", file=sys.stderr)
