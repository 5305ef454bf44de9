"""The renderers of `infogauss score` (report/score.py) on a real fit of seeded data: the table,
the per-sample file read back exactly, the QQ plot's data, the HTML page (thumbnails embedded,
ids escaped) and the JSON document against the published schema."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from dataclasses import replace

import jsonschema
import numpy as np
import pytest
from markupsafe import escape
from matplotlib.figure import Figure
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from infogauss_cli.cli.main import app
from infogauss_cli.diagnostics.fit import fit, score_rows
from infogauss_cli.report import score as S
from infogauss_cli.report.json_report import schema_text, validate_report

EVIL = "<script>alert(1)</script>[bold red]x"
OOD = {"auroc": 0.8125, "fpr95": 0.4375, "auroc_cosine": 0.5625, "fpr95_cosine": 0.875}


@pytest.fixture(scope="module")
def scored():
    """A labelled fit (n = 120, d = 4), row 0 an outlier with a hostile id, scored in-sample."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((120, 4)) @ rng.standard_normal((4, 4))
    x[0] = 6 * x.std(axis=0)
    labels = [("cat", "dog")[i % 2] for i in range(120)]
    ids = [EVIL if i == 0 else f"img/{i:03d}.jpg" for i in range(120)]
    f = fit(x, labels=labels)
    r = score_rows(f, x, ids, labels=labels, in_sample=True)
    return f, replace(r, ood={**OOD, "n_ood": 64})


def _top(r, k):
    """The ids of the k smallest tail p (then largest distances), independently computed."""
    order = sorted(range(len(r.ids)), key=lambda i: (r.tail_p[i], -r.mahalanobis2[i], i))
    return [r.ids[i] for i in order[:k]]


def test_table_summary_and_extremes(scored):
    f, r = scored
    console = Console(record=True, width=240)
    console.print(S.score_table(r, f, top=5))
    text = console.export_text()
    assert f"n = {f.n:,}, d = {f.d:,}, view {f.view}, 2 classes" in text
    assert f.reason in text and r.law in text and "in-sample" in text
    assert f"{r.tail_share:.2%} beyond the 99th percentile" in text and "1% expected" in text
    assert "AUROC 0.812" in text and "cosine-to-mean AUROC 0.562" in text and "64 samples" in text
    assert EVIL in text  # markup shown as typed, not applied
    body = text.split("most extreme samples", 1)[1]
    ranks = [m for m in re.findall(r"│\s+(\d+) │ (\S+)", body)]
    assert [rid for _, rid in ranks][1:] == _top(r, 5)[1:] and ranks[-1][0] == "5"
    i = r.ids.index(_top(r, 1)[0])
    assert f"{r.mahalanobis2[i]:.4g}" in body and r.nearest[i] in body


