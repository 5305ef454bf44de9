"""Input validation, views, subsampling and the Diagnosis object."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.diagnostics import (
    Diagnosis,
    InvalidEmbeddingsError,
    apply_view,
    diagnose,
    subsample,
    validate_matrix,
)


def _gauss(n: int = 50, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_error_class() -> None:
    assert issubclass(InvalidEmbeddingsError, BadInputError)
    assert InvalidEmbeddingsError.exit_code == 2


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (np.zeros(768), ["2-D", "(768,)", "reshape"]),
        (np.zeros((10, 20, 30)), ["3-D", "(10, 20, 30)", "reshape(-1, x.shape[-1])"]),
        (np.float64(3.0), ["2-D", "0-D"]),
        (np.zeros((7, 4)), ["needs at least 20 rows", "n >= 20", "got 7"]),
        (np.zeros((30, 0)), ["no columns", "(30, 0)"]),
        (np.array([["a", "b"]] * 30), ["numeric", "strings"]),
        (np.array([[1.0, None]] * 30, dtype=object), ["numeric", "object"]),
        (np.ones((30, 2), dtype=np.complex64), ["complex"]),
        (np.zeros((30, 2), dtype="datetime64[s]"), ["numeric"]),
        ([[1.0, 2.0], [3.0]] * 15, ["rectangular"]),
    ],
    ids=["1d", "3d", "0d", "few-rows", "no-cols", "str", "object", "complex", "date", "ragged"],
)
def test_validation_errors(bad, words: list[str]) -> None:
    with pytest.raises(InvalidEmbeddingsError) as err:
        validate_matrix(bad)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg
    with pytest.raises(InvalidEmbeddingsError):  # diagnose validates too
        diagnose(bad)


def test_non_finite_message_counts_and_positions() -> None:
    x = _gauss(40, 5)
    x[3, 1] = np.nan
    x[7, 0] = np.nan
    x[2, 4] = np.inf
    x[30, 2] = -np.inf
    with pytest.raises(InvalidEmbeddingsError) as err:
        validate_matrix(x)
    msg = str(err.value)
    assert "2 NaN and 2 Inf" in msg
    assert "(2, 4), (3, 1), (7, 0), (30, 2)" in msg
    many = _gauss(40, 5)
    many[:, 0] = np.nan
    with pytest.raises(InvalidEmbeddingsError, match="40 NaN and 0 Inf"):
        validate_matrix(many)
    with pytest.raises(InvalidEmbeddingsError, match="non-finite"):
        diagnose(x, view="raw")


def test_validate_returns_without_copy_and_converts_ints() -> None:
    x = _gauss()
    assert validate_matrix(x) is x
    x64 = x.astype(np.float64)
    assert validate_matrix(x64) is x64
    for a in (np.ones((25, 3), dtype=np.int32), np.ones((25, 3), dtype=bool), [[1, 2]] * 25):
        assert validate_matrix(a).dtype == np.float64


def test_l2_view() -> None:
    x = _gauss(60, 10) * 5
    v = apply_view(x, "l2")
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v.astype(np.float64), axis=1), 1.0, rtol=1e-6)
    v64 = apply_view(x.astype(np.float64), "l2")
    assert v64.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(v64, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(v, v64.astype(np.float32))  # float32 rounded once
    assert apply_view(x, "raw") is x
    with pytest.raises(BadInputError, match="unknown view"):
        diagnose(x, view="pca")  # type: ignore[arg-type]


def test_zero_rows_in_l2_view() -> None:
    x = _gauss(60, 10)
    x[[4, 9, 33]] = 0.0
    for call in (lambda: apply_view(x, "l2"), lambda: diagnose(x, view="l2")):
        with pytest.raises(InvalidEmbeddingsError) as err:
            call()
        assert "3 of 60 rows are all zeros" in str(err.value)
        assert "4, 9, 33" in str(err.value)
        assert "raw" in str(err.value)
    diagnose(x, view="raw")  # fine in the raw view


def test_subsample() -> None:
    x = np.arange(1000.0)[:, None] * np.ones((1, 3))
    a, ia = subsample(x, 100, seed=3)
    b, ib = subsample(x, 100, seed=3)
    _, ic = subsample(x, 100, seed=4)
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ia, ic)
    assert len(np.unique(ia)) == 100  # without replacement
    assert np.all(np.diff(ia) > 0)  # sorted
    np.testing.assert_array_equal(a[:, 0], ia)
    for n in (None, 1000, 5000):
        full, idx = subsample(x, n, seed=0)
        assert full is x
        np.testing.assert_array_equal(idx, np.arange(1000))
    with pytest.raises(BadInputError):
        subsample(x, 0, seed=0)


def test_diagnose_protocol_and_metrics() -> None:
    x = _gauss(500, 16, seed=2)
    diag = diagnose(x, n=200, seed=5)
    assert isinstance(diag, Diagnosis)
    assert (diag.n, diag.d, diag.view) == (200, 16, "l2")
    assert diag.row_indices.shape == (200,)
    again = diagnose(x, n=200, seed=5)
    np.testing.assert_array_equal(diag.ad.statistic, again.ad.statistic)
    assert diagnose(x, n=200, seed=6).ad.mean != diag.ad.mean
    assert diag.reference.n == 200 and diag.reference.d == 16
    m = diag.metrics()
    assert set(m) == {
        "norm_cv",
        "norm_mean",
        "ad_mean",
        "ad_compliance",
        "dp_mean_p",
        "dp_compliance",
        "effect_size",
        "n_constant_columns",
        "n_dead_columns",
    }
    counts = ("n_constant_columns", "n_dead_columns")
    assert all(type(v) is float for k, v in m.items() if k not in counts)
    assert type(m["n_constant_columns"]) is int and type(m["n_dead_columns"]) is int
    assert set(diag.null_dict()) == {
        "reference",
        "alpha",
        "trials",
        "ad_compliance",
        "dp_compliance",
        "ad_mean",
        "dp_mean_p",
        "ad_compliance_band",
        "dp_compliance_band",
        "ad_compliance_min",
        "dp_compliance_min",
        "effect_size",
        "effect_size_sd",
        "power_relevant",
        "power_relevant_paper",
    }
    null = diag.null_dict()
    assert all(
        type(null[k]) is float for k in ("ad_compliance", "dp_compliance", "ad_mean", "dp_mean_p")
    )
    lo, hi = null["ad_compliance_band"]
    assert lo < null["ad_compliance"] < hi
    with pytest.raises(dataclasses.FrozenInstanceError):
        diag.n = 3  # type: ignore[misc]
    with pytest.raises(BadInputError, match="n >= 20"):
        diagnose(x, n=10)
    with pytest.raises(BadInputError, match="unknown view"):
        diagnose(x, view="both")  # type: ignore[arg-type]


def test_constant_columns_reported_not_crash_not_pass() -> None:
    x = _gauss(300, 10, seed=1)
    x[:, 3] = 2.5
    x[:, 7] = 0.0
    raw = diagnose(x, view="raw")
    assert raw.constant_columns == (3, 7)
    assert raw.metrics()["n_constant_columns"] == 2
    assert np.isnan(raw.ad.statistic[[3, 7]]).all()
    # issue 11: constant (dead) coordinates are left out of the compliances, not failures
    assert raw.dead_columns == (3, 7) and raw.metrics()["n_dead_columns"] == 2
    assert raw.ad.compliance == np.mean(np.delete(raw.ad.statistic, [3, 7]) < 0.752)
    # l2 view: a constant non-zero raw coordinate varies with the row norm; zeros stay constant
    assert diagnose(x, view="l2").constant_columns == (7,)
    # everything constant: no means (None, never NaN), compliance 0
    flat = diagnose(np.ones((30, 4)), view="raw")
    m = flat.metrics()
    assert m["ad_mean"] is None and m["dp_mean_p"] is None
    assert m["ad_compliance"] == 0.0 and m["dp_compliance"] == 0.0
    assert m["norm_cv"] is not None and math.isclose(m["norm_cv"], 0.0, abs_tol=1e-12)
