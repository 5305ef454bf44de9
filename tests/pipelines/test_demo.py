"""`infogauss demo` end to end offline, and the built-in sources it reads (pydoc-topics,
skimage-samples)."""

from __future__ import annotations

import json

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources import parse_data_spec
from infogauss_cli.data.sources.builtin import MAX_CHARS, MIN_CHARS
from tests.support.cli import invoke


def test_pydoc_topics_are_unique_prose_sentences():
    src = parse_data_spec("pydoc-topics")
    items = src.items("text")
    texts = [i.text for i in items]
    assert len(items) > 1000
    assert len(set(texts)) == len(texts) and len({i.id for i in items}) == len(items)
    assert all(MIN_CHARS <= len(t) <= MAX_CHARS and t[0].isupper() for t in texts)
    assert not any(">>>" in t or "\n" in t for t in texts)
    assert src.fingerprint("text") == parse_data_spec("PYDOC-TOPICS").fingerprint("text")
    with pytest.raises(BadInputError, match="--tower text"):
        src.items("image")


def test_skimage_samples_decode_to_rgb():
    from infogauss_cli.data.sources.images import load_image

    src = parse_data_spec("skimage-samples")
    items = src.items("image")
    photos = [i for i in items if i.path]
    faces = [i for i in items if i.id.startswith("lfw_subset#")]
    assert len(faces) == 200 and len(photos) >= 20
    assert {"astronaut.png", "coffee.png", "rocket.jpg"} <= {i.id for i in photos}
    for item in photos + faces[:3]:
        img = load_image(item)
        assert img.mode == "RGB" and min(img.size) >= 25
    assert len(src.fingerprint("image")) == 64
    with pytest.raises(BadInputError):
        src.items("text")


def test_demo_without_models(monkeypatch, tmp_path):
    from infogauss_cli.pipelines import audit as demo

    monkeypatch.setattr(demo, "SYNTHETIC_SETTINGS", ("binary",))
    r = invoke("demo", "--no-models", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "report.json").read_text())["rows"]
    assert [row["model"] for row in rows] == [
        "Synthetic Binary (Linear) E0",
        "Synthetic Binary (Linear) E30",
    ]


@pytest.mark.slow
def test_demo_end_to_end_offline(tmp_path):
    """The README's main job: synthetic rows and the real packaged models, no network."""
    out = tmp_path / "demo"
    r = invoke("demo", "--out", out)
    assert r.exit_code == 0, r.output
    rows = json.loads((out / "report.json").read_text())["rows"]
    by_model = {row["model"]: row for row in rows}
    assert len(rows) == 9 and not any(row.get("error") for row in rows)
    assert [row["model"] for row in rows[:5]] == [
        "Synthetic GMM (Linear) E0",
        "Synthetic GMM (Linear) E30",
        "Synthetic Binary (Linear) E0",
        "Synthetic Binary (Linear) E30",
        "Synthetic GMM (Linear, supervised) E30",
    ]
    minilm, twin = by_model["minilm-l6"], by_model["minilm-l6@random"]
    assert minilm["data"]["source"] == "pydoc-topics" and minilm["protocol"]["n"] > 1000
    assert (minilm["objective"], twin["objective"]) == ("infonce", "random-init")
    effnet = by_model["effnet-lite0"]
    assert effnet["data"]["source"] == "skimage-samples" and effnet["protocol"]["d"] == 1280
    # supervised features are far from Gaussian; the contrastive text model is the closest of
    # the real rows
    assert effnet["metrics"]["ad_compliance"] < 0.1
    assert minilm["metrics"]["ad_compliance"] > twin["metrics"]["ad_compliance"]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 9 and "minilm-l6@random" in page
    assert "infogauss next to the paper" in page
    assert "Report:" in r.output and "--download" in r.output
    assert "infogauss compare clip-vit-l14" in r.output


def test_demo_keeps_going_when_a_data_source_is_missing(monkeypatch, tmp_path):
    """Without the offline extra's scikit-image: error rows for that pair, exit 3, the rest
    of the table still printed and written."""
    from infogauss_cli.data.sources import builtin
    from infogauss_cli.pipelines import audit as demo

    def no_skimage(self, tower):
        raise BadInputError("skimage-samples needs scikit-image: pip install 'infogauss[offline]'")

    monkeypatch.setattr(builtin.SkimageSamples, "items", no_skimage)
    monkeypatch.setattr(demo, "SYNTHETIC_SETTINGS", ("binary",))
    monkeypatch.setattr(
        demo, "MODEL_ROWS", ((("effnet-lite0", "effnet-lite0@random"), "skimage-samples"),)
    )
    r = invoke("demo", "--out", tmp_path)
    assert r.exit_code == 3, r.output
    rows = json.loads((tmp_path / "report.json").read_text())["rows"]
    assert [r["model"] for r in rows][1:] == [
        "Synthetic Binary (Linear) E30",
        "effnet-lite0",
        "effnet-lite0@random",
    ]
    assert "scikit-image" in rows[-1]["error"] and "Synthetic Binary" in r.output


def test_make_install_says_what_it_does():
    """`make demo` spent minutes in a silent `pip --quiet`: the recipe announces the install
    and leaves pip's progress on."""
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("$(BIN)/.installed: pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert "--quiet" not in recipe and "-q " not in recipe
    assert "@echo" in recipe and "minutes" in recipe