def test_scores_read_back_exactly(scored, tmp_path):
    import pyarrow.parquet as pq

    r = scored[1]
    cols = ["id", "mahalanobis2", "loglik", "tail_p", "class", "nearest_class"]
    got = pq.read_table(S.write_scores(r, tmp_path / "s.parquet")).to_pydict()
    assert list(got) == cols and got["id"] == list(r.ids)
    for k in cols[1:4]:
        assert np.array_equal(np.array(got[k]), getattr(r, k))
    assert got["class"] == list(r.labels) and got["nearest_class"] == list(r.nearest)
    with open(S.write_scores(r, tmp_path / "s.CSV"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == cols and [row["id"] for row in rows] == list(r.ids)
    for k in cols[1:4]:
        back = np.array([float(row[k]) for row in rows])
        assert [f"{v:.17g}" for v in back] == [f"{v:.17g}" for v in getattr(r, k)]
    plain = replace(r, labels=None, nearest=None)
    assert pq.read_table(S.write_scores(plain, tmp_path / "p.parquet")).column_names == cols[:4]


def test_qq_plot_draws_the_law_and_the_diagonal(scored):
    r = scored[1]
    fig = Figure()
    S._draw_qq(r, fig)
    ax = fig.axes[0]
    points, diagonal = ax.get_lines()
    assert np.array_equal(points.get_xdata(), r.qq[0]) and np.array_equal(
        points.get_ydata(), r.qq[1]
    )
    assert np.array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    assert r.law in " ".join(ax.get_title().split())  # wrapped onto lines
    with Image.open(io.BytesIO(S.qq_png(r))) as png:
        assert png.format == "PNG" and png.width > 400


def test_html_embeds_thumbnails_and_escapes_ids(scored, tmp_path):
    f, r = scored
    top = _top(r, 4)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((300, 150, 3), 200, np.uint8)).save(photo)
    thumbs = {top[0]: np.zeros((64, 256, 3), np.uint8), top[1]: photo, top[2]: "a <b>caption</b>"}
    page = S.score_html(r, f, thumbs, top=6)
    jpegs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page)
    sizes = [Image.open(io.BytesIO(base64.b64decode(j))).size for j in jpegs]
    assert sizes == [(96, 24), (48, 96)]  # the array, then the file: at most 96 px
    assert page.count("data:image/png;base64,") == 1 and '<th class="">item</th>' in page
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &lt;b&gt;caption&lt;/b&gt;" in page and str(escape(r.law)) in page
    assert page.split('id="extremes"')[1].count("<tr") == 1 + 6  # header and 6 samples


def test_json_validates_against_the_published_schema(scored):
    f, r = scored
    doc = json.loads(json.dumps(S.score_json(r, f, top=3), allow_nan=False))
    schema = json.loads(schema_text("score"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
    validate_report(doc, "score")
    assert doc["schema"] == "infogauss.score/v1" and doc["n"] == len(r.ids) == 120
    assert doc["fit"]["classes"] == {"cat": 60, "dog": 60} and doc["ood"]["n_ood"] == 64
    assert [e["id"] for e in doc["extremes"]] == _top(r, 3)
    assert doc["mahalanobis2"]["median"] == float(np.median(r.mahalanobis2))
    assert doc["tail_share"] == float(np.mean(r.tail_p < 0.01))
    broken = [
        {k: v for k, v in doc.items() if k != "law"},
        {**doc, "rows": []},
        {**doc, "tail_share": 1.5},
        {**doc, "extremes": [{"mahalanobis2": 1.0, "tail_p": 0.5}]},
        {**doc, "ood": {"auroc": 0.5}},
    ]
    for bad in broken:
        with pytest.raises(jsonschema.ValidationError):
            validate_report(bad, "score")


def test_schema_command_prints_the_score_schema():
    runner = CliRunner()
    got = runner.invoke(app, ["schema", "--kind", "score"])
    assert got.exit_code == 0 and got.stdout == schema_text("score")
    assert json.loads(got.stdout)["properties"]["schema"]["const"] == "infogauss.score/v1"
    assert runner.invoke(app, ["schema", "--kind", "nope"]).exit_code == 2


def test_shrinkage_fit_on_new_samples():
    """n < d: Ledoit-Wolf, new samples, no classes nor OOD: the JSON still validates."""
    rng = np.random.default_rng(3)
    f = fit(rng.standard_normal((30, 40)), view="l2")
    r = score_rows(f, rng.standard_normal((12, 40)), [f"s{i}" for i in range(12)], in_sample=False)
    doc = S.score_json(r, f)
    validate_report(doc, "score")
    assert doc["fit"]["shrinkage"] == "ledoit-wolf" and 0 < doc["fit"]["intensity"] <= 1
    assert doc["ood"] is None and doc["in_sample"] is False and len(doc["extremes"]) == 12
    assert all(set(e) == {"id", "mahalanobis2", "tail_p"} for e in doc["extremes"])
    console = Console(record=True, width=240)
    console.print(S.score_table(r, f))
    text = console.export_text()
    assert "12 new samples" in text and "OOD" not in text and "the 10 most extreme" in text
    page = S.score_html(r, f, {})
    assert "data:image/jpeg" not in page and '<th class="">item</th>' not in page
