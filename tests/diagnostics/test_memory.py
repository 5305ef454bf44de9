"""Bounded memory: column passes within a budget, memory-mapped input, lazy readers, the
assembled cache file, and the lazy CLI (start-up)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import infogauss_cli.diagnostics.validate as blocks
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import parse_size
from infogauss_cli.diagnostics import diagnose, validate_matrix
from infogauss_cli.diagnostics.columns import column_tests, plan
from infogauss_cli.diagnostics.validate import l2_normalise, row_norms
from tests.support.cli import invoke


@pytest.fixture
def tiny_budgets(monkeypatch):
    """Let tests ask for budgets of a few hundred KB (several passes on small matrices)."""
    monkeypatch.setattr(blocks, "MIN_BUDGET", 0)


@pytest.fixture
def mapped(tmp_path, rng):
    x = rng.standard_t(6, (1500, 48)).astype(np.float32)
    x[:, 5] = 0.25  # a constant column
    np.save(tmp_path / "x.npy", x)
    return x, np.load(tmp_path / "x.npy", mmap_mode="r")


def _same(a, b):
    for f in ("a2star", "k2", "pvalue", "constant", "std", "w1"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


@pytest.mark.parametrize("budget", [60_000, 300_000, 5_000_000])
def test_column_passes_equal_the_one_pass_result(mapped, tiny_budgets, budget):
    x, m = mapped
    assert blocks.MappedRows(m).mapped and not blocks.MappedRows(x).mapped
    assert plan(1500, 48, 4, None, budget, True)[0] <= 48
    one = column_tests(x, budget=1 << 30)
    _same(one, column_tests(m, budget=budget))
    # the l2 view per block from the row norms == testing the normalised copy
    norms = row_norms(x)
    _same(column_tests(l2_normalise(x, norms)), column_tests(m, divide_by=norms, budget=budget))


def test_layout_respects_the_budget(tiny_budgets):
    n, d = 100_000, 1024
    for budget in (8 << 20, 64 << 20, 768 << 20):
        cols, bsize, workers = plan(n, d, 4, 2, budget, True)
        used = cols * n * 4 + workers * bsize * 3 * 8 * n
        assert used <= budget or (bsize == 1 and workers == 1 and cols == 1)
    assert plan(2000, 64, 4, 2, None, False)[0] == 64  # ordinary sizes: one pass


def test_memory_mapped_diagnosis_equals_in_memory(mapped, tiny_budgets):
    x, m = mapped
    for view in ("l2", "raw"):
        a = diagnose(x, view=view)
        b = diagnose(m, view=view, budget=200_000)
        assert a.metrics() == b.metrics()
        np.testing.assert_array_equal(a.ad.statistic, b.ad.statistic)
        np.testing.assert_array_equal(a.dp.pvalue, b.dp.pvalue)
    sub = diagnose(m, n=700, seed=3, budget=200_000)  # subsample gathered in blocks
    np.testing.assert_array_equal(sub.ad.statistic, diagnose(x, n=700, seed=3).ad.statistic)


def test_detail_in_blocks_equals_in_memory(mapped, tiny_budgets):
    from infogauss_cli.diagnostics.sphere import rayleigh, scatter
    from infogauss_cli.diagnostics.suite import sphere_detail

    x, m = mapped
    kw = dict(seed=1, projections=40)
    a = sphere_detail(x, **kw)
    b = sphere_detail(m, budget=150_000, **kw)  # several blocks of directions
    np.testing.assert_allclose(b.projections.ad.statistic, a.projections.ad.statistic, rtol=1e-9)
    np.testing.assert_allclose(b.projections.var_z, a.projections.var_z, rtol=1e-9, atol=1e-9)
    assert b.uniformity == a.uniformity and b.mardia == a.mardia
    u = l2_normalise(x).astype(np.float64)  # the moment-based tests from rows in memory
    s = scatter(u.T @ u / len(u), u.mean(axis=0), len(u))
    assert b.rayleigh.mean_norm == pytest.approx(rayleigh(u.mean(0), len(u)).mean_norm, rel=1e-9)
    assert b.scatter.bingham_p == pytest.approx(s.bingham_p, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(b.scatter.eigenvalues, s.eigenvalues, atol=1e-12)


def test_finite_check_on_a_memory_map(tmp_path, rng):
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    x[2500, 3], x[2999, 0], x[7, 7] = np.nan, np.inf, np.nan
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(BadInputError) as mem:
        validate_matrix(x)
    with pytest.raises(BadInputError) as mm:
        validate_matrix(np.load(tmp_path / "bad.npy", mmap_mode="r"))
    assert str(mm.value) == str(mem.value)
    assert "2 NaN and 1 Inf, first at (row, col) (7, 7), (2500, 3), (2999, 0)" in str(mm.value)


def test_readers_map_npy_and_safetensors(tmp_path, rng):
    from safetensors.numpy import save_file

    from infogauss_cli.data.readers import read_matrix

    x = rng.standard_normal((40, 8)).astype(np.float32)
    np.save(tmp_path / "e.npy", x)
    save_file({"emb": x, "other": x[:, :2].astype(np.float64)}, str(tmp_path / "e.safetensors"))
    for path, key in ((tmp_path / "e.npy", None), (tmp_path / "e.safetensors", "emb")):
        got = read_matrix(path, key)
        assert blocks.MappedRows(got).mapped
        np.testing.assert_array_equal(got, x)
    np.testing.assert_array_equal(read_matrix(tmp_path / "e.safetensors", "other"), x[:, :2])


def test_a_matrix_over_its_ram_share_is_memory_mapped(tmp_path, rng, monkeypatch):
    from infogauss_cli.extract import result
    from infogauss_cli.extract.plan import make_plan
    from infogauss_cli.extract.store import Chunk

    parts = [rng.standard_normal((r, 5)).astype(np.float32) for r in (4, 4, 2)]
    plan = make_plan([f"i{i}" for i in range(10)], 4, 4)
    done = {c: Chunk(c, *plan.bounds(c), parts[c]) for c in range(3)}
    monkeypatch.setattr(result, "RAM_SHARE", 1 << 40)  # every matrix is over its share
    got, ids, _ = result.assemble(plan, done, print, tmp_path)
    assert blocks.MappedRows(got).mapped and ids == list(plan.ids)
    np.testing.assert_array_equal(got, np.concatenate(parts))
    assert not list(tmp_path.iterdir())  # the scratch file is gone at once


def test_parse_size_and_the_option(tmp_path, rng):
    assert parse_size("512M") == 512 << 20
    assert parse_size("1.5GiB") == int(1.5 * (1 << 30))
    assert parse_size("1000") == 1000
    assert 256 << 20 <= blocks.default_budget() <= 8 << 30
    np.save(tmp_path / "x.npy", rng.standard_normal((100, 8)).astype(np.float32))
    r = invoke("check", tmp_path / "x.npy", "--memory-budget", "lots")
    assert r.exit_code == 2 and "--memory-budget" in r.output
    r = invoke("check", tmp_path / "x.npy", "--memory-budget", "1M")
    assert r.exit_code == 2 and "at least" in r.output
    assert invoke("check", tmp_path / "x.npy", "--memory-budget", "100M", "-q").exit_code == 0


RSS_SCRIPT = """
import resource, sys
import numpy as np
from infogauss_cli.diagnostics import validate_matrix
from infogauss_cli.diagnostics.columns import column_tests
from infogauss_cli.diagnostics.validate import row_norms
x = validate_matrix(np.load(sys.argv[1], mmap_mode="r"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
norms = row_norms(x)
res = column_tests(x[:, :32], divide_by=norms, budget=64 << 20)  # touches every page
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, int(res.constant.sum()))
"""


@pytest.mark.slow
def test_memory_mapped_pass_keeps_rss_well_under_the_matrix(tmp_path):
    """A 256 MB file: the finite check, the row norms and a column pass that touches every
    page add far less than the file to the peak RSS (pages are handed back)."""
    n, d = 65_536, 1024
    path = tmp_path / "big.npy"
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    x[:] = 1.0
    x[::2, :] = -1.0
    x.flush()
    del x
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RSS_SCRIPT), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    before, after, constant = (int(v) for v in r.stdout.split())
    assert constant == 0
    grew = (after - before) * 1024
    assert grew < 0.25 * n * d * 4, f"peak RSS grew by {grew / 2**20:.0f} MiB"


# ---- start-up: lazy commands -------------------------------------------------------------------
def test_help_lists_every_command_without_importing_them():
    code = textwrap.dedent(
        """
        import sys
        from typer.testing import CliRunner
        from infogauss_cli.cli.main import app
        out = CliRunner().invoke(app, ["--help"]).output
        loaded = [m for m in sys.modules if m.startswith("infogauss_cli.cli.")]
        heavy = ("numpy", "scipy", "torch", "pydantic", "yaml", "markdown_it", "pygments")
        heavy = [m for m in heavy if m in sys.modules]
        print(",".join(sorted(loaded)) + "|" + ",".join(heavy) + "|" + out.replace("\\n", " "))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded, heavy, out = r.stdout.split("|", 2)
    assert set(loaded.split(",")) <= {
        "infogauss_cli.cli.main",
        "infogauss_cli.cli.errors",
        "infogauss_cli.cli.lazy",
        "infogauss_cli.cli.help",
    }
    assert heavy == ""
    from infogauss_cli.cli.lazy import COMMANDS

    for name in COMMANDS:
        assert f" {name} " in out


def test_every_lazy_command_loads():
    from infogauss_cli.cli.lazy import COMMANDS

    for name in COMMANDS:
        r = invoke(name, "--help")
        assert r.exit_code == 0, (name, r.output)
        assert "Usage" in r.output


@pytest.mark.slow
def test_check_imports_no_scipy_stats(tmp_path, rng):
    np.save(tmp_path / "x.npy", rng.standard_normal((200, 8)).astype(np.float32))
    code = (
        "import sys; from infogauss_cli.cli.main import app; "
        "from typer.testing import CliRunner; "
        f"r = CliRunner().invoke(app, ['check', {str(tmp_path / 'x.npy')!r}, '-q']); "
        "heavy = ('scipy.stats', 'torch', 'pydantic', 'yaml', 'markdown_it', 'pygments', "
        "'infogauss_cli.diagnostics.suite', 'infogauss_cli.models.catalogue'); "
        "print(r.exit_code, *[m for m in heavy if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["0"], r.stdout + r.stderr
