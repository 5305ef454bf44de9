"""The three backends with tiny models built offline: random twins, local weights round trips,
preprocessing, the Encoder contract (picklable prepare/collate, eval/CPU/float32, dims)."""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.catalogue import build_encoder, weights_status
from tests.support.models import (
    TEXTS,
    TINY_CLIP_TEXT,
    TINY_CLIP_VISION,
    WORDS,
    _to_efficientnet_pytorch,
    bert_entry,
    check_contract,
    embed,
    make_entry,
    put_in_cache,
)

# ---- helpers -----------------------------------------------------------------------------------


# a tiny CLIP for transformers (random weights): its text and vision towers


# ---- timm --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "dim", "cnn"), [("test_vit.r160_in1k", 64, False), ("test_resnet.r160_in1k", 96, True)]
)
def test_timm_random_twin_is_deterministic(images, name, dim, cnn):
    entry = make_entry("timm", {"name": name}, dim=dim, pretrained=False, init_seed=3)
    state = torch.random.get_rng_state()
    enc = build_encoder(entry, "image")
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    check_contract(enc, "image", dim)
    assert enc.channels_last is cnn and enc.model_id == "tiny@random:3"
    x = enc.prepare(images[0])
    assert x.shape == (3, 160, 160) and x.dtype == torch.float32
    assert enc.prepare(images[3]).shape == (3, 160, 160)  # grayscale -> RGB
    a = embed(enc, images)
    b = embed(build_encoder(entry, "image"), images)
    assert np.array_equal(a, b)
    other = embed(build_encoder(entry.random_twin(4), "image"), images)
    assert not np.allclose(a, other)
    assert enc.fingerprint["weights"] == "random:3" and enc.fingerprint["init_seed"] == "3"


def test_timm_vit_embedding_is_the_cls_token_after_the_final_norm(images):
    enc = build_encoder(
        make_entry("timm", {"name": "test_vit.r160_in1k"}, pretrained=False), "image"
    )
    batch = enc.collate([enc.prepare(x) for x in images])
    with torch.inference_mode():
        tokens = enc.module.forward_features(batch["pixel_values"])
        got = enc.forward(enc.module, batch)
    assert torch.equal(got, tokens[:, 0])
    assert type(enc.module.norm).__name__ == "LayerNorm"


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_timm_local_weights_round_trip(tmp_path, images, suffix):
    import timm

    model = timm.create_model("test_vit.r160_in1k", pretrained=False).eval()  # with a classifier
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(model.state_dict(), str(path))
    else:
        torch.save({"state_dict": model.state_dict()}, path)
    entry = make_entry("timm", {"name": "test_vit.r160_in1k", "weights": str(path)})
    enc = build_encoder(entry, "image")
    check_contract(enc, "image", 64)
    batch = enc.collate([enc.prepare(x) for x in images])
    with torch.inference_mode():
        expected = model.forward_head(
            model.forward_features(batch["pixel_values"]), pre_logits=True
        )
        got = enc.forward(enc.module, batch)
    assert torch.equal(got, expected)
    assert enc.fingerprint["weights"] == f"file:sha256:{sha256(path.read_bytes()).hexdigest()}"
    assert weights_status(entry).kind == "local" and weights_status(entry).available
    # a folder holding model.safetensors / the single weights file works too
    folder_entry = make_entry("timm", {"name": "test_vit.r160_in1k", "weights": str(tmp_path)})
    assert np.array_equal(embed(build_encoder(folder_entry, "image"), images), embed(enc, images))


def test_timm_data_config_overrides(images):
    src = {"name": "test_resnet.r160_in1k", "input_size": 64, "mean": [0.5] * 3, "std": [0.25] * 3}
    src |= {"crop_pct": 1.0, "interpolation": "bilinear"}
    enc = build_encoder(make_entry("timm", src, dim=96, pretrained=False), "image")
    cfg = json.loads(enc.fingerprint["data_config"])
    assert (
        cfg["input_size"] == [3, 64, 64] and cfg["mean"] == [0.5] * 3 and cfg["std"] == [0.25] * 3
    )
    assert cfg["crop_pct"] == 1.0 and cfg["interpolation"] == "bilinear"
    white = Image.new("RGB", (80, 80), (255, 255, 255))
    x = enc.prepare(white)
    assert x.shape == (3, 64, 64) and torch.allclose(x, torch.full_like(x, 2.0))  # (1-.5)/.25


