"""CPU decoding. ``--decode cpu`` (the default; ``exact`` is the same) runs the model's own
transforms on PIL's pixels; a complete YCbCr or grey JPEG is decoded by simplejpeg
(libjpeg-turbo), which gives PIL's pixels, faster. ``--decode fast`` (opt-in) also resizes and
crops with torch's antialiased uint8 kernel (:class:`TensorResizeCrop`: other pixels, within one
level of 255 of PIL's) where the transforms are Resize (bilinear or bicubic) + CenterCrop +
ToTensor + Normalize: cache key part ``decode: tensor``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infogauss_cli.data.sources.base import Item
from infogauss_cli.data.sources.loaders import check_declared_size, jpeg_bytes
from infogauss_cli.extract.transforms import pixel_key, resize_crop_params, split_normalize

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from PIL import Image

    from infogauss_cli.models.backends.base import Encoder

JPEG_SPACES = ("YCbCr", "Gray")  # decoded to PIL's RGB pixels; CMYK and YCCK go to PIL


def simplejpeg_rgb(item: Item) -> np.ndarray | None:
    """A complete YCbCr or grey JPEG (path or bytes, start to end marker) decoded by simplejpeg
    to an HWC uint8 RGB array (PIL's pixels); None for anything else, or a JPEG the decoder
    rejects or warns about (PIL then decodes it and names the problem)."""
    import simplejpeg

    data = jpeg_bytes(item)
    if data is None or not data.rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
        return None  # not a JPEG, or truncated
    try:
        height, width, space, _ = simplejpeg.decode_jpeg_header(data)
        check_declared_size(item.id, width, height)  # before a single pixel is decoded
        if space not in JPEG_SPACES:
            return None
        return simplejpeg.decode_jpeg(data, colorspace="RGB")  # strict: warnings raise
    except ValueError:  # rejected or corrupt
        return None


class SimpleJpeg:
    """An image loader: :func:`simplejpeg_rgb` where it applies (a PIL image, or with ``tensor``
    a uint8 CHW tensor over the decoder's array), else ``load``."""

    def __init__(self, load: Callable[[Item], Any], tensor: bool = False) -> None:
        self.load, self.tensor = load, tensor

    def __call__(self, item: Item) -> Image.Image | torch.Tensor:
        rgb = simplejpeg_rgb(item)
        if rgb is None:
            return self.load(item)
        if self.tensor:
            import torch

            return torch.from_numpy(rgb).permute(2, 0, 1)
        from PIL import Image

        return Image.fromarray(rgb)


class TensorResizeCrop:
    """A uint8 CHW tensor (or a PIL image) -> the model's Resize + CenterCrop by torch's
    antialiased uint8 kernel -> uint8 CHW, on the tensor's device."""

    def __init__(self, resize: dict[str, Any], crop: Any) -> None:
        self.resize, self.crop = resize, crop

    def __call__(self, img: Image.Image | torch.Tensor) -> torch.Tensor:
        import torch
        from torchvision.transforms.v2 import functional as F

        if not isinstance(img, torch.Tensor):
            img = F.pil_to_tensor(img if img.mode == "RGB" else img.convert("RGB"))
        return F.center_crop(F.resize(img, **self.resize), self.crop)

    def __repr__(self) -> str:
        return f"TensorResizeCrop(resize={self.resize}, crop={self.crop})"


def tensor_resize_crop(encoder: Encoder) -> TensorResizeCrop | None:
    """The ``fast`` and ``gpu`` paths' Resize + CenterCrop for an image tower whose transforms
    allow it (:func:`~.transforms.resize_crop_params`) and whose collate stacks one pixel tensor;
    else None."""
    split = split_normalize(encoder.prepare) if encoder.tower == "image" else None
    params = resize_crop_params(split[0]) if split is not None else None
    try:
        return TensorResizeCrop(*params) if params and pixel_key(encoder.collate) else None
    except Exception:  # an encoder with its own batch layout
        return None


def decode_key(encoder: Encoder, decode: str) -> str | None:
    """The cache key's ``decode`` part: None where the pixels are the model's own transforms'
    (``cpu``, ``exact``, text, ``fast`` where it does not apply), ``tensor`` or ``gpu``."""
    if encoder.tower != "image" or decode in ("cpu", "exact"):
        return None
    if decode == "fast":
        return "tensor" if tensor_resize_crop(encoder) is not None else None
    return decode
