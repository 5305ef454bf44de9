"""``images:DIR``: every image file under a folder, recursively, in a stable order.

Ids are the paths relative to DIR in posix form (``cats/001.jpg``), sorted, so they are the same
on every machine. :func:`load_image` decodes one item to an RGB ``PIL.Image``; a file that cannot
be decoded raises :class:`ImageLoadError`, which the extractor turns into a skipped item.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item, ItemLoadError, check_tower

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from infogauss_cli.data.sources.registry import SourceOptions

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
DRAFT_MARGIN = 2  # a drafted JPEG keeps its shorter side >= this x the size asked for
DRAFT_INFO = "infogauss.draft"  # img.info key: (full width, full height, DCT scale) of a draft
#: The most pixels an image file may declare in its header (100 megapixels, 300 MB as RGB);
#: checked before decoding, so a tiny file claiming 30,000 x 30,000 pixels is never decoded.
MAX_PIXELS = 100_000_000


class ImageLoadError(ItemLoadError):
    """One image could not be decoded (zero bytes, truncated, not an image, missing)."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparency is composited on white."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16/32-bit grayscale: rescale to 8-bit
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        scale = 255.0 / hi if hi > 255.0 else 1.0
        img = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), mode="L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode == "P" and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def jpeg_bytes(item: Item) -> bytes | None:
    """The encoded bytes of an item that is a JPEG file (a ``.jpg``/``.jpeg`` path, or encoded
    bytes in ``item.image``) starting with the JPEG start marker; None otherwise (or when the
    file cannot be read: the PIL loader then names the problem)."""
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
    """Refuse (:class:`ImageLoadError`, the item is skipped) an image whose header declares more
    than :data:`MAX_PIXELS` pixels, before any pixel is decoded (a decompression bomb)."""
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            item_id,
            f"image too large: its header declares {width:,} x {height:,} pixels, over the "
            f"limit of {MAX_PIXELS:,} (a decompression bomb?); not decoded",
        )


def checked_jpeg_bytes(item: Item) -> bytes | None:
    """:func:`jpeg_bytes`, after :func:`check_jpeg_header` (for decoders that take bytes)."""
    data = jpeg_bytes(item)
    if data is not None:
        check_jpeg_header(item.id, data)
    return data


