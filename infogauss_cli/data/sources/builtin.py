"""Real material on every machine with infogauss, for offline runs: ``pydoc-topics`` (prose of
``pydoc_data.topics``) and ``skimage-samples`` (scikit-image's bundled images and LFW crops)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item, check_tower, fingerprint_items

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.data.sources.registry import SourceOptions

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
MIN_CHARS, MAX_CHARS = 40, 300


def _sentences(text: str) -> list[str]:
    """Prose sentences of one pydoc topic: indented blocks (code, grammar) are left out."""
    out = []
    for para in _PARAGRAPH.split(text):
        if not (para.startswith(" ") or para.rstrip().endswith("::")):
            for s in _SENTENCE_END.split(" ".join(para.split())):
                if MIN_CHARS <= len(s) <= MAX_CHARS and s[0].isupper() and s[-1] in ".!?":
                    out.append(s)
    return out


class Builtin:
    """A fixed item list (``_items``) for one tower, read once."""

    name: str
    towers: tuple[str, ...]
    _items: list[Item]

    def items(self, tower: str) -> list[Item]:
        check_tower(self.name, self.towers, tower)
        return list(self._items)

    def fingerprint(self, tower: str) -> str:
        return fingerprint_items(self.name, self.items(tower))


class PydocTopicsSource(Builtin):
    """``pydoc-topics``: unique prose sentences of ``pydoc_data.topics``, topics sorted."""

    name, towers = "pydoc-topics", ("text",)

    @cached_property
    def _items(self) -> list[Item]:
        from pydoc_data.topics import topics

        seen: set[str] = set()
        items = []
        for topic in sorted(topics):
            for k, s in enumerate(_sentences(topics[topic])):
                if s not in seen:
                    seen.add(s)
                    items.append(Item(id=f"{topic}#{k}", text=s))
        return items


class SkimageSamplesSource(Builtin):
    """``skimage-samples``: scikit-image's bundled images and LFW crops (the ``offline`` extra)."""

    name, towers = "skimage-samples", ("image",)

    @cached_property
    def _items(self) -> list[Item]:
        try:
            import skimage.data
        except ImportError:
            raise BadInputError(
                "skimage-samples needs scikit-image: pip install 'infogauss[offline]'"
            ) from None
        import numpy as np

        root = Path(skimage.data.__file__).parent
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".png", ".jpg"))
        items = [Item(id=p.name, path=str(p)) for p in files]
        if (lfw := root / "lfw_subset.npy").is_file():
            crops = np.load(lfw, allow_pickle=False)  # (200, 25, 25) float in [0, 1]
            pixels = (np.clip(crops, 0.0, 1.0) * 255).round().astype(np.uint8)
            items += [Item(id=f"lfw_subset#{k}", image=a) for k, a in enumerate(pixels)]
        return items


def pydoc_topics(rest: str, options: SourceOptions) -> PydocTopicsSource:
    return PydocTopicsSource()


def skimage(rest: str, options: SourceOptions) -> SkimageSamplesSource:
    return SkimageSamplesSource()
