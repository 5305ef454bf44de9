"""``images:DIR``: every image file under a folder, ids the paths relative to it."""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item, check_tower
from infogauss_cli.data.sources.loaders import MAX_PIXELS, ImageLoadError, load_image

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.data.sources.base import SourceOptions

__all__ = ["MAX_PIXELS", "ImageFolderSource", "ImageLoadError", "from_spec", "load_image"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})


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

    @cached_property
    def _scan(self) -> list[Item]:
        found = sorted(
            (p.relative_to(self.root).as_posix(), p)
            for p in self.root.rglob("*")
            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        )
        if not found:
            exts = " ".join(sorted(IMAGE_EXTENSIONS))
            raise BadInputError(f"{self.name}: no image files found (looked for {exts})")
        return [Item(id=rel, path=str(p)) for rel, p in found]

    def items(self, tower: str = "image") -> list[Item]:
        check_tower(self.name, self.towers, tower)
        return list(self._scan)

    def fingerprint(self, tower: str = "image") -> str:
        """sha256 over (id, size, mtime_ns) of every file: any file added, removed or changed."""
        check_tower(self.name, self.towers, tower)
        h = hashlib.sha256(b"infogauss.images/v1\n")
        for item in self._scan:
            st = Path(item.path).stat()  # type: ignore[arg-type]
            h.update(f"{item.id}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


def from_spec(rest: str, options: SourceOptions) -> ImageFolderSource:
    """``images:DIR``."""
    return ImageFolderSource(rest)
