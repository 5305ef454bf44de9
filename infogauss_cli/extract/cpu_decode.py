"""``--decode cpu``: cheaper decoding for transforms that start with Resize + CenterCrop.

Where the transforms are exactly Resize (bilinear or bicubic) + CenterCrop + ToTensor +
Normalize (timm's and open_clip's eval transforms), JPEG files are decoded by simplejpeg's
libjpeg-turbo decoder straight into a uint8 tensor (the same pixels as PIL's, tested) and
resized by torch's antialiased uint8 kernel (:class:`TensorResizeCrop`: PIL's filter, within
one level of 255 of PIL's result in about 1% of the pixels; 4x faster than PIL's resize): cache
key part ``decode: tensor``. Other transforms that start with Resize + CenterCrop get one PIL
resize per axis of the crop's source box (:class:`ResizeCrop`: only the kept pixels are
computed; a few pixels in 100,000 differ by one level, embeddings agree to cosine 1.000000 in
benchmarks/decode.py): key part ``decode: fused``. ``--decode fast`` (PIL, fused) also decodes
a large JPEG at 1/2, 1/4 or 1/8 of its size where the decoded shorter side still holds twice
what the resize keeps (:func:`~infogauss_cli.data.sources.images.draft_scale`): 2.4x faster on
12-megapixel-class files but further from the model's transforms (real effnet-lite0 weights,
128 large JPEGs: cosine 0.998), so it is opt-in, key part ``decode: fast``. ``--decode exact``
keeps the model's transforms step by step and the key of older caches (:func:`decode_key`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.transforms import (
    gpu_decode_params,
    pixel_key,
    split_normalize,
    unwrap_prepare,
)


class ResizeCrop:
    """torchvision ``Resize(size)`` then ``CenterCrop(crop)`` on a PIL image as one PIL resize of
    the crop's source box: only the kept pixels are computed (efficientnet_lite0's 256 -> 224 on
    a 640 x 480 JPEG: 1.8 instead of 3.0 ms). The same filter and geometry as the two steps; PIL
    takes the box in single precision, so a few pixels in 100,000 differ by one level of 255
    (benchmarks/decode.py measures the effect on embeddings). A JPEG drafted by the loader
    (``img.info[DRAFT_INFO]``) is cut with the full image's geometry, scaled to the draft.
    ``size``: an int (shorter side) or (h, w); ``crop``: (h, w)."""

    def __init__(self, size: int | tuple[int, int], crop: tuple[int, int], resample: int) -> None:
        self.size, self.crop, self.resample = size, crop, resample

    def out_size(self, w: int, h: int) -> tuple[int, int]:
        """(width, height) after the Resize, as torchvision computes it."""
        if not isinstance(self.size, int):
            return self.size[1], self.size[0]
        s = self.size
        return (s, int(s * h / w)) if w <= h else (int(s * w / h), s)

    def __call__(self, img: Any) -> Any:
        from infogauss_cli.data.sources.images import DRAFT_INFO

        w, h, k = img.info.get(DRAFT_INFO, (*img.size, 1))
        ow, oh = self.out_size(w, h)
        ch, cw = self.crop
        if cw > ow or ch > oh:  # the crop pads: the two steps as they are
            from torchvision.transforms import functional as F

            img = img.resize((ow, oh), self.resample)
            return F.center_crop(img, [ch, cw])
        top, left = round((oh - ch) / 2.0), round((ow - cw) / 2.0)
        sx, sy = w / ow / k, h / oh / k  # output pixel -> (drafted) source pixel
        # two calls, one per axis: a single call with a box on both axes differs from the two
        # steps in about a quarter of the pixels (Pillow 13, 427 x 640 -> 224); per axis, in
        # a few per 100,000 (the box is single precision)
        dh = img.size[1]
        img = img.resize((cw, dh), self.resample, box=(left * sx, 0, (left + cw) * sx, dh))
        return img.resize((cw, ch), self.resample, box=(0, top * sy, cw, (top + ch) * sy))

    def __repr__(self) -> str:
        return f"ResizeCrop(size={self.size}, crop={self.crop}, resample={self.resample})"


def fuse_resize_crop(prepare: Any) -> tuple[Any, int] | None:
    """A torchvision ``Compose`` that starts with Resize (PIL-resampled, no ``max_size``) then
    CenterCrop (bare or inside the backends' ``ImagePrepare``) -> (the same, wrapped the same
    way, with :class:`ResizeCrop` in their place; the shorter side the image is resized to, for
    the JPEG draft). None for anything else."""
    prepare, wrap = unwrap_prepare(prepare)
    steps = getattr(prepare, "transforms", None)
    if not isinstance(steps, list) or len(steps) < 2:
        return None
    r, c = steps[0], steps[1]
    if type(r).__name__ != "Resize" or type(c).__name__ != "CenterCrop":
        return None
    if getattr(r, "max_size", None) is not None or getattr(r, "antialias", True) is False:
        return None
    from torchvision.transforms import functional as F

    resample = F.pil_modes_mapping.get(r.interpolation)
    size = [r.size] if isinstance(r.size, int) else list(r.size)
    crop = list(c.size) if not isinstance(c.size, int) else [c.size]
    if resample is None or len(size) not in (1, 2) or len(crop) not in (1, 2):
        return None
    crop_hw = (int(crop[0]), int(crop[-1]))
    fused_size: int | tuple[int, int] = int(size[0]) if len(size) == 1 else (size[0], size[1])
    min_side = int(size[0]) if len(size) == 1 else max(size)
    fused = type(prepare)([ResizeCrop(fused_size, crop_hw, resample), *steps[2:]])
    return wrap(fused), min_side


class DraftLoad:
    """:func:`~infogauss_cli.data.sources.images.load_image` with a JPEG draft for images that will
    be resized to ``min_side`` (picklable, for the workers)."""

    def __init__(self, min_side: int) -> None:
        self.min_side = min_side

    def __call__(self, item: Item) -> Any:
        from infogauss_cli.data.sources.images import load_image

        return load_image(item, draft=self.min_side)


def fast_cpu_decode(
    load: Callable[[Item], Any], prepare: Any, draft: bool = False
) -> tuple[Any, Any] | None:
    """``--decode cpu``: (load, prepare) with Resize + CenterCrop fused (:class:`ResizeCrop`);
    ``draft`` (``--decode fast``): and, when ``load`` is the default image decoder, large JPEGs
    drafted. None when the transforms do not start with Resize + CenterCrop (nothing
    changes)."""
    fused = fuse_resize_crop(prepare)
    if fused is None:
        return None
    from infogauss_cli.data.sources.images import load_image

    prepare, min_side = fused
    return (DraftLoad(min_side) if draft and load is load_image else load), prepare


TENSOR_FILTERS = ("bilinear", "bicubic")  # torch's antialiased uint8 kernel has PIL's filters


def tensor_resize_params(steps: list[Any]) -> tuple[dict[str, Any], Any] | None:
    """(resize kwargs, crop size) for :class:`TensorResizeCrop` when ``steps`` (the transforms
    after :func:`~.transforms.split_normalize`) are exactly Resize (bilinear or bicubic) ->
    CenterCrop (-> open_clip's RGB conversion) -> ToUint8; else None."""
    params = gpu_decode_params(steps)
    if params is None or getattr(steps[0].interpolation, "value", None) not in TENSOR_FILTERS:
        return None
    return params


class TensorResizeCrop:
    """A uint8 CHW tensor (a JPEG decoded by :class:`JpegTensorOr`, or on the GPU by
    ``--decode gpu``) or a PIL image -> the model's Resize + CenterCrop with torch's
    antialiased uint8 kernel -> uint8 CHW, on the tensor's device."""

    def __init__(self, resize: dict[str, Any], crop: Any) -> None:
        self.resize, self.crop = resize, crop

    def __call__(self, img: Any) -> Any:
        import torch
        from torchvision.transforms.v2 import functional as F

        if not isinstance(img, torch.Tensor):
            img = F.pil_to_tensor(img if img.mode == "RGB" else img.convert("RGB"))
        return F.center_crop(F.resize(img, **self.resize), self.crop)

    def __repr__(self) -> str:
        return f"TensorResizeCrop(resize={self.resize}, crop={self.crop})"


JPEG_SPACES = ("YCbCr", "Gray")  # decoded to PIL's RGB pixels; CMYK and YCCK go to PIL


class JpegTensorOr:
    """The default image loader, with complete YCbCr or grey JPEG files (a path or encoded bytes
    that start with the JPEG start marker and end with its end marker) decoded by simplejpeg
    (libjpeg-turbo: the same pixels as PIL's; faster than torchvision's ``decode_jpeg``, which
    torchvision 0.29 deprecates, docs/performance.md) straight to a uint8 RGB tensor, CHW over
    the decoder's HWC array; anything else, or a JPEG the decoder rejects or warns about, goes
    to ``load`` (PIL, which names the problem of a broken file)."""

    def __init__(self, load: Callable[[Item], Any]) -> None:
        self.load = load

    def __call__(self, item: Item) -> Any:
        from infogauss_cli.data.sources.images import check_declared_size, jpeg_bytes

        data = jpeg_bytes(item)
        if data is None or not data.rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
            return self.load(item)  # not a JPEG, or truncated: PIL's path and messages
        import simplejpeg
        import torch

        try:
            height, width, space, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError:  # rejected or corrupt: PIL's path and messages
            return self.load(item)
        check_declared_size(item.id, width, height)  # before a single pixel is decoded
        if space not in JPEG_SPACES:
            return self.load(item)
        try:
            rgb = simplejpeg.decode_jpeg(data, colorspace="RGB")  # strict: warnings raise
        except ValueError:  # rejected or corrupt: PIL's path and messages
            return self.load(item)
        return torch.from_numpy(rgb).permute(2, 0, 1)


def tensor_path(encoder: Any, decode: str) -> tuple[TensorResizeCrop, Any, Any] | None:
    """``--decode cpu`` for an image tower whose transforms are exactly Resize (bilinear or
    bicubic) + CenterCrop + ToTensor + Normalize and whose collate stacks one pixel tensor:
    (:class:`TensorResizeCrop`, the batch's pixel key, (mean, std)); else None."""
    if decode != "cpu" or encoder.tower != "image":
        return None
    split = split_normalize(encoder.prepare)
    if split is None:
        return None
    params = tensor_resize_params(unwrap_prepare(split[0])[0].transforms)
    if params is None:
        return None
    try:
        key = pixel_key(encoder.collate)
    except Exception:  # an encoder with its own batch layout
        return None
    return TensorResizeCrop(*params), key, split[1]


def decode_key(encoder: Any, decode: str) -> str | None:
    """The cache key's ``decode`` part: None where the pixels are the model's own transforms'
    (``exact``, text, transforms that cannot be fused), else ``tensor`` or ``fused``
    (``cpu``), ``fast`` or ``gpu``."""
    if encoder.tower != "image" or decode == "exact":
        return None
    if tensor_path(encoder, decode) is not None:
        return "tensor"
    if decode in ("cpu", "fast"):
        fused = fuse_resize_crop(encoder.prepare) is not None
        return ("fused" if decode == "cpu" else "fast") if fused else None
    return decode
