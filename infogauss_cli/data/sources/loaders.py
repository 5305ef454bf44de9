"""Item -> the encoder's raw input (the text, or an RGB ``PIL.Image``); loaders run in DataLoader
workers and raise :class:`~.base.ItemLoadError` for an item the extractor skips and names."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infogauss_cli.data.sources.base import Item, ItemLoadError, load_text

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

MAX_PIXELS = 100_000_000  # the most an image's header may declare, checked before decoding


class ImageLoadError(ItemLoadError):
    """One image could not be decoded (zero bytes, truncated, not an image, missing)."""


def default_loader(tower: str) -> Callable[[Item], Any]:
    """The loader of sources that name none: :func:`~.base.load_text` or :func:`load_image`."""
    return load_text if tower == "text" else load_image


def item_loader(source: object, tower: str) -> Callable[[Item], Any]:
    """``source``'s own ``loader(tower)`` if it has one, else :func:`default_loader`."""
    fn = getattr(source, "loader", None)
    return fn(tower) if fn is not None else default_loader(tower)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparency is composited on white."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16/32-bit grayscale: rescale to 8-bit
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        scale = 255.0 / max(float(arr.max()), 255.0)
        img = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def jpeg_bytes(item: Item) -> bytes | None:
    """The bytes of a JPEG item (a ``.jpg`` path or encoded bytes), else None."""
    data = item.image
    if data is None and item.path and item.path.lower().endswith((".jpg", ".jpeg")):
        try:
            with open(item.path, "rb") as f:
                data = f.read()
        except OSError:
            return None
    if isinstance(data, (bytes, bytearray, memoryview)) and bytes(data[:3]) == b"\xff\xd8\xff":
        return bytes(data)
    return None


def check_declared_size(item_id: str, width: int, height: int) -> None:
    """Refuse an image whose header declares over :data:`MAX_PIXELS` pixels (a bomb)."""
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            item_id,
            f"image too large: its header declares {width:,} x {height:,} pixels, over the "
            f"limit of {MAX_PIXELS:,} (a decompression bomb?); not decoded",
        )


def load_image(item: Item) -> Image.Image:
    """``item`` (a path, encoded bytes, an image or array) as an RGB ``PIL.Image``."""
    from PIL import Image

    try:
        img = item.image
        if img is not None and not isinstance(img, (bytes, bytearray, memoryview)):  # in memory
            if not isinstance(img, Image.Image):
                import numpy as np

                img = Image.fromarray(np.asarray(img))
            img.load()
            return _to_rgb(img)
        if img is None and item.path is None:
            raise ImageLoadError(item.id, "item has neither a path nor an image")
        with Image.open(item.path if img is None else io.BytesIO(img)) as opened:
            check_declared_size(item.id, *opened.size)
            opened.load()  # decode now: a truncated file fails here, not later in a transform
            return _to_rgb(opened)
    except ImageLoadError:
        raise
    except FileNotFoundError:
        raise ImageLoadError(item.id, "file not found") from None
    except Image.UnidentifiedImageError:
        empty = not (os.path.getsize(item.path) if item.image is None else len(item.image))
        why = "empty file (0 bytes)" if empty else "not a readable image"
        raise ImageLoadError(item.id, why) from None
    except Image.DecompressionBombError:
        raise ImageLoadError(
            item.id, f"image too large: over the limit of {MAX_PIXELS:,} pixels; not decoded"
        ) from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as exc:
        msg = str(exc) or type(exc).__name__
        why = "truncated image" if "truncated" in msg.lower() else msg
        raise ImageLoadError(item.id, why) from None
