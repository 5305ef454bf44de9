"""`infogauss check --detail / --bootstrap`: table, JSON, Markdown, HTML and plots carry the
detail diagnostics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.cli import DETAIL_KEYS, invoke


def test_check_detail_prints_and_reports_everything(tmp_path):
    x = np.random.default_rng(0).standard_normal((600, 64)).astype(np.float32)
    np.save(tmp_path / "e.npy", x)
    out, md, html = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.html"
    r = invoke(
        "check", tmp_path / "e.npy", "--detail", "--bootstrap", "3", "--json", out,
        "--markdown", md, "--html", html, "--plots", tmp_path / "plots",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    for label in ("detail", "Proj. AD compliance", "Uniformity", "Bingham p", "Mardia skew p",
                  "BH rejected", "AD compliance 95% CI"):  # fmt: skip
        assert label in r.stdout, label
    (row,) = json.loads(out.read_text())["rows"]
    m = row["metrics"]
    for key in DETAIL_KEYS:
        assert key in m, key
    assert m["proj_k"] == 64 * 4 and len(m["ad_compliance_ci"]) == 2 and m["bootstrap_reps"] == 3
    assert m["uniformity"] < 0 and abs(m["uniformity"] - m["uniformity_ideal"]) < 0.01
    assert (
        row["null"]["proj_ad_compliance_band"][0] < 0.95 < row["null"]["proj_ad_compliance_band"][1]
    )
    assert "verdict" not in row["protocol"]
    assert "**Detail**" in md.read_text() and "Proj. AD compliance" in md.read_text()
    assert '<h2 id="detail">Detail</h2>' in html.read_text()
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    for kind in ("spectrum", "projqq", "calibration"):
        assert f"e.npy-l2-{kind}.png" in names


def test_no_detail_by_default(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "e.npy", rng.standard_normal((400, 64)).astype(np.float32))
    r = invoke("check", tmp_path / "e.npy", "--json", "-")
    (row,) = json.loads(r.stdout)["rows"]
    assert not any(k.startswith("proj_") or k in DETAIL_KEYS for k in row["metrics"])
    assert invoke("check", tmp_path / "e.npy", "--bootstrap", "-1").exit_code == 2


@pytest.mark.slow
def test_audit_carries_detail(tmp_path):
    from tests.support.coco import make_coco

    ann, images = make_coco(tmp_path, n_images=26, captions_per_image=1)
    r = invoke(
        "audit",
        "minilm-l6",
        "--data",
        f"coco:{ann}:{images}",
        "--detail",
        "--json",
        "-",
        "--cache-dir",
        tmp_path / "cache",
    )
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)["rows"]
    assert set(DETAIL_KEYS) <= set(row["metrics"]) and "verdict" not in row["protocol"]
