"""Shared test helpers."""

from __future__ import annotations

import numpy as np


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


def _cos(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _real_jpegs(folder):
    """Photos from scikit-image (or generated ones without it) saved as JPEG by PIL: colour,
    progressive and grey."""
    from PIL import Image

    folder.mkdir()
    try:
        from skimage import data

        pics = [data.astronaut(), data.chelsea(), data.coffee(), data.camera()]
    except ImportError:
        pics = [np.asarray(_photo(512, 384, seed=i)) for i in range(4)]
    for i, arr in enumerate(pics):
        Image.fromarray(arr).save(folder / f"{i}.jpg", quality=90, progressive=i == 1)
    return sorted(folder.glob("*.jpg"))


def _by_hand(transform, forward, paths):
    import torch
    from PIL import Image

    x = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    with torch.inference_mode():
        return forward(x).numpy()


def _assert_equal_within_rounding(got, want):
    assert got.shape == want.shape
    norms = np.linalg.norm(want, axis=1, keepdims=True)
    rel = (np.abs(got - want) / norms).max()
    print(f"max |diff| / norm: {rel:.2e}")
    assert rel <= 1e-5, rel