def check_jpeg_header(item_id: str, data: bytes) -> None:
    """:func:`check_declared_size` for encoded JPEG bytes: PIL reads only the header."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Image.DecompressionBombError:
        width, height = MAX_PIXELS, 2  # over any limit PIL itself refuses at
    except Exception:  # not decodable: the decoder that follows names the problem
        return
    check_declared_size(item_id, width, height)


def draft_scale(width: int, height: int, min_side: int) -> int:
    """The JPEG decoder's DCT scale (1, 2, 4 or 8) for an image that will be resized so that
    its shorter side is ``min_side``: the largest that keeps the decoded shorter side at least
    ``DRAFT_MARGIN x min_side``, so the resize that follows still reduces by 2x or more and
    its antialiasing filter, not the DCT scaling, shapes the pixels."""
    short = min(width, height)
    for k in (8, 4, 2):
        if short // k >= DRAFT_MARGIN * min_side:
            return k
    return 1


def _draft(img: Image.Image, min_side: int | None) -> None:
    """Ask a JPEG's decoder for a reduced size (:func:`draft_scale`) before it decodes; note the
    full size and the scale in ``img.info[DRAFT_INFO]`` for the resize that follows."""
    if not min_side or img.format != "JPEG":
        return
    w, h = img.size
    k = draft_scale(w, h, min_side)
    if k > 1 and img.draft(None, (w // k, h // k)) is not None:
        img.info[DRAFT_INFO] = (w, h, round(w / img.size[0]) if img.size[0] else 1)


def load_image(item: Item, draft: int | None = None) -> Image.Image:
    """Decode ``item`` (a file path, encoded bytes or an in-memory image/array) to an RGB
    ``PIL.Image``. ``draft``: the shorter side the image will be resized to; a large JPEG is
    then decoded at 1/2, 1/4 or 1/8 of its size where that keeps at least twice it
    (:func:`draft_scale`); None decodes every pixel.

    Raises :class:`ImageLoadError` for anything that is not a decodable image, so one bad file
    is skipped and named rather than ending the run.
    """
    from PIL import Image

    try:
        if item.image is not None:
            img = item.image
            if isinstance(img, (bytes, bytearray, memoryview)):  # an encoded file in memory
                if not len(img):
                    raise ImageLoadError(item.id, "empty file (0 bytes)")
                with Image.open(io.BytesIO(img)) as opened:
                    check_declared_size(item.id, *opened.size)
                    _draft(opened, draft)
                    opened.load()
                    return _to_rgb(opened)
            if not isinstance(img, Image.Image):
                import numpy as np

                img = Image.fromarray(np.asarray(img))
            img.load()
            return _to_rgb(img)
        if item.path is None:
            raise ImageLoadError(item.id, "item has neither a path nor an image")
        with Image.open(item.path) as img:
            check_declared_size(item.id, *img.size)
            _draft(img, draft)
            img.load()  # decode now: a truncated file fails here, not later in a transform
            return _to_rgb(img)
    except ImageLoadError:
        raise
    except FileNotFoundError:
        raise ImageLoadError(item.id, "file not found") from None
    except Image.UnidentifiedImageError:
        size = _size(item.path)
        reason = "empty file (0 bytes)" if size == 0 else "not a readable image"
        raise ImageLoadError(item.id, reason) from None
    except Image.DecompressionBombError:
        raise ImageLoadError(
            item.id, f"image too large: over the limit of {MAX_PIXELS:,} pixels; not decoded"
        ) from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as exc:
        msg = str(exc) or type(exc).__name__
        if "truncated" in msg.lower():
            msg = "truncated image"
        raise ImageLoadError(item.id, msg) from None


def _size(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return Path(path).stat().st_size
    except OSError:
        return None


class ImageFolderSource:
    """All images under ``root`` (recursive; .jpg .jpeg .png .webp .bmp, any case)."""

    towers: tuple[str, ...] = ("image",)

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        if not self.root.exists():
            raise BadInputError(f"images:{root}: no such directory")
        if not self.root.is_dir():
            raise BadInputError(f"images:{root}: not a directory (images:DIR wants a folder)")
        self.name = f"images:{root}"
        self._items: list[Item] | None = None

    def _scan(self) -> list[Item]:
        if self._items is None:
            found = []
            for p in self.root.rglob("*"):
                if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
                    found.append((p.relative_to(self.root).as_posix(), p))
            found.sort(key=lambda t: t[0])
            if not found:
                exts = " ".join(sorted(IMAGE_EXTENSIONS))
                raise BadInputError(f"{self.name}: no image files found (looked for {exts})")
            self._items = [Item(id=rel, path=str(p)) for rel, p in found]
        return self._items

    def _check_tower(self, tower: str) -> None:
        check_tower(self.name, self.towers, tower)

    def items(self, tower: str = "image") -> list[Item]:
        self._check_tower(tower)
        return list(self._scan())

    def fingerprint(self, tower: str = "image") -> str:
        """sha256 over (id, size, mtime_ns) of every file: changes when a file is added,
        removed, renamed or rewritten."""
        self._check_tower(tower)
        h = hashlib.sha256(b"infogauss.images/v1\n")
        for item in self._scan():
            st = Path(item.path).stat()  # type: ignore[arg-type]
            h.update(f"{item.id}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"ImageFolderSource({str(self.root)!r})"


def from_spec(rest: str, options: SourceOptions) -> ImageFolderSource:
    """``images:DIR``."""
    return ImageFolderSource(rest)