def test_timm_efficientnet_pytorch_checkpoints_are_remapped(tmp_path, images):
    import timm

    with torch.random.fork_rng():
        torch.manual_seed(1)
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    path = tmp_path / "lukemelas.pth"
    torch.save(_to_efficientnet_pytorch(model), path)
    src = {
        "name": "tf_efficientnet_lite0",
        "weights": str(path),
        "checkpoint_format": "efficientnet_pytorch",
    }
    enc = build_encoder(make_entry("timm", src, dim=1280), "image")
    batch = enc.collate([enc.prepare(x) for x in images[:2]])
    with torch.inference_mode():
        expected = model.forward_head(
            model.forward_features(batch["pixel_values"]), pre_logits=True
        )
        assert torch.equal(enc.forward(enc.module, batch), expected)
    # a timm-format file declared as efficientnet_pytorch is refused clearly
    torch.save(model.state_dict(), tmp_path / "timm.pth")
    bad = make_entry("timm", src | {"weights": str(tmp_path / "timm.pth")}, dim=1280)
    with pytest.raises(RunError, match="does not fit"):
        build_encoder(bad, "image")


def test_timm_hub_weights_load_from_the_local_cache_offline(tmp_path, hf_cache, images):
    """A cached hub file is used as is: no network (HF_HUB_OFFLINE is set in the tests)."""
    import timm
    from safetensors.torch import save_file

    model = timm.create_model("test_resnet.r160_in1k", pretrained=False).eval()
    save_file(model.state_dict(), str(tmp_path / "model.safetensors"))
    snap = put_in_cache(
        hf_cache,
        "timm/test_resnet.r160_in1k",
        {"model.safetensors": tmp_path / "model.safetensors"},
    )
    entry = make_entry("timm", {"name": "test_resnet.r160_in1k"}, dim=96)
    status = weights_status(entry)
    assert status.kind == "hub" and status.available and str(snap) in status.detail
    enc = build_encoder(entry, "image")
    assert enc.fingerprint["weights"].startswith("hf:timm/test_resnet.r160_in1k@0123456789abcdef")
    batch = enc.collate([enc.prepare(x) for x in images])
    with torch.inference_mode():
        expected = model.forward_head(
            model.forward_features(batch["pixel_values"]), pre_logits=True
        )
        assert torch.equal(enc.forward(enc.module, batch), expected)


def test_errors_for_bad_entries(tmp_path):
    with pytest.raises(BadInputError, match="has no text tower"):
        build_encoder(make_entry("timm", {"name": "test_vit.r160_in1k"}, pretrained=False), "text")
    with pytest.raises(BadInputError, match="says dim 65 but"):
        build_encoder(
            make_entry("timm", {"name": "test_vit.r160_in1k"}, dim=65, pretrained=False), "image"
        )
    with pytest.raises(BadInputError, match="not a timm model"):
        build_encoder(make_entry("timm", {"name": "no_such_net"}, pretrained=False), "image")
    with pytest.raises(BadInputError, match="no pretrained tag"):
        build_encoder(make_entry("timm", {"name": "resnet18.nope"}, pretrained=False), "image")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="no weights file"):
        build_encoder(
            make_entry("timm", {"name": "test_vit.r160_in1k", "weights": str(empty)}), "image"
        )


# ---- open_clip ---------------------------------------------------------------------------------


def test_open_clip_random_twin_both_towers(tiny_open_clip, images):
    entry = make_entry(
        "open_clip", {"name": tiny_open_clip}, towers=["image", "text"], dim=32, pretrained=False
    )
    img = build_encoder(entry, "image")
    check_contract(img, "image", 32)
    assert img.prepare(images[0]).shape == (3, 32, 32)
    a = embed(img, images)
    assert np.array_equal(a, embed(build_encoder(entry, "image"), images))
    txt = build_encoder(entry, "text")
    check_contract(txt, "text", 32)
    assert txt.prepare("hello") == "hello"
    batch = txt.collate(TEXTS)
    assert batch["input_ids"].shape == (3, 16) and batch["input_ids"].dtype == torch.long
    t = embed(txt, TEXTS)
    with torch.inference_mode():  # the projected, unnormalised encode_text
        ref = txt.module.encode_text(batch["input_ids"], normalize=False).numpy()
    assert np.array_equal(t, ref) and not np.allclose(np.linalg.norm(t, axis=1), 1.0)


