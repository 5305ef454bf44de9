"""The model's image transforms, read through torchvision's public classes: the ``Compose``
(bare or inside the backends' ``ImagePrepare``), its ToTensor + Normalize split off so that
uint8 pixels travel and are normalised on the device, the Resize + CenterCrop a tensor path can
repeat, and the batch key the encoder's collate stacks pixels under."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infogauss_cli.models.backends.common import ImagePrepare

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

Prepare = Callable[[Any], Any]
TENSOR_FILTERS = ("bilinear", "bicubic")  # torch's antialiased uint8 kernel has PIL's filters


def compose_steps(prepare: Prepare) -> tuple[list[Prepare], Callable[[list[Prepare]], Prepare]]:
    """(the steps of a torchvision ``Compose``, bare or in ``ImagePrepare``, and a function that
    wraps new steps the same way); no steps for any other ``prepare``."""
    from torchvision.transforms import Compose

    inner = prepare.transform if isinstance(prepare, ImagePrepare) else prepare
    if not isinstance(inner, Compose):
        return [], lambda steps: prepare
    wrap = ImagePrepare if inner is not prepare else lambda c: c
    return list(inner.transforms), lambda steps: wrap(Compose(steps))


def split_normalize(prepare: Prepare) -> tuple[Prepare, tuple[list[float], list[float]]] | None:
    """Transforms ending in ToTensor + Normalize -> (the same ending in :class:`ToUint8`, wrapped
    the same way; (mean, std)) for :class:`~.loader.DevicePrep`; None for any other."""
    from torchvision.transforms import Normalize, ToTensor

    steps, wrap = compose_steps(prepare)
    if len(steps) < 2 or not isinstance(steps[-2], ToTensor):
        return None
    norm = steps[-1]
    if not isinstance(norm, Normalize) or norm.inplace:
        return None
    mean = [float(v) for v in getattr(norm.mean, "tolist", lambda: norm.mean)()]
    std = [float(v) for v in getattr(norm.std, "tolist", lambda: norm.std)()]
    return wrap([*steps[:-2], ToUint8()]), (mean, std)


class ToUint8:
    """PIL image -> uint8 CHW tensor (what ToTensor makes, before its /255)."""

    def __call__(self, img: Image.Image) -> torch.Tensor:
        from torchvision.transforms.functional import pil_to_tensor

        return pil_to_tensor(img if img.mode == "RGB" else img.convert("RGB"))


def keeps_rgb(step: Prepare) -> bool:
    """Whether ``step`` returns an RGB image unchanged (open_clip's conversion to RGB), probed
    on a small picture: a step a tensor path may skip."""
    import numpy as np
    from PIL import Image

    probe = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    try:
        out = step(probe)
    except Exception:  # a step that wants something else: not a no-op
        return False
    return isinstance(out, Image.Image) and out.mode == "RGB" and out.tobytes() == probe.tobytes()


def resize_crop_params(prepare: Prepare) -> tuple[dict[str, Any], Any] | None:
    """(resize kwargs, crop size) where the uint8 transforms (:func:`split_normalize`'s) are
    exactly Resize (bilinear or bicubic) -> CenterCrop (-> steps that keep an RGB image) ->
    ToUint8, which a tensor path repeats; else None."""
    from torchvision.transforms import CenterCrop, Resize

    steps = compose_steps(prepare)[0]
    if len(steps) < 3 or not isinstance(steps[0], Resize) or not isinstance(steps[1], CenterCrop):
        return None
    r = steps[0]
    if r.interpolation.value not in TENSOR_FILTERS or not isinstance(steps[-1], ToUint8):
        return None
    if not all(keeps_rgb(t) for t in steps[2:-1]):
        return None
    kw = {"size": r.size, "interpolation": r.interpolation, "antialias": True}
    if r.max_size is not None:
        kw["max_size"] = r.max_size
    return kw, steps[1].size


def pixel_key(collate: Callable[[list[Any]], dict[str, Any]]) -> str:
    """The batch key the encoder's collate puts the stacked images under."""
    import torch

    probe = collate([torch.zeros((3, 2, 2), dtype=torch.uint8)])
    keys = [k for k, v in probe.items() if isinstance(v, torch.Tensor) and v.ndim == 4]
    if len(keys) != 1:
        raise ValueError("the encoder's collate does not return one (B, C, H, W) tensor")
    return keys[0]
