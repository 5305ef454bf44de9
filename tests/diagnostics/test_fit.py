"""diagnostics/fit.py against independent computations: scipy's distances and densities, sklearn's
Ledoit-Wolf and the 2004 paper's loop formula, the exact Beta/F laws by seeded Monte Carlo, tail
calibration over seeds, and the OOD metrics against Mann-Whitney and a threshold sweep."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.diagnostics.fit import (
    MIN_CLASS_ROWS,
    fit,
    ledoit_wolf,
    nearest_class,
    ood_metrics,
    score_rows,
    tail_share,
)


def gaussian(rng, n, d, spectrum="wishart"):
    """n rows of N(0, C): C Wishart-random, 1/j eigenvalues or the identity."""
    if spectrum == "wishart":
        a = rng.standard_normal((d, 2 * d))
        return rng.standard_normal((n, d)) @ np.linalg.cholesky(a @ a.T / (2 * d)).T
    scale = 1 / np.sqrt(np.arange(1, d + 1)) if spectrum == "1/j" else np.ones(d)
    return rng.standard_normal((n, d)) * scale


def test_distances_and_densities_match_scipy(rng):
    from scipy.spatial.distance import mahalanobis

    x = gaussian(rng, 200, 6)
    for shrinkage in ("sample", "ledoit-wolf"):
        f = fit(x, shrinkage=shrinkage)
        vi = np.linalg.inv(f.covariance)
        want = [mahalanobis(row, f.mean, vi) ** 2 for row in x[:20]]
        np.testing.assert_allclose(f.mahalanobis(x[:20]), want, rtol=1e-9)
        law = stats.multivariate_normal(f.mean, f.covariance)
        np.testing.assert_allclose(f.logpdf(x[:20]), law.logpdf(x[:20]), rtol=1e-9)
    np.testing.assert_allclose(fit(x, shrinkage="sample").covariance, np.cov(x.T), rtol=1e-12)


def test_a_dead_coordinate_uses_the_rank(rng):
    x = np.column_stack([gaussian(rng, 100, 4), np.full(100, 3.0)])
    f = fit(x, shrinkage="sample")
    assert f.rank == 4 and "rank 4" in f.law(in_sample=True)
    law = stats.multivariate_normal(f.mean, f.covariance, allow_singular=True)
    np.testing.assert_allclose(f.logpdf(x[:10]), law.logpdf(x[:10]), rtol=1e-9)
    np.testing.assert_allclose(f.mahalanobis(x), fit(x[:, :4]).mahalanobis(x[:, :4]), rtol=1e-9)


def test_whitened_rows_have_identity_covariance(rng):
    from scipy.linalg import sqrtm

    x = gaussian(rng, 300, 5)
    f = fit(x, shrinkage="sample")
    for kind in ("zca", "pca"):
        np.testing.assert_allclose(np.cov(f.whiten(x, kind).T), np.eye(5), atol=1e-10)
    zca = (x - f.mean) @ np.linalg.inv(np.real(sqrtm(f.covariance)))  # W = C^-1/2, symmetric
    np.testing.assert_allclose(f.whiten(x, "zca"), zca, atol=1e-8)
    with pytest.raises(BadInputError, match="'zca' or 'pca'"):
        f.whiten(x, "cholesky")


def _ledoit_wolf_loop(x):
    """Ledoit & Wolf (2004), Lemmas 3.2-3.4, with <A, B> = tr(ABᵀ)/d, one row at a time."""
    n, d = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / n
    norm2 = lambda a: np.sum(a * a) / d  # noqa: E731
    m = np.trace(s) / d
    d2 = norm2(s - m * np.eye(d))
    b2 = sum(norm2(np.outer(r, r) - s) for r in xc) / n**2
    rho = min(b2, d2) / d2
    return rho, rho * m * np.eye(d) + (1 - rho) * s


@pytest.mark.parametrize(("n", "d"), [(40, 10), (15, 30)])
def test_ledoit_wolf_matches_the_paper_and_sklearn(rng, n, d):
    x = gaussian(rng, n, d, "1/j")
    rho, cov = _ledoit_wolf_loop(x)
    f = fit(x, shrinkage="ledoit-wolf")
    assert f.intensity == pytest.approx(rho, rel=1e-10) and 0 < rho < 1
    np.testing.assert_allclose(f.covariance, cov, rtol=1e-10, atol=1e-14)
    assert ledoit_wolf(x - x.mean(axis=0))[0] == pytest.approx(rho, rel=1e-10)
    np.testing.assert_allclose(f.eigenvectors * f.eigenvalues @ f.eigenvectors.T, cov, atol=1e-12)
    sk = pytest.importorskip("sklearn.covariance")
    lw = sk.LedoitWolf().fit(x)
    assert f.intensity == pytest.approx(lw.shrinkage_, rel=1e-9)
    np.testing.assert_allclose(f.covariance, lw.covariance_, rtol=1e-9, atol=1e-14)


def test_auto_keeps_the_sample_covariance_only_with_enough_rows(rng):
    big, small = fit(gaussian(rng, 200, 10)), fit(gaussian(rng, 15, 10))
    assert big.shrinkage == "sample" and "n=200 >= 2·rank=20" in big.reason
    assert small.shrinkage == "ledoit-wolf" and "n=15 < 2·rank=20" in small.reason
    assert fit(gaussian(rng, 15, 10), shrinkage="sample").shrinkage == "sample"
    with pytest.raises(BadInputError, match="at least rank \\+ 2 = 9 rows, got 8"):
        fit(gaussian(rng, 8, 10), shrinkage="sample")
    with pytest.raises(BadInputError, match="shrinkage is one of"):
        fit(gaussian(rng, 20, 3), shrinkage="oas")


@pytest.mark.parametrize("dead", [0, 2])
def test_exact_finite_sample_laws_by_monte_carlo(dead):
    """One in-sample row and one new row per replicate: n D²/(n-1)² ~ Beta(r/2, (n-r-1)/2) and
    D² ~ (n+1)/n · r(n-1)/(n-r) · F(r, n-r), r the rank; chi-square(r) is far off at n = 25."""
    rng, n, r, reps = np.random.default_rng(11), 25, 6, 3000
    ins, new = np.empty(reps), np.empty(reps)
    for i in range(reps):
        x = np.column_stack([gaussian(rng, n + 1, r), np.ones((n + 1, dead))])
        f = fit(x[:n], shrinkage="sample")
        ins[i], new[i] = f.mahalanobis(x[:1])[0], f.mahalanobis(x[n:])[0]
    assert f.rank == r
    beta = stats.beta(r / 2, (n - r - 1) / 2)
    assert stats.kstest(n * ins / (n - 1) ** 2, beta.cdf).pvalue > 0.01
    assert (
        stats.kstest(new / ((n + 1) / n * r * (n - 1) / (n - r)), stats.f(r, n - r).cdf).pvalue
        > 0.01
    )
    assert stats.kstest(ins, stats.chi2(r).cdf).pvalue < 1e-4
    assert stats.kstest(new, stats.chi2(r).cdf).pvalue < 1e-4
    p = f.tail_p(new, in_sample=False)  # the method's p-values are the same law
    assert stats.kstest(p, "uniform").pvalue > 0.01


def _ks_pass_rate(n, d, spectrum, seeds, shrinkage="auto"):
    """Share of seeds whose in-sample and new-sample tail p-values pass KS uniformity (p > 0.01)."""
    passed = np.zeros(2)
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = gaussian(rng, 2 * n, d, spectrum)
        f = fit(x[:n], shrinkage=shrinkage)
        p_in = f.tail_p(f.mahalanobis(x[:n]), in_sample=True)
        p_new = f.tail_p(f.mahalanobis(x[n:]), in_sample=False)
        passed += [stats.kstest(p, "uniform").pvalue > 0.01 for p in (p_in, p_new)]
    return f, passed / seeds


@pytest.mark.slow
def test_tail_p_values_are_uniform_on_gaussian_data():
    f, rate = _ks_pass_rate(500, 64, "wishart", 20)
    assert f.shrinkage == "sample" and min(rate) >= 0.95, rate
    f, rate = _ks_pass_rate(80, 120, "1/j", 20)  # n < d: Ledoit-Wolf and its Monte Carlo law
    assert f.shrinkage == "ledoit-wolf" and min(rate) >= 0.95, rate


def test_chi_square_is_not_uniform_where_the_exact_law_is():
    """d = n/2 (the benchmark: d = 512, n = 1000). New points scored against one fit are
    uniform only over fits (the pooled test above): given one fit at d = n/2 their law wanders."""
    rng = np.random.default_rng(3)
    x = gaussian(rng, 1000, 250, "identity")
    f = fit(x[:500], shrinkage="sample")
    d2_in, d2_new = f.mahalanobis(x[:500]), f.mahalanobis(x[500:])
    assert stats.kstest(f.tail_p(d2_in, in_sample=True), "uniform").pvalue > 0.01
    for d2 in (d2_in, d2_new):
        assert stats.kstest(stats.chi2(250).sf(d2), "uniform").pvalue < 1e-4


@pytest.mark.parametrize("shrinkage", ["sample", "ledoit-wolf"])
def test_heavy_tails_show_as_tail_excess(shrinkage):
    rng = np.random.default_rng(5)
    g = gaussian(rng, 1000, 32, "1/j")
    t5 = g / np.sqrt(rng.chisquare(5, (1000, 1)) / 5)
    f = fit(t5[:500], shrinkage=shrinkage)
    assert tail_share(f.tail_p(f.mahalanobis(t5[:500]), in_sample=True)) > 0.05
    assert tail_share(f.tail_p(f.mahalanobis(t5[500:]), in_sample=False)) > 0.05
    ok = fit(g[:500], shrinkage=shrinkage)
    assert tail_share(ok.tail_p(ok.mahalanobis(g[:500]), in_sample=True)) < 0.03


def test_law_quantiles_invert_tail_p(rng):
    for f in (fit(gaussian(rng, 100, 5)), fit(gaussian(rng, 12, 8))):
        for in_sample in (True, False):
            q = f.law_quantiles([0.1, 0.5, 0.9], in_sample=in_sample)
            np.testing.assert_allclose(1 - f.tail_p(q, in_sample=in_sample), [0.1, 0.5, 0.9],
                                       atol=2e-3)  # fmt: skip


def test_classes_and_nearest_class(rng):
    x = np.vstack([gaussian(rng, 60, 3), gaussian(rng, 60, 3) + 6.0])
    labels = ["a"] * 60 + ["b"] * 60
    f = fit(x, labels=labels)
    assert list(f.classes) == ["a", "b"] and f.classes["b"].n == 60 and f.n == 120
    np.testing.assert_allclose(f.classes["b"].mean, x[60:].mean(axis=0))
    names, logp = nearest_class(f, x)
    assert logp.shape == (120, 2) and list(names) == labels
    np.testing.assert_array_equal(names, np.array(["a", "b"])[np.argmax(logp, axis=1)])
    with pytest.raises(BadInputError, match="the labels have 119 entries but the matrix has 120"):
        fit(x, labels=labels[:-1])
    few = ["a"] * 115 + ["c"] * 5
    with pytest.raises(BadInputError, match=f"class 'c' has 5 rows; .* at least {MIN_CLASS_ROWS}"):
        fit(x, labels=few)
    with pytest.raises(BadInputError, match="no classes"):
        nearest_class(fit(x), x)


def test_score_rows_under_own_class_and_qq(rng):
    x = np.vstack([gaussian(rng, 60, 3), gaussian(rng, 60, 3) + 6.0])
    labels = ["a"] * 60 + ["b"] * 60
    f = fit(x, labels=labels)
    r = score_rows(f, x, [f"i{k}" for k in range(120)], labels=labels, in_sample=True)
    np.testing.assert_allclose(r.mahalanobis2[60:], f.classes["b"].mahalanobis(x[60:]))
    np.testing.assert_allclose(r.loglik[:60], f.classes["a"].logpdf(x[:60]))
    np.testing.assert_allclose(
        r.tail_p[:5], f.classes["a"].tail_p(r.mahalanobis2[:5], in_sample=True)
    )
    assert r.labels == tuple(labels) and r.nearest == tuple(labels) and r.ids[0] == "i0"
    assert r.tail_share == tail_share(r.tail_p) and r.law.startswith(
        "a: n D²/(n-1)² ~ Beta(3/2, 56/2) (n=60, rank 3); b: "
    )
    assert np.all(np.diff(r.qq[0]) >= 0) and sorted(r.qq[1]) == sorted(r.mahalanobis2)
    pooled = fit(gaussian(rng, 5000, 4))
    r = score_rows(pooled, gaussian(rng, 3000, 4), list(range(3000)), in_sample=False)
    assert r.labels is None and r.nearest is None and len(r.qq[0]) == len(r.qq[1]) <= 2000
    assert r.qq[1][0] == r.mahalanobis2.min() and r.qq[1][-1] == r.mahalanobis2.max()
    with pytest.raises(BadInputError, match="not among the fit's classes: z"):
        score_rows(f, x[:2], ["p", "q"], labels=["a", "z"], in_sample=False)
    with pytest.raises(BadInputError, match="d=5 but the fit has d=3"):
        score_rows(f, np.ones((2, 5)), ["p", "q"], in_sample=False)


def test_l2_view_normalises_rows(rng):
    x = gaussian(rng, 200, 4) + 3.0
    f = fit(x, view="l2")
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(f.mean, u.mean(axis=0))
    np.testing.assert_allclose(f.mahalanobis(x), fit(u).mahalanobis(u))


def _brute_fpr95(a, b):
    best = 1.0
    for t in np.unique(np.concatenate([a, b])):
        if np.mean(b >= t) >= 0.95:
            best = min(best, np.mean(a >= t))
    return best


@pytest.mark.parametrize("ties", [False, True])
def test_ood_metrics_match_mann_whitney_and_a_threshold_sweep(rng, ties):
    a, b = rng.normal(0, 1, 300), rng.normal(1, 1, 200)
    if ties:
        a, b = np.round(a), np.round(b)
    auroc, fpr = ood_metrics(a, b)
    u = stats.mannwhitneyu(b, a, alternative="two-sided", method="asymptotic").statistic
    assert auroc == pytest.approx(u / (a.size * b.size), abs=1e-12)
    assert fpr == pytest.approx(_brute_fpr95(a, b), abs=1e-12)
    assert ood_metrics([1, 2], [1, 2]) == (0.5, 1.0)
    assert ood_metrics([0, 0, 0], [1, 1, 1]) == (1.0, 0.0)
