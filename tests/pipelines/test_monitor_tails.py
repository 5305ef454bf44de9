"""The monitor logs ``tail_share`` (the in-sample tail calibration): the same number as an
independent computation on the same rows (np.cov, a solve, scipy.stats.beta), near 1% for a
linear map of Gaussian inputs, far above for heavy-tailed ones; absent below 2·d rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from infogauss_cli.pipelines.monitor import GaussianityMonitor  # noqa: E402

N, IN, OUT = 1500, 12, 8


def _independent_share(x: np.ndarray) -> float:
    n, d = x.shape
    c = x - x.mean(axis=0)
    d2 = np.einsum("ij,ji->i", c, np.linalg.solve(np.cov(x, rowvar=False), c.T))
    return float(np.mean(stats.beta.sf(n * d2 / (n - 1) ** 2, d / 2, (n - d - 1) / 2) < 0.01))


def _probe(df: int = 0) -> np.ndarray:
    rng = np.random.default_rng(27)
    x = rng.standard_normal((N, IN))
    return (x / np.sqrt(rng.chisquare(df, (N, 1)) / df) if df else x).astype(np.float32)


@pytest.mark.parametrize("view", ["raw", "l2"])
def test_monitor_logs_tail_share(view):
    torch.manual_seed(0)
    model = torch.nn.Linear(IN, OUT)
    logged: list[dict[str, float]] = []
    mon = GaussianityMonitor(_probe(), n=None, view=view, uniformity=False)
    mon.loggers.append(lambda metrics, step: logged.append(metrics))
    res = mon.measure(model, 0)
    assert "infogauss/tail_share" in logged[-1]
    with torch.no_grad():
        z = model(torch.from_numpy(_probe())).numpy().astype(np.float64)
    if view == "l2":
        z /= np.linalg.norm(z, axis=1, keepdims=True)
    assert res.metrics["tail_share"] == pytest.approx(_independent_share(z), abs=1e-9)
    if view == "raw":  # a linear map of Gaussian rows is Gaussian: 15 of 1,500 expected
        assert 3 <= res.metrics["tail_share"] * N <= 31  # Binomial(1500, 1%) beyond 1e-4 each side
        heavy = GaussianityMonitor(_probe(df=5), n=None, view=view, uniformity=False)
        assert heavy.measure(model, 0).metrics["tail_share"] > 0.04


def test_monitor_leaves_it_out_below_two_d_rows():
    model = torch.nn.Linear(IN, IN)  # rank 12: the sample covariance needs 24 rows
    res = GaussianityMonitor(_probe()[:22], n=None, view="raw", uniformity=False).measure(model, 0)
    assert "tail_share" not in res.metrics and "gaussian_call" in res.metrics
