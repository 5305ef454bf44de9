"""Shared test helpers."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infogauss_cli.models.catalogue import parse_entry
from infogauss_cli.models.registry import Encoder

TINY_OPEN_CLIP = "infogauss-test-tiny"


def make_entry(backend: str, source: dict, towers=("image",), dim: int = 64, **kw):
    data = {
        "id": kw.pop("id", "tiny"),
        "backend": backend,
        "source": source,
        "towers": list(towers),
        "objective": "other",
        "embedding": "test",
        "dim": dim,
        **kw,
    }
    return parse_entry(data)


def embed(enc: Encoder, items) -> np.ndarray:
    batch = enc.collate([enc.prepare(x) for x in items])
    with torch.inference_mode():
        out = enc.forward(enc.module, batch)
    assert out.shape == (len(items), enc.dim)
    return out.float().numpy()


def check_contract(enc: Encoder, tower: str, dim: int) -> None:
    assert enc.tower == tower and enc.dim == dim
    assert not enc.module.training
    params = list(enc.module.parameters())
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in params)
    pickle.loads(pickle.dumps(enc.prepare))  # runs in DataLoader workers
    pickle.loads(pickle.dumps(enc.collate))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in enc.fingerprint.items())


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    out = [Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)) for _ in range(3)]
    out.append(Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)))  # grayscale
    return out


TEXTS = ["a cat sitting on a mat", "two dogs play in the snow", "a red car"]


TINY_CLIP_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 2,
    "num_hidden_layers": 1,
}


TINY_CLIP_VISION = {**TINY_CLIP_TEXT, "image_size": 32, "patch_size": 16}


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty, private Hugging Face cache."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def put_in_cache(cache: Path, repo: str, files: dict[str, Path]) -> Path:
    """Lay files out as huggingface_hub's cache does (refs/main -> snapshots/<sha>)."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    snap = root / "snapshots" / sha
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(sha)
    for name, src in files.items():
        (snap / name).write_bytes(Path(src).read_bytes())
    return snap


def _to_efficientnet_pytorch(model) -> dict:
    """Inverse of the loader's key mapping: timm EfficientNet -> lukemelas key names."""
    ds = {"conv_dw": "_depthwise_conv", "bn1": "_bn1", "conv_pw": "_project_conv", "bn2": "_bn2"}
    ir = {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1"}
    ir |= {"conv_pwl": "_project_conv", "bn3": "_bn2"}
    top = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1"}
    top["classifier"] = "_fc"
    flat = {
        f"{s}.{b}": i
        for i, (s, b) in enumerate(
            (s, b) for s, st in enumerate(model.blocks) for b in range(len(st))
        )
    }
    out = {}
    for key, value in model.state_dict().items():
        if key.startswith("blocks."):
            _, s, b, layer, param = key.split(".", 4)
            names = (
                ds
                if type(model.blocks[int(s)][int(b)]).__name__ == "DepthwiseSeparableConv"
                else ir
            )
            out[f"_blocks.{flat[f'{s}.{b}']}.{names[layer]}.{param}"] = value
        else:
            layer, param = key.split(".", 1)
            out[f"{top[layer]}.{param}"] = value
    return out


@pytest.fixture(scope="module")
def tiny_open_clip(tmp_path_factory):
    import open_clip

    folder = tmp_path_factory.mktemp("open_clip_cfg")
    cfg = {
        "embed_dim": 32,
        "vision_cfg": {
            "image_size": 32,
            "layers": 1,
            "width": 64,
            "patch_size": 16,
            "head_width": 32,
        },
        "text_cfg": {
            "context_length": 16,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 1,
        },
    }
    (folder / f"{TINY_OPEN_CLIP}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder)
    return TINY_OPEN_CLIP


WORDS = ["a", "an", "the", "cat", "cats", "dog", "dogs", "sit", "sitting", "on", "mat", "play"]


@pytest.fixture(scope="module")
def tiny_bert_folder(tmp_path_factory):
    """A 2-layer BERT with a hand-made WordPiece vocab, saved with save_pretrained."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *WORDS,
        *letters,
        *(f"##{c}" for c in letters),
    ]
    vocab = list(dict.fromkeys(vocab))
    vocab += [f"[unused{i}]" for i in range(128 - len(vocab))]
    # transformers 5 ignores vocab_file= and silently builds an empty tokenizer: pass the dict
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    assert len(tokenizer) == len(vocab)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertModel(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def bert_entry(folder, **kw):
    src = {"name": "test/tiny-bert", "weights": str(folder), "pooling": "mean", **kw.pop("src", {})}
    return make_entry("transformers", src, towers=["text"], dim=32, **kw)
