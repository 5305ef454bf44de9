"""The model's image transforms, read: the torchvision ``Compose`` inside the backends'
``ImagePrepare`` wrapper, its ToTensor + Normalize split off for device-side normalising, its
Resize + CenterCrop parameters, and the batch key the encoder's collate stacks pixels under.
The decode paths (:mod:`.cpu_decode`, :mod:`.loader`) build on these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def unwrap_prepare(prepare: Any) -> tuple[Any, Callable[[Any], Any]]:
    """(the transform inside the backends' RGB-converting ``ImagePrepare`` wrapper, a function
    that wraps a replacement the same way); any other ``prepare``: (itself, identity)."""
    inner = getattr(prepare, "transform", None)
    if type(prepare).__name__ == "ImagePrepare" and inner is not None:
        return inner, type(prepare)
    return prepare, _same


def _same(x: Any) -> Any:
    return x


def split_normalize(prepare: Any) -> tuple[Any, tuple[list[float], list[float]]] | None:
    """A torchvision ``Compose`` ending in ToTensor + Normalize (bare or inside the backends'
    ``ImagePrepare``) -> (the same transforms ending in ``PILToTensor`` (uint8 CHW), wrapped
    the same way, (mean, std)): the workers ship uint8 (4x smaller than float32) and the runner
    normalises on the device. None for any other ``prepare``."""
    prepare, wrap = unwrap_prepare(prepare)
    steps = getattr(prepare, "transforms", None)
    if not isinstance(steps, list) or len(steps) < 2:
        return None
    to_tensor, norm = steps[-2], steps[-1]
    if type(to_tensor).__name__ not in ("ToTensor", "MaybeToTensor"):
        return None
    if type(norm).__name__ not in ("Normalize", "MaybeNormalize"):
        return None
    mean, std = getattr(norm, "mean", None), getattr(norm, "std", None)
    if mean is None or std is None or getattr(norm, "inplace", False):
        return None
    from torchvision import transforms

    mean_l = [float(v) for v in (mean.tolist() if hasattr(mean, "tolist") else mean)]
    std_l = [float(v) for v in (std.tolist() if hasattr(std, "tolist") else std)]
    return wrap(transforms.Compose([*steps[:-2], ToUint8()])), (mean_l, std_l)


class ToUint8:
    """PIL image -> uint8 CHW tensor (what ToTensor makes, before its /255)."""

    def __call__(self, img: Any) -> Any:
        from torchvision.transforms.functional import pil_to_tensor

        if img.mode != "RGB":
            img = img.convert("RGB")
        return pil_to_tensor(img)


def _to_rgb_step(step: Any) -> bool:
    """open_clip's conversion to RGB (``_convert_to_rgb``, or ``MaybeConvertMode("RGB")``)."""
    if type(step).__name__ == "MaybeConvertMode":
        return getattr(step, "mode", None) == "RGB"
    return getattr(step, "__name__", None) == "_convert_to_rgb"


def gpu_decode_params(steps: list[Any]) -> tuple[dict[str, Any], Any] | None:
    """(resize kwargs, crop size) when the CPU transforms are exactly Resize -> CenterCrop
    (-> open_clip's RGB conversion) -> ToUint8, else None (decoding to a tensor needs to
    repeat them)."""
    names = [type(t).__name__ for t in steps]
    if len(names) < 2 or names[0] != "Resize" or names[1] != "CenterCrop":
        return None
    if not all(type(t).__name__ == "ToUint8" or _to_rgb_step(t) for t in steps[2:]):
        return None
    r, c = steps[0], steps[1]
    kw = {"size": r.size, "interpolation": r.interpolation, "antialias": True}
    if getattr(r, "max_size", None) is not None:
        kw["max_size"] = r.max_size
    return kw, c.size


def pixel_key(collate: Callable[[list[Any]], dict[str, Any]]) -> str:
    """The batch key the encoder's collate puts the stacked images under."""
    import torch

    probe = collate([torch.zeros((3, 2, 2), dtype=torch.uint8)])
    keys = [k for k, v in probe.items() if isinstance(v, torch.Tensor) and v.ndim == 4]
    if len(keys) != 1:
        raise ValueError("the encoder's collate does not return one (B, C, H, W) tensor")
    return keys[0]