def test_open_clip_local_weights_round_trip(tiny_open_clip, tmp_path, images):
    from safetensors.torch import save_file

    twin = make_entry(
        "open_clip",
        {"name": tiny_open_clip},
        towers=["image", "text"],
        dim=32,
        pretrained=False,
        init_seed=5,
    )
    ref = build_encoder(twin, "image")
    path = tmp_path / "open_clip_model.safetensors"
    save_file(ref.module.state_dict(), str(path))
    for weights in (path, tmp_path):  # the file, or the folder that holds it
        entry = make_entry(
            "open_clip",
            {"name": tiny_open_clip, "weights": str(weights)},
            towers=["image", "text"],
            dim=32,
        )
        assert np.array_equal(embed(build_encoder(entry, "image"), images), embed(ref, images))
        ref_text = build_encoder(twin, "text")
        assert np.array_equal(embed(build_encoder(entry, "text"), TEXTS), embed(ref_text, TEXTS))


def test_open_clip_tag_sets_preprocessing_also_for_random_twins(images):
    """clip-vit-b32@random: OpenAI's mean/std and bicubic resize, the real architecture."""
    from infogauss_cli.models.catalogue import load_zoo

    enc = build_encoder(load_zoo().resolve("clip-vit-b32@random"), "image")
    assert (
        "0.48145466" in enc.fingerprint["transform"] and "bicubic" in enc.fingerprint["transform"]
    )
    assert embed(enc, images[:1]).shape == (1, 512)


def test_open_clip_unknown_names():
    with pytest.raises(BadInputError, match="not an open_clip model"):
        build_encoder(make_entry("open_clip", {"name": "ViT-Q-99"}, pretrained=False), "image")
    with pytest.raises(BadInputError, match="no pretrained tag 'nope'"):
        build_encoder(make_entry("open_clip", {"name": "ViT-B-32", "pretrained": "nope"}), "image")


# ---- transformers ------------------------------------------------------------------------------
WORDS += ["plays", "in", "snow", "red", "car", "two", "man", "woman"]


def test_transformers_mean_pooling_matches_a_plain_reference(tiny_bert_folder):
    from transformers import AutoModel, AutoTokenizer

    enc = build_encoder(bert_entry(tiny_bert_folder), "text")
    check_contract(enc, "text", 32)
    texts = [*TEXTS, "a"]  # different lengths: padding must not leak into the mean
    got = embed(enc, texts)
    tok = AutoTokenizer.from_pretrained(tiny_bert_folder)
    model = AutoModel.from_pretrained(tiny_bert_folder).eval()
    for i, text in enumerate(texts):  # one at a time: no padding at all
        ids = tok(text, return_tensors="pt")
        with torch.inference_mode():
            ref = model(**ids).last_hidden_state.mean(1)[0].numpy()
        np.testing.assert_allclose(got[i], ref, rtol=1e-5, atol=1e-5)
    assert enc.fingerprint["weights"].startswith("dir:")


def test_transformers_cls_pooling_and_max_length(tiny_bert_folder):
    enc = build_encoder(
        bert_entry(tiny_bert_folder, src={"pooling": "cls", "max_length": 5}), "text"
    )
    batch = enc.collate(["a cat sitting on a mat in the snow"])
    assert batch["input_ids"].shape[1] == 5  # truncated
    with torch.inference_mode():
        ref = enc.module(**batch).last_hidden_state[:, 0]
        assert torch.equal(enc.forward(enc.module, batch), ref)


def test_transformers_random_twin_uses_the_local_config(tiny_bert_folder):
    twin = bert_entry(tiny_bert_folder, pretrained=False, init_seed=2)
    a, b = embed(build_encoder(twin, "text"), TEXTS), embed(build_encoder(twin, "text"), TEXTS)
    assert np.array_equal(a, b)
    assert not np.allclose(a, embed(build_encoder(bert_entry(tiny_bert_folder), "text"), TEXTS))


