"""``--decode cpu``: Resize + CenterCrop fused into one PIL resize per axis; ``--decode fast``:
and large JPEGs drafted (decoded at 1/2, 1/4 or 1/8 by the JPEG decoder); both against
``--decode exact`` (issue 13, item 3)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.data.sources.base import Item
from tests.test_extract import image_items, make_image_encoder, write_images

pytest.importorskip("torchvision")


def _photo(w: int, h: int, seed: int = 0):
    """A photo-like RGB image: gradients, soft blobs, pixel noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 128 + 0.2 * xx * rng.uniform(-1, 1) + 0.2 * yy * rng.uniform(-1, 1)
    img = np.repeat(img[..., None], 3, 2) + 40 * np.sin(xx[..., None] * rng.uniform(0.01, 0.05, 3))
    img += rng.normal(0, 10, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _steps(size, crop, interpolation="bicubic"):
    from torchvision import transforms as T

    mode = T.InterpolationMode(interpolation)
    return T.Compose([T.Resize(size, interpolation=mode), T.CenterCrop(crop), T.PILToTensor()])


@pytest.mark.parametrize(
    ("w", "h", "size", "crop", "interp"),
    [
        (640, 480, 256, 224, "bicubic"),
        (427, 640, 256, 224, "bicubic"),  # portrait, odd width
        (500, 375, 224, 224, "bicubic"),  # CLIP-style: crop only the longer side
        (640, 512, 36, 32, "bilinear"),
        (300, 200, (120, 160), 100, "bicubic"),  # fixed (h, w) resize
        (64, 48, 96, 96, "bicubic"),  # upscaling
    ],
)
def test_resize_crop_matches_the_two_steps(w, h, size, crop, interp):
    from infogauss_cli.extract.cpu_decode import ResizeCrop, fuse_resize_crop

    img = _photo(w, h)
    exact = _steps(size, crop, interp)
    fused, min_side = fuse_resize_crop(exact)
    assert isinstance(fused.transforms[0], ResizeCrop) and len(fused.transforms) == 2
    assert min_side == (size if isinstance(size, int) else max(size))
    a, b = exact(img).numpy().astype(int), fused(img).numpy().astype(int)
    assert a.shape == b.shape
    diff = np.abs(a - b)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (diff.max(), (diff > 0).mean())


def test_resize_crop_pads_like_center_crop():
    from infogauss_cli.extract.cpu_decode import fuse_resize_crop

    exact = _steps(20, (24, 30))  # the crop is larger than the resized image: padding
    fused, _ = fuse_resize_crop(exact)
    img = _photo(40, 20)
    np.testing.assert_array_equal(fused(img).numpy(), exact(img).numpy())


def test_fuse_only_resize_then_center_crop():
    from torchvision import transforms as T

    from infogauss_cli.extract.cpu_decode import fuse_resize_crop

    assert fuse_resize_crop(str) is None
    assert fuse_resize_crop(T.Compose([T.CenterCrop(8), T.Resize(8)])) is None
    assert fuse_resize_crop(T.Compose([T.Resize(8, max_size=20), T.CenterCrop(8)])) is None
    assert fuse_resize_crop(T.Compose([T.Resize(8), T.RandomCrop(8)])) is None


@pytest.mark.parametrize(
    ("w", "h", "side", "k"),
    [
        (640, 480, 256, 1),
        (640, 480, 224, 1),
        (2560, 1920, 256, 2),
        (4000, 3000, 224, 4),
        (8000, 6000, 224, 8),
        (1920, 2560, 480, 2),
        (100, 100, 10, 4),
    ],
)
def test_draft_scale_keeps_twice_the_target(w, h, side, k):
    from infogauss_cli.data.sources.images import DRAFT_MARGIN, draft_scale

    assert draft_scale(w, h, side) == k
    assert min(w, h) // k >= DRAFT_MARGIN * side or k == 1
    if k < 8:
        assert min(w, h) // (2 * k) < DRAFT_MARGIN * side  # the largest scale that keeps it


def test_load_image_drafts_large_jpegs_only(tmp_path):
    from infogauss_cli.data.sources.images import DRAFT_INFO, load_image

    big, png = tmp_path / "big.jpg", tmp_path / "big.png"
    _photo(1200, 900).save(big, quality=90)
    _photo(1200, 900).save(png)
    full = load_image(Item(id="a", path=str(big)))
    assert full.size == (1200, 900) and DRAFT_INFO not in full.info
    drafted = load_image(Item(id="a", path=str(big)), draft=224)  # 900 // 2 = 450 >= 448
    assert drafted.size == (600, 450) and drafted.info[DRAFT_INFO] == (1200, 900, 2)
    assert drafted.mode == "RGB"
    in_memory = load_image(Item(id="b", image=big.read_bytes()), draft=224)
    assert in_memory.size == (600, 450)
    assert load_image(Item(id="c", path=str(png)), draft=224).size == (1200, 900)
    assert load_image(Item(id="a", path=str(big)), draft=256).size == (1200, 900)  # 450 < 512


def test_drafted_jpeg_resizes_like_the_full_decode(tmp_path):
    from infogauss_cli.data.sources.images import load_image
    from infogauss_cli.extract.cpu_decode import fuse_resize_crop

    p = tmp_path / "big.jpg"
    _photo(1800, 1350, seed=3).save(p, quality=95)
    exact = _steps(224, 224)
    fused, side = fuse_resize_crop(exact)
    a = exact(load_image(Item(id="a", path=str(p)))).numpy().astype(float)
    b = fused(load_image(Item(id="a", path=str(p)), draft=side)).numpy().astype(float)
    assert a.shape == b.shape == (3, 224, 224)
    assert np.abs(a - b).mean() < 2.0  # the same picture, in the same place


def _cos(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_default_decode_agrees_with_exact_and_has_its_own_cache_entry(tmp_path):
    from infogauss_cli.extract import extract

    write_images(tmp_path / "imgs", 12, size=(60, 80))
    from PIL import Image

    for i in range(3):  # and a few large JPEGs, which are drafted
        Image.Image.save(_photo(640, 480, seed=i), tmp_path / "imgs" / f"zbig{i}.jpg", quality=90)
    items = image_items(tmp_path / "imgs")
    from infogauss_cli.extract import EngineOptions

    kw = {"cache": tmp_path / "c"}
    o = EngineOptions(batch_size=4, workers=0, device="cpu")
    fused = extract(make_image_encoder(), items, o, **kw)  # --decode cpu
    exact = extract(make_image_encoder(), items, replace(o, decode="exact"), **kw)
    fast = extract(make_image_encoder(), items, replace(o, decode="fast"), **kw)
    assert fused.ids == exact.ids == fast.ids and not fused.skipped and not fast.skipped
    assert fused.from_cache == exact.from_cache == fast.from_cache == 0
    assert len({fused.cache_path, exact.cache_path, fast.cache_path}) == 3
    assert _cos(fused.embeddings, exact.embeddings).min() > 0.9999
    assert _cos(fast.embeddings, exact.embeddings).min() > 0.99
    # the small images are not drafted: there fast is the fused PIL path
    assert _cos(fast.embeddings[:12], exact.embeddings[:12]).min() > 0.9999
    again = extract(make_image_encoder(), items, o, **kw)
    assert again.from_cache == 1.0


def test_decode_key():
    from infogauss_cli.extract.cpu_decode import decode_key
    from tests.test_extract import make_text_encoder

    enc = make_image_encoder()
    assert decode_key(enc, "cpu") == "tensor"
    assert decode_key(enc, "fast") == "fast"
    assert decode_key(enc, "exact") is None  # the key of caches made before the fused path
    assert decode_key(enc, "gpu") == "gpu"
    assert decode_key(make_text_encoder(), "cpu") is None


def test_backend_wrapped_transforms_are_split_and_fused():
    """The zoo backends wrap their transforms in ``ImagePrepare`` (RGB conversion first): the
    uint8 split and the fused resize see through it and keep the wrapper."""
    from torchvision import transforms as T

    from infogauss_cli.extract.cpu_decode import ResizeCrop, fuse_resize_crop
    from infogauss_cli.extract.transforms import split_normalize
    from infogauss_cli.models.backends.common import ImagePrepare

    inner = T.Compose(
        [T.Resize(36), T.CenterCrop(32), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)]
    )
    wrapped = ImagePrepare(inner)
    split, (mean, _std) = split_normalize(wrapped)
    assert isinstance(split, ImagePrepare) and mean == [0.5] * 3
    fused, side = fuse_resize_crop(split)
    assert isinstance(fused, ImagePrepare) and side == 36
    assert isinstance(fused.transform.transforms[0], ResizeCrop)
    gray = _photo(60, 50).convert("L")  # the wrapper still converts to RGB first
    want = (wrapped(gray) * 0.5 + 0.5) * 255
    got = fused(gray).float()
    assert got.shape == (3, 32, 32) and (want - got).abs().max() <= 1.01
