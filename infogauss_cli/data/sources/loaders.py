"""What turns a source's item into the encoder's raw input: the source's own ``loader(tower)``,
or the default one (text: the item's text; image: :func:`~.images.load_image`). It runs inside
DataLoader workers (so it must pickle) and raises :class:`~.base.ItemLoadError` for a bad item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infogauss_cli.data.sources.base import Item, load_text


def default_loader(tower: str) -> Callable[[Item], Any]:
    """The loader of sources that name none: ``text`` -> :func:`~.base.load_text`, ``image`` ->
    :func:`~.images.load_image` (path, encoded bytes or in-memory image -> RGB PIL image),
    imported only then: the engine and text runs never import the image source."""
    if tower == "text":
        return load_text
    from infogauss_cli.data.sources.images import load_image

    return load_image


def item_loader(source: Any, tower: str) -> Callable[[Item], Any]:
    """What turns one of ``source``'s items into the encoder's raw input for ``tower``: the
    source's own ``loader(tower)`` if it has one, else :func:`default_loader`. It runs inside
    DataLoader workers (so it must pickle) and raises :class:`~.base.ItemLoadError` for a bad
    item."""
    fn = getattr(source, "loader", None)
    return fn(tower) if fn is not None else default_loader(tower)
