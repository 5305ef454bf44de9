"""`infogauss audit` / `compare` end to end, offline, on a generated COCO-format folder with the
real packaged weights (minilm-l6 text, effnet-lite0 image) and random-init twins."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import invoke
from tests.support.coco import make_coco

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    ann, images = make_coco(root, n_images=26, captions_per_image=5)
    return f"coco:{ann}:{images}"


@pytest.fixture(scope="module")
def compared(coco, tmp_path_factory):
    """One compare run shared by several tests: all report files at once."""
    out = tmp_path_factory.mktemp("out")
    r = invoke(
        *[
            "compare",
            "minilm-l6",
            "effnet-lite0",
            "minilm-l6@random",
            "--data",
            coco,
            "--json",
            str(out / "r.json"),
            "--markdown",
            str(out / "r.md"),
            "--html",
            str(out / "r.html"),
            "--plots",
            str(out / "plots"),
        ],
    )
    return r, out


def test_compare_table_rows_in_order(compared):
    r, _ = compared
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("│")]
    models = [ln.split("│")[1].strip() for ln in lines]
    assert models[:3] == ["minilm-l6", "effnet-lite0", "minilm-l6@random"]
    assert models[3] == "ideal: uniform sphere"  # one reference row per (n, d, view): l2 here
    assert "1 item(s) skipped" in r.stdout  # the truncated JPEG


def test_compare_json_report(compared):
    _, out = compared
    report = json.loads((out / "r.json").read_text())
    assert report["schema"] == "infogauss.report/v1"
    rows = report["rows"]
    assert [(x["model"], x["tower"]) for x in rows] == [
        ("minilm-l6", "text"),
        ("effnet-lite0", "image"),
        ("minilm-l6@random", "text"),
    ]
    text, image, twin = rows
    assert (text["objective"], image["objective"], twin["objective"]) == (
        "infonce",
        "supervised",
        "random-init",
    )
    assert (text["backend"], image["backend"]) == ("transformers", "timm")
    assert text["protocol"]["d"] == 384 and image["protocol"]["d"] == 1280
    assert text["protocol"]["n"] == 26  # one caption per image (--captions first)
    assert image["data"]["items"] == 26 and image["data"]["skipped"] == 1
    assert image["protocol"]["n"] == 25
    assert image["protocol"]["device"] == "cpu" and image["protocol"]["precision"] == "fp32"
    for row in rows:
        assert set(row["metrics"]) >= {
            "norm_cv",
            "ad_mean",
            "ad_compliance",
            "dp_mean_p",
            "dp_compliance",
        }
        assert row["timing"]["extract_s"] >= 0 and row["timing"]["diagnose_s"] >= 0
        assert isinstance(row["verdict"]["gaussian"], bool)
    # effnet features are post-ReLU6: never Gaussian per coordinate
    assert image["verdict"]["gaussian"] is False


def test_compare_markdown_html_plots(compared):
    from PIL import Image

    _, out = compared
    md = (out / "r.md").read_text()
    assert md.count("\n| ") >= 5 and "effnet-lite0" in md
    page = (out / "r.html").read_text()
    assert "minilm-l6@random" in page and "https://" not in page
    assert page.count("data:image/png;base64,") >= 13  # compare + 4 per row
    pngs = sorted((out / "plots").glob("*.png"))
    assert len(pngs) == 13
    assert (out / "plots" / "compare.png").exists()
    for p in pngs:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 300


def test_audit_uses_the_cache_and_gates(coco, tmp_path):
    # supervised model, --require gaussian -> exit 1; non-gaussian -> 0
    r = invoke("audit", "effnet-lite0", "--data", coco, "--require", "gaussian", "--json", "-")
    assert r.exit_code == 1, r.output
    row = json.loads(r.stdout)["rows"][0]
    assert row["timing"]["from_cache"] == 1.0  # the compare run above filled the cache
    assert row["gates"][0]["passed"] is False
    assert (
        invoke("audit", "effnet-lite0", "--data", coco, "--require", "non-gaussian", "-q").exit_code
        == 0
    )
    assert (
        invoke(
            "audit",
            "effnet-lite0",
            "--data",
            coco,
            "--max-cv",
            "10",
            "--min-ad-compliance",
            "0",
            "--min-dp-compliance",
            "0",
            "--max-ad-mean",
            "1e9",
            "-q",
        ).exit_code
        == 0
    )


def test_audit_baseline_pass_and_fail(coco, tmp_path):
    base = tmp_path / "base.json"
    audit = ("audit", "minilm-l6", "--data", coco)
    assert invoke(*audit, "--json", base, "-q").exit_code == 0
    same = invoke(*audit, "--baseline", base, "--max-drop", "0", "-q")
    assert same.exit_code == 0, same.output
    # the baseline row's compliance is set to 1.0: the same model now "dropped"
    report = json.loads(base.read_text())
    report["rows"][0]["metrics"]["ad_compliance"] = 1.0
    report["rows"][0]["metrics"]["dp_compliance"] = 1.0
    base.write_text(json.dumps(report))
    worse = invoke(*audit, "--baseline", base, "--max-drop", "0.01", "--json", "-")
    assert worse.exit_code == 1
    gates = json.loads(worse.stdout)["rows"][0]["gates"]
    assert [g["name"] for g in gates] == ["max-drop:ad_compliance", "max-drop:dp_compliance"]


def test_view_both_and_captions_all(coco):
    r = invoke(
        "audit", "minilm-l6", "--data", coco, "--captions", "all", "--view", "both", "--json", "-"
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [x["protocol"]["view"] for x in rows] == ["l2", "raw"]
    assert rows[0]["protocol"]["n"] == 130  # 26 images x 5 captions
    assert rows[0]["metrics"]["norm_cv"] == rows[1]["metrics"]["norm_cv"]  # CV is on raw


def test_compare_with_a_model_that_cannot_load(coco):
    # resnet34 needs hub weights: offline it fails fast; the other model still runs
    r = invoke("compare", "resnet34", "minilm-l6", "--data", coco, "--tower", "all", "--json", "-")
    assert r.exit_code == 3, r.output
    rows = json.loads(r.stdout)["rows"]
    assert rows[0]["model"] == "resnet34" and "resnet34" in rows[0]["error"]
    assert rows[1]["model"] == "minilm-l6" and "error" not in rows[1]
    assert "error" in r.stderr  # the table (on stderr with --json -) shows the failed row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "clip-vit-l4"], "did you mean"),
        (["audit", "minilm-l6", "--data", "video:x"], "video:x"),
        (["audit", "minilm-l6", "--data", "coco:/nonexistent/ann.json"], "no such file"),
        (["audit", "effnet-lite0", "--data", "coco-val2017"], "infogauss data fetch"),
    ],
)
def test_bad_usage_exits_2(args, message):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output


def test_a_tower_the_model_lacks_exits_2(coco):
    r = invoke("audit", "effnet-lite0", "--tower", "text", "--data", coco)
    assert r.exit_code == 2 and "no text tower" in r.stderr
