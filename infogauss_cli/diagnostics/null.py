"""What iid Gaussian coordinates give: the null expectation the measured numbers are read against.

The table below was made once by :func:`_simulate_null_table` (seed and sizes in its docstring)
and is interpolated linearly in log n (clamped outside the grid). The compliance bands are the
central 95% range of a Binomial(d, p) share, i.e. what d *independent* null coordinates give;
real embeddings have correlated coordinates, which widens the true spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .normality import AD_CRITICAL_5PCT, DP_ALPHA, column_tests

# Monte-Carlo table made by _simulate_null_table() with its defaults (seed 20260101; 1,000,000
# N(0, 1) float64 columns per n up to 1,000 and 200,000 above; 425 s on 2 cores); regenerate with
# `python -m infogauss_cli.diagnostics.null`. Columns: n, columns simulated, mean A*^2, its SE,
# sd A*^2, AD compliance (A*^2 < 0.752), its SE, DP compliance (p > 0.05), its SE, mean DP p,
# its SE, sd DP p. (D'Agostino-Pearson is anti-conservative for small n: 94.3% at n = 20.)
# fmt: off
_NULL_TABLE: tuple[tuple[float, ...], ...] = (
    #  n,     cols,    A*2 mean,  SE,     A*2 sd,   AD comp,  SE,
    #                  DP comp,   SE,     p mean,   SE,       p sd
    (   20, 1000000, 0.387002, 0.000189, 0.189142, 0.949810, 0.000218,
                     0.943574, 0.000231, 0.519393, 0.000282, 0.282290),
    (   30, 1000000, 0.385685, 0.000190, 0.189690, 0.950033, 0.000218,
                     0.943101, 0.000232, 0.514747, 0.000285, 0.284645),
    (   50, 1000000, 0.385226, 0.000190, 0.189610, 0.949955, 0.000218,
                     0.942938, 0.000232, 0.509677, 0.000287, 0.286643),
    (  100, 1000000, 0.384500, 0.000190, 0.189784, 0.950248, 0.000217,
                     0.944881, 0.000228, 0.506947, 0.000288, 0.288036),
    (  200, 1000000, 0.384829, 0.000190, 0.190190, 0.950102, 0.000218,
                     0.946373, 0.000225, 0.504793, 0.000289, 0.288736),
    (  500, 1000000, 0.384402, 0.000190, 0.190123, 0.949904, 0.000218,
                     0.948205, 0.000222, 0.503484, 0.000289, 0.288782),
    ( 1000, 1000000, 0.384545, 0.000191, 0.190610, 0.949751, 0.000218,
                     0.948539, 0.000221, 0.501810, 0.000289, 0.288930),
    ( 2000,  200000, 0.384364, 0.000424, 0.189613, 0.950930, 0.000483,
                     0.949955, 0.000488, 0.501736, 0.000645, 0.288564),
    ( 5000,  200000, 0.385172, 0.000426, 0.190435, 0.949795, 0.000488,
                     0.950145, 0.000487, 0.499921, 0.000645, 0.288403),
    (10000,  200000, 0.384842, 0.000426, 0.190588, 0.949610, 0.000489,
                     0.950335, 0.000486, 0.500025, 0.000646, 0.288706),
    (25000,  200000, 0.383656, 0.000423, 0.189123, 0.950895, 0.000483,
                     0.950060, 0.000487, 0.500613, 0.000646, 0.288749),
)
# fmt: on

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


def null_expectation(n: int, d: int) -> NullExpectation:
    """Null expectation of the diagnostics for n rows and d coordinates (n >= 20, d >= 1)."""
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    t = np.asarray(_NULL_TABLE, dtype=np.float64)
    logn = np.log(t[:, 0])

    def at(col: int) -> float:
        return float(np.interp(np.log(n), logn, t[:, col]))

    ad_mean, ad_sd, ad_comp = at(2), at(4), at(5)
    dp_comp, dp_mean, dp_sd = at(7), at(9), at(11)
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
    import time

    t0 = time.perf_counter()
    for n, m, *v in _simulate_null_table():
        print(f"    ({int(n):>5}, {int(m):>7}, " + ", ".join(f"{x:.6f}" for x in v[:5]) + ",")
        print(" " * 21 + ", ".join(f"{x:.6f}" for x in v[5:]) + "),")
    print(f"# {time.perf_counter() - t0:.0f} s")