def test_transformers_offline_config_when_nothing_is_local(hf_cache):
    """The random twin of a hub-only model builds from model_type + config, with no network."""
    src = {
        "name": "nobody/tiny-clip",
        "pooling": "clip",
        "model_type": "clip",
        "config": {
            "projection_dim": 16,
            "text_config": TINY_CLIP_TEXT,
            "vision_config": TINY_CLIP_VISION,
        },
    }
    entry = make_entry("transformers", src, towers=["image", "text"], dim=16, pretrained=False)
    img = build_encoder(entry, "image")
    check_contract(img, "image", 16)
    rng = np.random.default_rng(1)
    pics = [Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)) for _ in range(2)]
    assert img.prepare(pics[0]).shape == (3, 32, 32)
    out = embed(img, pics)
    batch = img.collate([img.prepare(p) for p in pics])
    with torch.inference_mode():  # projected image features (an output object in transformers 5)
        vision = img.module.vision_model(pixel_values=batch["pixel_values"]).pooler_output
        np.testing.assert_allclose(out, img.module.visual_projection(vision).numpy(), atol=1e-6)
    txt = build_encoder(entry, "text")  # CLIP BPE from open_clip: no tokenizer files needed
    tb = txt.collate(TEXTS)
    assert tb["input_ids"].shape == (3, 77) and int(tb["input_ids"][0, 0]) == 49406
    assert embed(txt, TEXTS).shape == (3, 16)
    # without model_type/config and without files there is nothing to build from
    bare = make_entry(
        "transformers",
        {"name": "nobody/x", "pooling": "cls"},
        towers=["text"],
        dim=16,
        pretrained=False,
    )
    with pytest.raises(BadInputError, match="model_type"):
        build_encoder(bare, "text")


def test_transformers_clip_round_trip_with_saved_processor(tmp_path):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    cfg = CLIPConfig(
        projection_dim=16,
        text_config=TINY_CLIP_TEXT,
        vision_config=TINY_CLIP_VISION,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = CLIPModel(cfg).eval()
    model.save_pretrained(tmp_path)
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(tmp_path)
    entry = make_entry(
        "transformers", {"name": "x/tiny-clip", "weights": str(tmp_path), "pooling": "clip"}, dim=16
    )
    enc = build_encoder(entry, "image")
    pic = Image.fromarray(np.random.default_rng(2).integers(0, 255, (50, 40, 3), dtype=np.uint8))
    x = enc.prepare(pic)
    with torch.inference_mode():
        expected = model.get_image_features(pixel_values=x[None])
    expected = getattr(expected, "pooler_output", expected)
    # (the reference is built directly, not with from_pretrained: attention kernels may differ)
    np.testing.assert_allclose(embed(enc, [pic]), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_transformers_weights_must_be_a_save_pretrained_folder(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"x")
    entry = make_entry(
        "transformers",
        {"name": "x/y", "weights": str(tmp_path / "w.bin"), "pooling": "cls"},
        towers=["text"],
    )
    with pytest.raises(BadInputError, match=r"config\.json"):
        build_encoder(entry, "text")
    with pytest.raises(BadInputError, match="for text towers"):
        build_encoder(make_entry("transformers", {"name": "x/y", "pooling": "mean"}), "image")


def test_weights_that_do_not_fit_are_a_run_error(tmp_path):
    import timm
    from safetensors.torch import save_file

    other = timm.create_model("test_resnet.r160_in1k", pretrained=False)
    save_file(other.state_dict(), str(tmp_path / "model.safetensors"))
    entry = make_entry("timm", {"name": "test_vit.r160_in1k", "weights": str(tmp_path)})
    with pytest.raises(RunError, match=r"cannot load tiny: the weights in .* do not fit test_vit"):
        build_encoder(entry, "image")


def test_transformers_weights_that_do_not_fit_are_a_run_error(tiny_bert_folder, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "broken"
    shutil.copytree(tiny_bert_folder, folder)
    state = load_file(str(folder / "model.safetensors"))
    del state[next(k for k in state if "encoder.layer.1" in k)]
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(RunError, match="do not fit its config"):
        build_encoder(bert_entry(folder), "text")


def test_transformers_hub_model_loads_from_the_local_cache_offline(tiny_bert_folder, hf_cache):
    files = {p.name: p for p in Path(tiny_bert_folder).iterdir() if p.is_file()}
    snap = put_in_cache(hf_cache, "test/tiny-bert", files)
    entry = make_entry(
        "transformers", {"name": "test/tiny-bert", "pooling": "mean"}, towers=["text"], dim=32
    )
    status = weights_status(entry)
    assert status.kind == "hub" and status.available and str(snap) in status.detail
    enc = build_encoder(entry, "text")
    assert enc.fingerprint["weights"] == f"hf:test/tiny-bert@{snap.name}"
    local = build_encoder(bert_entry(tiny_bert_folder), "text")
    assert np.array_equal(embed(enc, TEXTS), embed(local, TEXTS))
