"""CPU decoding, and the model's image transforms read through torchvision's public classes.
``--decode cpu`` (``exact``): the model's own transforms on PIL's pixels (simplejpeg decodes
JPEGs to the same pixels, faster); ``--decode fast``: Resize + CenterCrop by torch's uint8
kernel (:class:`TensorResizeCrop`, within one level of 255 of PIL's), cache key part ``tensor``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infogauss_cli.data.sources.base import Item
from infogauss_cli.data.sources.loaders import check_declared_size, jpeg_bytes
from infogauss_cli.models.backends.common import ImagePrepare

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

    from infogauss_cli.models.registry import Encoder

Prepare = Callable[[Any], Any]  # the encoder's prepare
Loader = Callable[[Item], object]  # an item loader
JPEG_SPACES = ("YCbCr", "Gray")  # decoded to PIL's RGB pixels; CMYK and YCCK go to PIL
TENSOR_FILTERS = ("bilinear", "bicubic")  # torch's antialiased uint8 kernel has PIL's filters


def complete_jpeg(item: Item) -> bytes | None:
    """A complete YCbCr or grey JPEG's bytes whose header simplejpeg reads, its declared size
    checked; None for anything else (PIL decodes it, and names the problem of a broken file)."""
    import simplejpeg

    data = jpeg_bytes(item)
    if data is None or not data.rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
        return None  # not a JPEG, or truncated
    try:
        height, width, space, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:  # rejected or corrupt
        return None
    check_declared_size(item.id, width, height)
    return data if space in JPEG_SPACES else None


class SimpleJpeg:
    """Loader: a :func:`complete_jpeg` decoded by simplejpeg (a PIL image, or with ``tensor``
    a uint8 CHW tensor over the decoder's array), else ``load``."""

    def __init__(self, load: Loader, tensor: bool = False) -> None:
        self.load, self.tensor = load, tensor

    def __call__(self, item: Item) -> Image.Image | torch.Tensor:
        import simplejpeg

        data = complete_jpeg(item)
        try:
            rgb = simplejpeg.decode_jpeg(data, colorspace="RGB") if data else None  # strict
        except ValueError:  # a warning of libjpeg-turbo: PIL's path
            rgb = None
        if rgb is None:
            return self.load(item)
        if self.tensor:
            import torch

            return torch.from_numpy(rgb).permute(2, 0, 1)
        from PIL import Image

        return Image.fromarray(rgb)


class ToUint8:
    """PIL image -> uint8 CHW tensor (what ToTensor makes, before its /255)."""

    def __call__(self, img: Image.Image) -> torch.Tensor:
        from torchvision.transforms.functional import pil_to_tensor

        return pil_to_tensor(img if img.mode == "RGB" else img.convert("RGB"))


@dataclass(frozen=True)
class TensorResizeCrop:
    """uint8 CHW tensor (or PIL image) -> Resize + CenterCrop by torch's antialiased kernel."""

    resize: dict[str, object]
    crop: Sequence[int]

    def __call__(self, img: Image.Image | torch.Tensor) -> torch.Tensor:
        import torch
        from torchvision.transforms.v2 import functional as F

        if not isinstance(img, torch.Tensor):
            img = ToUint8()(img)
        return F.center_crop(F.resize(img, **self.resize), self.crop)


def compose_steps(prepare: Prepare) -> tuple[list[Prepare], Callable[[list[Prepare]], Prepare]]:
    """(a ``Compose``'s steps, bare or in ``ImagePrepare``; a function that wraps new steps the
    same way); no steps for any other ``prepare``."""
    from torchvision.transforms import Compose

    inner = prepare.transform if isinstance(prepare, ImagePrepare) else prepare
    if not isinstance(inner, Compose):
        return [], lambda steps: prepare
    wrap = ImagePrepare if inner is not prepare else lambda c: c
    return list(inner.transforms), lambda steps: wrap(Compose(steps))


def split_normalize(prepare: Prepare) -> tuple[Prepare, tuple[list[float], list[float]]] | None:
    """Transforms ending in ToTensor + Normalize -> (the same ending in :class:`ToUint8`; (mean,
    std)) for :class:`~.loader.DevicePrep`; None for any other."""
    from torchvision.transforms import Normalize, ToTensor

    steps, wrap = compose_steps(prepare)
    norm = steps[-1] if len(steps) >= 2 and isinstance(steps[-2], ToTensor) else None
    if not isinstance(norm, Normalize) or norm.inplace:
        return None
    mean = [float(v) for v in getattr(norm.mean, "tolist", lambda: norm.mean)()]
    std = [float(v) for v in getattr(norm.std, "tolist", lambda: norm.std)()]
    return wrap([*steps[:-2], ToUint8()]), (mean, std)


def keeps_rgb(step: Prepare) -> bool:
    """Whether ``step`` returns an RGB image unchanged (open_clip's conversion to RGB)."""
    import numpy as np
    from PIL import Image

    probe = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    try:
        out = step(probe)
    except Exception:  # a step that wants something else: not a no-op
        return False
    return isinstance(out, Image.Image) and out.mode == "RGB" and out.tobytes() == probe.tobytes()


def resize_crop_params(prepare: Prepare) -> tuple[dict[str, Any], Any] | None:
    """(resize kwargs, crop size) for uint8 transforms that are exactly Resize (bilinear or
    bicubic) -> CenterCrop (-> :func:`keeps_rgb` steps) -> ToUint8; else None."""
    from torchvision.transforms import CenterCrop, Resize

    steps = compose_steps(prepare)[0]
    r = steps[0] if len(steps) >= 3 and isinstance(steps[1], CenterCrop) else None
    if not isinstance(r, Resize) or r.interpolation.value not in TENSOR_FILTERS:
        return None
    if not isinstance(steps[-1], ToUint8) or not all(keeps_rgb(t) for t in steps[2:-1]):
        return None
    kw = {"size": r.size, "interpolation": r.interpolation, "antialias": True}
    return (kw if r.max_size is None else {**kw, "max_size": r.max_size}), steps[1].size


def pixel_key(collate: Callable[[list], dict[str, object]]) -> str:
    """The batch key the encoder's collate puts the stacked images under."""
    import torch

    probe = collate([torch.zeros((3, 2, 2), dtype=torch.uint8)])
    keys = [k for k, v in probe.items() if isinstance(v, torch.Tensor) and v.ndim == 4]
    if len(keys) != 1:
        raise ValueError("the encoder's collate does not return one (B, C, H, W) tensor")
    return keys[0]


def decode_key(encoder: Encoder, decode: str) -> str | None:
    """The cache key's ``decode`` part: None for the model's own pixels, ``tensor`` (``fast``,
    where :func:`resize_crop_params` and :func:`pixel_key` allow) or ``gpu``."""
    if encoder.tower != "image" or decode in ("cpu", "exact"):
        return None
    if decode != "fast":
        return decode
    split = split_normalize(encoder.prepare)
    try:
        fast = split is not None and resize_crop_params(split[0]) and pixel_key(encoder.collate)
    except Exception:  # an encoder with its own batch layout
        return None
    return "tensor" if fast else None
