"""`infogauss fit` then `infogauss score` end to end through the CLI: a packaged model (minilm-l6
on pydoc-topics, effnet-lite0 on skimage-samples) and generated matrices; every output file; each
bad input one error line and exit 2."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from infogauss_cli.diagnostics.fit import GaussianFit, fit
from infogauss_cli.report.json_report import validate_report
from tests.support.cli import invoke

N = "40"  # rows of the packaged-model runs (d = 384 / 1280: Ledoit-Wolf)


def one_error(r, *needles: str) -> None:
    """Exit 2 and one ``error:`` line naming ``needles``."""
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """A minilm-l6 fit of 40 pydoc-topics sentences (the runs below reuse its cached rows)."""
    out = tmp_path_factory.mktemp("minilm")
    r = invoke(
        "fit", "minilm-l6", "--data", "pydoc-topics", "--n", N, "--out", out / "m.safetensors"
    )
    assert r.exit_code == 0, r.output
    assert "Ledoit-Wolf" in r.stdout and "n = 40, d = 384" in r.stdout
    return out


@pytest.mark.slow
def test_model_fit_then_score_in_sample_and_ood(minilm):
    fit_path, out = minilm / "m.safetensors", minilm / "s.parquet"
    meta = json.loads((minilm / "m.json").read_text())
    prov = meta["provenance"]
    assert prov["model"] == "minilm-l6" and prov["tower"] == "text" and prov["view"] == "raw"
    assert prov["data"] == "pydoc-topics" and prov["n"] == 40 and prov["d"] == 384
    assert len(prov["data_fingerprint"]) == 64 and len(prov["ids_sha256"]) == 64
    r = invoke(
        "score", "minilm-l6", "--data", "pydoc-topics", "--n", N, "--fit", fit_path, "--out", out,
        "--ood", "scene-captions", "--json", minilm / "s.json", "--top", "3",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "in-sample" in r.stdout and "AUROC" in r.stdout
    doc = json.loads((minilm / "s.json").read_text())
    validate_report(doc, "score")
    assert doc["in_sample"] is True and doc["n"] == 40 and len(doc["extremes"]) == 3
    ood = doc["ood"]
    assert 0.0 <= ood["auroc"] <= 1.0 and 0.0 <= ood["auroc_cosine"] <= 1.0 and ood["n_ood"] == 40
    table = pq.read_table(out).to_pydict()
    assert list(table) == ["id", "mahalanobis2", "loglik", "tail_p"] and len(table["id"]) == 40
    assert all("#" in i for i in table["id"])  # the source's item ids (topic#k)
    again = ("--data", "scene-captions", "--n", N, "--fit", fit_path, "--json", "-", "-q")
    r = invoke("score", "minilm-l6", *again)  # the --ood rows (cached): new samples
    assert r.exit_code == 0 and json.loads(r.stdout)["in_sample"] is False


@pytest.mark.slow
def test_model_refusals(minilm, tmp_path):
    fit_path = minilm / "m.safetensors"
    base = ("--data", "pydoc-topics", "--n", N, "--fit", fit_path)
    one_error(invoke("score", "minilm-l6@random", *base), "minilm-l6", "minilm-l6@random")
    one_error(invoke("score", "minilm-l6", *base, "--view", "l2"), "raw", "l2")
    (tmp_path / "few.txt").write_text("a\nb\n")
    one_error(invoke("fit", "minilm-l6", "--data", "pydoc-topics", "--labels", tmp_path / "few.txt",
                     "--out", tmp_path / "f.safetensors"), "2 labels", "rows")  # fmt: skip


@pytest.mark.slow
def test_image_model_html_with_thumbnails(tmp_path):
    fit_path = tmp_path / "e.safetensors"
    common = ("effnet-lite0", "--data", "skimage-samples", "--n", "20")
    assert invoke("fit", *common, "--out", fit_path, "-q").exit_code == 0
    html, qq = tmp_path / "s.html", tmp_path / "qq.png"
    r = invoke("score", *common, "--fit", fit_path, "--html", html, "--qq", qq, "--top", "4", "-q")
    assert r.exit_code == 0, r.output
    page = html.read_text()
    pictures = page.split('src="data:image/jpeg;base64,')[1:]
    assert len(pictures) == 4
    Image.open(io.BytesIO(base64.b64decode(pictures[0].split('"')[0]))).verify()
    assert qq.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def matrices(tmp_path_factory):
    """emb.npy (300 x 8 correlated Gaussian rows), its fit, a shifted other.npy, a 300 x 5 one."""
    root = tmp_path_factory.mktemp("matrices")
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((8, 8))
    np.save(root / "emb.npy", rng.standard_normal((300, 8)) @ mix)
    np.save(root / "other.npy", rng.standard_normal((100, 8)) @ mix + 3.0)
    np.save(root / "narrow.npy", rng.standard_normal((300, 5)))
    r = invoke(
        "fit", root / "emb.npy", "--out", root / "fit.safetensors", "--json", root / "f.json"
    )
    assert r.exit_code == 0, r.output
    return root


def test_matrix_fit_reloads_bit_for_bit(matrices):
    loaded = GaussianFit.load(matrices / "fit.safetensors")
    again = fit(np.load(matrices / "emb.npy"), view="raw")  # the same rows, fitted here
    for name in ("mean", "covariance", "eigenvalues", "eigenvectors"):
        assert np.array_equal(getattr(loaded, name), getattr(again, name)), name
    assert loaded.shrinkage == "sample" and loaded.n == 300
    summary = json.loads((matrices / "f.json").read_text())
    assert summary["shrinkage"] == "sample" and summary["provenance"]["backend"] == "file"
    assert summary == json.loads((matrices / "fit.json").read_text())  # the sidecar


def test_matrix_score_csv_gate_and_ood(matrices):
    fit_path, out = matrices / "fit.safetensors", matrices / "s.csv"
    ood = ("--ood", matrices / "other.npy", "--max-tail-excess", "0.05")
    r = invoke("score", matrices / "emb.npy", "--fit", fit_path, "--out", out, "--json", "-", *ood)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    validate_report(doc, "score")
    assert doc["in_sample"] is True and doc["ood"]["auroc"] > 0.9  # shifted by 3 sd
    lines = out.read_text().splitlines()
    assert lines[0].replace('"', "") == "id,mahalanobis2,loglik,tail_p" and len(lines) == 301
    r = invoke("score", matrices / "emb.npy", "--fit", fit_path, "--html", "-", "-q")
    assert r.exit_code == 0 and r.stdout.startswith("<!DOCTYPE html>"), r.output  # --html -
    heavy = matrices / "t.npy"  # multivariate t3: far more than 1% beyond the 99th percentile
    rng = np.random.default_rng(1)
    t3 = rng.standard_normal((300, 8)) / np.sqrt(rng.chisquare(3, (300, 1)) / 3)
    np.save(heavy, t3)
    r = invoke("score", heavy, "--fit", fit_path, "--max-tail-excess", "0.05", "-q")
    assert r.exit_code == 1 and "gate max-tail-excess failed" in r.output


def test_label_column_per_class(tmp_path):
    rng = np.random.default_rng(2)
    x = np.vstack([rng.standard_normal((60, 3)), rng.standard_normal((60, 3)) + 4])
    header = "a,b,c,kind\n"
    rows = [f"{u:.6f},{v:.6f},{w:.6f},{'ab'[i >= 60]}" for i, (u, v, w) in enumerate(x)]
    (tmp_path / "t.csv").write_text(header + "\n".join(rows) + "\n")
    args = ("--label-column", "kind")
    r = invoke("fit", tmp_path / "t.csv", *args, "--out", tmp_path / "f.safetensors")
    assert r.exit_code == 0 and "2 classes" in r.stdout, r.output
    r = invoke("score", tmp_path / "t.csv", *args, "--fit", tmp_path / "f.safetensors",
               "--out", tmp_path / "s.parquet", "-q")  # fmt: skip
    assert r.exit_code == 0, r.output
    table = pq.read_table(tmp_path / "s.parquet").to_pydict()
    assert table["class"] == table["nearest_class"] == ["a"] * 60 + ["b"] * 60


def test_matrix_refusals(matrices, tmp_path):
    fit_path = matrices / "fit.safetensors"
    one_error(invoke("score", matrices / "narrow.npy", "--fit", fit_path), "d = 8", "d = 5")
    one_error(invoke("score", matrices / "emb.npy", "--fit", fit_path, "--view", "l2"), "raw", "l2")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a fit")
    (tmp_path / "bad.json").write_text("{}")
    one_error(invoke("score", matrices / "emb.npy", "--fit", bad), "bad")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(["a"] * 295 + ["b"] * 5) + "\n")
    one_error(invoke("fit", matrices / "emb.npy", "--labels", labels,
                     "--out", tmp_path / "f.safetensors"), "'b'", "5")  # fmt: skip
    emb = matrices / "emb.npy"
    one_error(invoke("score", emb, "--fit", fit_path, "--out", emb), "--out", ".parquet")
    src = tmp_path / "in.csv"
    np.savetxt(src, np.load(emb), delimiter=",")
    one_error(invoke("score", src, "--fit", fit_path, "--out", src), "input")
    one_error(invoke("fit", emb, "--out", fit_path.with_name("emb.json")), "--out")
