"""The precomputed reference table: instant lookups, accurate against fresh simulations."""

from __future__ import annotations

import io
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from infogauss_cli.diagnostics.reference import LEVELS, gaussian_effect, lookup, reference, sphere_s
from infogauss_cli.diagnostics.refsim import simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from reftable_build import check


@pytest.mark.parametrize(("n", "d"), [(100_000, 1024), (10**7, 8192), (20, 2), (5_000, 8192)])
def test_table_answers_in_milliseconds(n: int, d: int) -> None:
    sys.modules[reference.__module__]._reference.cache_clear()  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    ref = reference(n, d, "l2")
    assert time.perf_counter() - t0 < 0.2
    assert ref.dp_levels is not None and ref.dp_pvalues.shape == LEVELS.shape
    assert 0 <= ref.ad_rate <= 1 and 0 <= ref.dp_rate <= 1 and ref.effect > 0


def test_large_d_tends_to_the_gaussian_and_small_d_fails() -> None:
    for n in (200, 50_000):
        raw, big = lookup(n, 8192, "raw"), lookup(n, 8192, "l2")
        assert raw is not None and big is not None
        assert big[0]["ad_rate"] == pytest.approx(raw[0]["ad_rate"], abs=0.01)
    assert lookup(5_000, 4, "l2")[0]["dp_rate"] < 0.01  # type: ignore[index]
    assert sphere_s(10**7, 8192) == pytest.approx(0.4724, abs=1e-3)


def test_outside_the_table_is_simulated() -> None:
    assert lookup(15, 6, "l2") is None and lookup(100, 1, "l2") is None
    assert lookup(10**8, 64, "raw") is None
    assert lookup(10**6, 4, "l2") is not None  # past the last row: extrapolated
    ref = reference(15, 6, "l2")
    assert ref.dp_levels is None and ref.dp_pvalues.size >= 600  # simulated columns


def test_gaussian_effect_matches_a_simulation() -> None:
    mean, sd = gaussian_effect(500)
    w1 = simulate(500, 0, "raw", 2000, seed=7, alt=False)["w1"]
    assert mean == pytest.approx(w1.mean(), abs=4 * w1.std() / np.sqrt(w1.size))
    assert sd == pytest.approx(w1.std(), rel=0.1)
    means = [gaussian_effect(n)[0] for n in (20, 1000, 10**5, 10**7)]
    assert all(a > b for a, b in itertools.pairwise(means))


def test_table_against_fresh_simulations() -> None:
    """The fast version of ``python benchmarks/reftable_build.py --check``."""
    out = io.StringIO()
    worst = check(((40, 7), (300, 45), (3000, 45)), budget=3_000_000, out=out)
    assert worst["z"] < 4.5 and worst["ad"] < 0.04 and worst["dp"] < 0.04, out.getvalue()
    assert worst["effect_rel"] < 0.05, out.getvalue()
