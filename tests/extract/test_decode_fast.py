"""CPU decoding: the default ``--decode cpu`` (``exact`` the same) equals the model's own
preprocessing and forward pass run by hand; ``--decode fast`` (torch's uint8 resize) is opt-in
with its own cache entry."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tests.support.encoders import image_items, make_image_encoder, write_images
from tests.support.images import (
    _assert_equal_within_rounding,
    _by_hand,
    _cos,
    _photo,
    _real_jpegs,
)

pytest.importorskip("torchvision")


def test_default_decode_is_exact_and_fast_has_its_own_cache_entry(tmp_path):
    from PIL import Image

    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions

    write_images(tmp_path / "imgs", 12, size=(60, 80))
    for i in range(3):
        Image.Image.save(_photo(640, 480, seed=i), tmp_path / "imgs" / f"zbig{i}.jpg", quality=90)
    items = image_items(tmp_path / "imgs")
    kw = {"cache": tmp_path / "c"}
    o = EngineOptions(batch_size=4, workers=0, device="cpu")
    default = extract(make_image_encoder(), items, o, **kw)  # --decode cpu
    exact = extract(make_image_encoder(), items, replace(o, decode="exact"), **kw)
    fast = extract(make_image_encoder(), items, replace(o, decode="fast"), **kw)
    assert default.ids == exact.ids == fast.ids and not default.skipped and not fast.skipped
    assert default.from_cache == fast.from_cache == 0 and exact.from_cache == 1.0
    assert default.cache_path == exact.cache_path != fast.cache_path
    np.testing.assert_array_equal(default.embeddings, exact.embeddings)
    assert _cos(fast.embeddings, exact.embeddings).min() > 0.9999
    again = extract(make_image_encoder(), items, o, **kw)
    assert again.from_cache == 1.0


def test_decode_key():
    from infogauss_cli.extract.cpu_decode import decode_key
    from tests.support.encoders import make_text_encoder

    enc = make_image_encoder()
    assert decode_key(enc, "cpu") is None  # the model's own pixels: the key of older caches
    assert decode_key(enc, "exact") is None
    assert decode_key(enc, "fast") == "tensor"
    assert decode_key(enc, "gpu") == "gpu"
    assert decode_key(make_text_encoder(), "cpu") is None


def test_backend_wrapped_transforms_are_split_and_resized_as_tensors():
    """The zoo backends wrap their transforms in ``ImagePrepare`` (RGB conversion first): the
    uint8 split and the tensor path see through it and keep the wrapper."""
    from torchvision import transforms as T

    from infogauss_cli.extract.cpu_decode import (
        TensorResizeCrop,
        resize_crop_params,
        split_normalize,
    )
    from infogauss_cli.models.backends.common import ImagePrepare

    inner = T.Compose(
        [T.Resize(36), T.CenterCrop(32), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)]
    )
    wrapped = ImagePrepare(inner)
    split, (mean, _std) = split_normalize(wrapped)
    assert isinstance(split, ImagePrepare) and mean == [0.5] * 3
    gray = _photo(60, 50).convert("L")  # the wrapper converts to RGB first
    want = (wrapped(gray) * 0.5 + 0.5) * 255
    np.testing.assert_allclose(split(gray).float(), want, atol=1e-3)  # the same pixels, uint8
    got = TensorResizeCrop(*resize_crop_params(split))(gray).float()
    assert got.shape == (3, 32, 32) and (want - got).abs().max() <= 1.01


# ---- acceptance: the default equals the model's own preprocessing + forward, by hand ----------


def test_default_cpu_extraction_equals_timms_own_preprocessing(tmp_path):
    import timm
    import torch
    from safetensors.torch import save_file

    from infogauss_cli.data.sources.images import ImageFolderSource
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions
    from infogauss_cli.models.catalogue import build_encoder
    from tests.support.models import make_entry

    torch.manual_seed(1)
    name = "test_vit.r160_in1k"
    model = timm.create_model(name, pretrained=False).eval()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    paths = _real_jpegs(tmp_path / "jpg")
    enc = build_encoder(
        make_entry("timm", {"name": name, "weights": str(tmp_path / "w.safetensors")}), "image"
    )
    items = ImageFolderSource(tmp_path / "jpg").items()
    got = extract(enc, items, EngineOptions(device="cpu", batch_size=2))
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
    want = _by_hand(
        transform, lambda x: model.forward_head(model.forward_features(x), pre_logits=True), paths
    )
    _assert_equal_within_rounding(got.embeddings, want)


def test_default_cpu_extraction_equals_open_clips_own_preprocessing(tmp_path):
    import open_clip
    import torch
    from safetensors.torch import save_file

    from infogauss_cli.data.sources.images import ImageFolderSource
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions
    from infogauss_cli.models.catalogue import build_encoder
    from tests.support.models import make_entry

    name = "infogauss-test-decode"
    vision = {"image_size": 64, "layers": 1, "width": 64, "patch_size": 16, "head_width": 32}
    text = {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}
    (tmp_path / f"{name}.json").write_text(
        json.dumps({"embed_dim": 32, "vision_cfg": vision, "text_cfg": text})
    )
    open_clip.add_model_config(tmp_path)
    torch.manual_seed(2)
    weights = tmp_path / "open_clip_model.safetensors"
    save_file(open_clip.create_model(name).state_dict(), str(weights))
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=str(weights))
    paths = _real_jpegs(tmp_path / "jpg")
    entry = make_entry(
        "open_clip", {"name": name, "weights": str(weights)}, towers=["image", "text"], dim=32
    )
    enc = build_encoder(entry, "image")
    items = ImageFolderSource(tmp_path / "jpg").items()
    got = extract(enc, items, EngineOptions(device="cpu", batch_size=3))
    want = _by_hand(preprocess, lambda x: model.eval().encode_image(x), paths)
    _assert_equal_within_rounding(got.embeddings, want)
