"""``metrics.tail_share`` against an independent computation (the sample covariance by np.cov,
D² by a linear solve, the exact in-sample law by scipy.stats.beta): about 1% on Gaussian rows
of any covariance (a binomial bound), far above on multivariate t5, null below 2·rank rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from infogauss_cli.diagnostics.fit import fit
from infogauss_cli.diagnostics.gaussian import (
    decorrelate,
    gaussian_tests,
    rows_needed,
    tail_metrics,
)

SEEDS = range(6)


def _rows(seed: int, n: int = 1000, d: int = 8, rank: int | None = None, df: int = 0):
    """Gaussian rows of a random covariance (of ``rank``), or multivariate t with ``df``."""
    rng = np.random.default_rng([seed, 27])
    x = rng.standard_normal((n, rank or d)) @ rng.standard_normal((rank or d, d)) + 3.0
    return x / np.sqrt(rng.chisquare(df, (n, 1)) / df) if df else x


def _independent(x: np.ndarray) -> np.ndarray:
    """In-sample tail p-values: n D²/(n-1)² ~ Beta(r/2, (n-r-1)/2), r the covariance's rank."""
    n = x.shape[0]
    s = np.cov(x, rowvar=False, ddof=1)
    c = x - x.mean(axis=0)
    r = np.linalg.matrix_rank(s, tol=1e-8 * np.linalg.norm(s, 2))
    d2 = np.einsum("ij,ji->i", c, np.linalg.pinv(s, rcond=1e-8, hermitian=True) @ c.T)
    return stats.beta.sf(n * d2 / (n - 1) ** 2, r / 2, (n - r - 1) / 2)


def _share(x: np.ndarray) -> float | None:
    z, rank = decorrelate(x)
    return tail_metrics(x, z, rank)[0]["tail_share"]


def test_gaussian_rows_give_one_percent_within_a_binomial_bound():
    n, counts = 1000, 0
    for seed in SEEDS:
        x = _rows(seed)
        share = _share(x)
        assert share == pytest.approx(np.mean(_independent(x) < 0.01), abs=1e-12)
        counts += round(share * n)
    total = n * len(SEEDS)  # 60 expected; outside [ppf(1e-4), isf(1e-4)] once in 5,000 runs
    lo, hi = stats.binom.ppf(1e-4, total, 0.01), stats.binom.isf(1e-4, total, 0.01)
    assert lo <= counts <= hi, (counts, lo, hi)


def test_multivariate_t5_is_far_above_one_percent():
    shares = []
    for seed in SEEDS[:3]:
        x = _rows(seed, df=5)
        shares.append(_share(x))
        assert shares[-1] == pytest.approx(np.mean(_independent(x) < 0.01), abs=1e-12)
    assert min(shares) > 0.04  # about 7% at d = 8 (about 17% at d = 64)


def test_singular_covariance_uses_its_rank():
    x = _rows(3, n=400, d=12, rank=7)
    z, rank = decorrelate(x)
    assert rank == 7 and z.shape[1] == 7
    assert _share(x) == pytest.approx(np.mean(_independent(x) < 0.01), abs=1e-12)


def test_edge_of_the_auto_rule_and_too_few_rows():
    d = 10
    assert rows_needed(d) == 20 == 2 * d
    x = _rows(4, n=2 * d, d=d, df=3)  # decorrelate keeps rank - 1 coordinates: the fit's path
    z, rank = decorrelate(x)
    assert z.shape[1] == rank - 1 and fit(x).shrinkage == "sample"
    f = fit(x)
    got = tail_metrics(x, z, rank)[0]["tail_share"]
    assert got == np.mean(f.tail_p(f.mahalanobis(x), in_sample=True) < 0.01)
    assert got == pytest.approx(np.mean(_independent(x) < 0.01), abs=1e-12)
    few = _rows(5, n=2 * d - 1, d=d)
    assert fit(few).shrinkage == "ledoit-wolf"
    z, rank = decorrelate(few)
    assert tail_metrics(few, z, rank) == ({"tail_share": None}, {"tail_share_n_needed": 20})


@pytest.mark.parametrize("view", ["raw", "l2"])
def test_in_the_gaussian_call_metrics(view):
    x = _rows(6, n=600, d=6)
    metrics, null = gaussian_tests(x, view, seed=0)
    rows = x / np.linalg.norm(x, axis=1, keepdims=True) if view == "l2" else x
    want = np.mean(_independent(rows) < 0.01)
    assert metrics["tail_share"] == pytest.approx(want, abs=1e-12) and null["tail_share"] == 0.01
    metrics, null = gaussian_tests(x[:40, :], view, seed=0)  # 40 rows, d = 6: enough
    assert metrics["tail_share"] is not None
    wide = _rows(7, n=30, d=20)
    metrics, null = gaussian_tests(wide, view, seed=0)
    assert metrics["tail_share"] is None and null["tail_share_n_needed"] == 40
