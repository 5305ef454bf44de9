"""`infogauss check`: the table, the JSON report, gates and every exit code (DESIGN.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.support.cli import gaussian, invoke, relu, run_cli


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "gauss.npy", gaussian())
    np.save(tmp_path / "relu.npy", relu())
    return tmp_path


def test_table_and_default_exit_zero(files):
    r = invoke("check", files / "gauss.npy")
    assert r.exit_code == 0, r.output
    for column in ("CV ↓", "AD Mean", "(<0.752)", "DP Mean", "(>0.05)", "Compliance", "Gaussian?"):
        assert column in r.stdout
    assert "ideal: uniform sphere" in r.stdout  # the l2 view's reference (issue 11)
    assert "✓" in r.stdout


def test_require_gaussian_gates(files):
    assert invoke("check", files / "gauss.npy", "--require", "gaussian").exit_code == 0
    r = invoke("check", files / "relu.npy", "--require", "gaussian")
    assert r.exit_code == 1
    assert "FAIL" in r.stdout and "require" in r.stdout
    assert invoke("check", files / "relu.npy", "--require", "non-gaussian").exit_code == 0


def test_json_stdout_is_the_v1_report(files):
    r = invoke("check", files / "relu.npy", "--require", "gaussian", "--json", "-")
    assert r.exit_code == 1
    report = json.loads(r.stdout)  # the table went to stderr
    assert report["schema"] == "infogauss.report/v1"
    assert report["tool"]["name"] == "infogauss"
    (row,) = report["rows"]
    assert set(row) >= {
        "model",
        "tower",
        "objective",
        "backend",
        "data",
        "protocol",
        "metrics",
        "null",
        "verdict",
        "gates",
        "timing",
    }
    assert "per_coordinate" not in row
    assert row["protocol"] == {
        "n": 2000,
        "d": 64,
        "seed": 0,
        "view": "l2",
        "precision": "float32",
        "device": None,
    }
    assert row["data"]["items"] == 2000 and row["data"]["skipped"] == 0
    m = row["metrics"]
    for key in ("norm_cv", "ad_mean", "ad_compliance", "dp_mean_p", "dp_compliance"):
        assert isinstance(m[key], float)
    assert 0 <= m["ad_compliance"] <= 1 and 0 <= m["dp_compliance"] <= 1
    assert set(row["null"]) >= {"ad_compliance", "dp_compliance", "ad_mean", "dp_mean_p"}
    assert row["verdict"]["gaussian"] is False and row["verdict"]["reasons"]
    assert row["verdict"]["call"] == "non-gaussian" and row["verdict"]["view"] == "raw"
    assert row["verdict"]["sphere"]["call"] in ("uniform", "non-uniform", "inconclusive")
    (gate,) = row["gates"]
    assert gate.pop("note").startswith("✗ non-gaussian")
    assert gate == {
        "name": "require",
        "threshold": "gaussian",
        "value": "non-gaussian",
        "passed": False,
    }


def test_json_file_per_coordinate_markdown_and_both_views(files):
    out, md = files / "r.json", files / "r.md"
    r = invoke(
        "check",
        files / "gauss.npy",
        "--json",
        out,
        "--markdown",
        md,
        "--per-coordinate",
        "--view",
        "both",
        "--quiet",
    )
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # --quiet
    rows = json.loads(out.read_text())["rows"]
    assert [row["protocol"]["view"] for row in rows] == ["l2", "raw"]
    assert len(rows[0]["per_coordinate"]["ad_statistic"]) == 64
    assert len(rows[0]["per_coordinate"]["dp_pvalue"]) == 64
    text = md.read_text()
    assert text.startswith("| Model |") and "gauss.npy" in text and "null: iid Gaussian" in text


def test_threshold_gates(files):
    ok = invoke(
        "check",
        files / "gauss.npy",
        "--min-ad-compliance",
        "0.8",
        "--min-dp-compliance",
        "0.8",
        "--max-ad-mean",
        "0.6",
        "--max-cv",
        "0.5",
    )
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.count("✓ pass") == 4
    bad = invoke("check", files / "relu.npy", "--max-ad-mean", "0.6", "--json", "-")
    assert bad.exit_code == 1
    (gate,) = json.loads(bad.stdout)["rows"][0]["gates"]
    assert gate["name"] == "max-ad-mean" and gate["passed"] is False and gate["value"] > 0.6


def test_subsample_n_and_seed(files):
    r = invoke("check", files / "gauss.npy", "--n", "500", "--seed", "3", "--json", "-")
    row = json.loads(r.stdout)["rows"][0]
    assert row["protocol"]["n"] == 500 and row["protocol"]["seed"] == 3
    assert row["data"]["items"] == 2000


def test_baseline_pass_and_fail(files):
    base = files / "base.json"
    assert invoke("check", files / "gauss.npy", "--json", base, "--name", "m", "-q").exit_code == 0
    gate = ("--baseline", base, "--max-drop", "0.02")
    same = invoke("check", files / "gauss.npy", "--name", "m", *gate)
    assert same.exit_code == 0, same.output
    worse = invoke("check", files / "relu.npy", "--name", "m", *gate, "--json", "-")
    assert worse.exit_code == 1
    gates = json.loads(worse.stdout)["rows"][0]["gates"]
    assert {g["name"] for g in gates} == {"max-drop:ad_compliance", "max-drop:dp_compliance"}
    assert not any(g["passed"] for g in gates)
    other = invoke("check", files / "gauss.npy", "--name", "other", *gate)
    assert other.exit_code == 1 and "no row for this model" in other.stdout


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda p: None, ["missing.npy"], "file not found"),
        (lambda p: (p / "x.txt").write_text("1"), ["x.txt"], "unsupported file type"),
        (lambda p: (p / "e.npy").write_bytes(b""), ["e.npy"], "empty"),
        (lambda p: np.save(p / "v.npy", np.ones(50)), ["v.npy"], "2-D"),
        (lambda p: np.save(p / "s.npy", np.ones((7, 4))), ["s.npy"], "at least 20 rows"),
        (
            lambda p: np.save(p / "nan.npy", np.where(np.eye(30, 5) > 0, np.nan, 1.0)),
            ["nan.npy"],
            "NaN",
        ),
        (lambda p: np.savez(p / "k.npz", a=np.ones((30, 3))), ["k.npz", "--key", "b"], "no key"),
        (lambda p: (p / "t.csv").write_text("a,b\n1,x\n"), ["t.csv"], "not a numeric table"),
        (
            lambda p: np.save(p / "g.npy", gaussian()),
            ["g.npy", "--baseline", "nope.json", "--max-drop", "0.1"],
            "baseline",
        ),
        (
            lambda p: np.save(p / "g.npy", gaussian()),
            ["g.npy", "--max-drop", "0.1"],
            "--baseline and --max-drop",
        ),
        (lambda p: np.save(p / "g.npy", gaussian()), ["g.npy", "--view", "sideways"], "sideways"),
        (lambda p: np.save(p / "g.npy", gaussian()), ["g.npy", "--n", "5"], "20"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, setup, args, message):
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    r = invoke("check", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert "Traceback" not in r.output


def test_error_lines_are_single(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("check", "missing.npy")
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("error: ")


def test_unexpected_failure_and_interrupt_exit_3(files, monkeypatch):
    import infogauss_cli.diagnostics.diagnosis as diagnostics

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(diagnostics, "diagnose_valid", boom)
    r = invoke("check", files / "gauss.npy")
    assert r.exit_code == 3 and "kaboom" in r.stderr and "Traceback" not in r.output

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(diagnostics, "diagnose_valid", interrupt)
    assert invoke("check", files / "gauss.npy").exit_code == 3


def test_debug_shows_the_traceback(files, monkeypatch):
    import infogauss_cli.diagnostics.diagnosis as diagnostics

    monkeypatch.setattr(diagnostics, "diagnose_valid", lambda *a, **k: 1 / 0)
    r = invoke("--debug", "check", files / "gauss.npy")
    assert isinstance(r.exception, ZeroDivisionError)


def test_console_script_and_module_entry_points(files):
    bin_dir = __import__("pathlib").Path(sys.executable).parent
    r = subprocess.run(
        [
            bin_dir / "infogauss",
            "check",
            files / "gauss.npy",
            "--json",
            "-",
            "--require",
            "gaussian",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rows"][0]["verdict"]["gaussian"] is True
    r = run_cli("--version", timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("infogauss ")


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from infogauss_cli.cli.main import app; "
        "heavy = ('torch', 'timm', 'open_clip', 'transformers', 'datasets', 'matplotlib', "
        "'scipy', 'numpy', 'PIL'); print(','.join(m for m in heavy if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_html_and_plots(files):
    from PIL import Image

    html, plots = files / "r.html", files / "plots"
    r = invoke("check", files / "relu.npy", "--html", html, "--plots", plots, "--quiet")
    assert r.exit_code == 0, r.output
    page = html.read_text()
    assert "relu.npy" in page and page.count("data:image/png;base64,") >= 5
    names = sorted(p.name for p in plots.glob("*.png"))
    assert names == [
        "compare.png",
        "relu.npy-l2-ad.png",
        "relu.npy-l2-dp.png",
        "relu.npy-l2-norms.png",
        "relu.npy-l2-qq.png",
    ]
    for p in plots.glob("*.png"):
        with Image.open(p) as im:
            im.verify()


def test_several_files_one_table(files):
    r = invoke("check", files / "gauss.npy", files / "relu.npy", "--json", "-")
    assert r.exit_code == 0, r.output
    assert [row["model"] for row in json.loads(r.stdout)["rows"]] == ["gauss.npy", "relu.npy"]
    r = invoke("check", files / "gauss.npy", files / "relu.npy", "--name", "x")
    assert r.exit_code == 2 and "--name" in r.stderr
