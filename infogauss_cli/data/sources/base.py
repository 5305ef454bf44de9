"""What every data source yields: items with stable ids, for one tower.

A source (the :class:`Source` protocol) has ``name`` (the spec, for messages), ``towers`` (the
towers it can feed), ``items(tower)`` and ``fingerprint(tower) -> str`` (changes whenever the
items or their content change; the embedding cache keys on it). ``items`` returns a list, or
streams: any iterable of :class:`Item` (a generator; give it ``__len__`` when the count is known,
so that a seeded subset is drawn in one pass). Asking for a tower it cannot feed raises
:class:`~infogauss_cli.core.errors.BadInputError`.

Optionally ``loader(tower) -> Callable[[Item], Any]``: what turns an item into the encoder's
raw input (an RGB PIL image, a str), run in the DataLoader workers (so it must pickle), raising
:class:`ItemLoadError` for an unreadable item; default :func:`~.loaders.default_loader`. And
``ignored(tower) -> dict[str, int]``: what the source left out on purpose, counted by kind
(``{"empty caption": 3}``); read it with :func:`ignored_counts`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from infogauss_cli.core.errors import BadInputError, more_names


@dataclass(frozen=True)
class Item:
    """One thing to embed.

    ``id`` is stable across runs (the cache and resume key on the id list). Image items carry a
    ``path`` (decoded in a worker) or an in-memory ``image`` (a PIL image, an array, or the
    encoded file bytes); text items carry ``text``. ``pair`` names the item of the other tower
    it is paired with (the COCO image of a caption), if any.
    """

    id: str
    path: str | None = None
    text: str | None = None
    image: Any = None
    pair: str | None = None


@runtime_checkable
class Source(Protocol):
    name: str
    towers: tuple[str, ...]

    def items(self, tower: str) -> Sequence[Item] | Iterable[Item]: ...

    def fingerprint(self, tower: str) -> str: ...


class ItemLoadError(Exception):
    """One item could not be loaded; the extractor skips it and names it (``reason``)."""

    def __init__(self, item_id: str, reason: str) -> None:
        super().__init__(item_id, reason)
        self.item_id = item_id
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.item_id}: {self.reason}"


def load_text(item: Item) -> str:
    """The default text loader: the item's text."""
    if item.text is None:
        raise ItemLoadError(item.id, "no text")
    return item.text


def item_count(items: Iterable[Item]) -> int | None:
    """How many items a list or a stream holds, when it knows (``len``), else None."""
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


CAPTIONS_MODES = ("first", "all")


def check_captions_mode(captions: str) -> str:
    mode = (getattr(captions, "value", captions) or "first").strip().lower()
    if mode not in CAPTIONS_MODES:
        raise BadInputError(f"--captions {captions!r}: use first (one per image) or all")
    return mode


def check_tower(name: str, towers: tuple[str, ...], tower: str) -> None:
    """BadInputError unless ``tower`` is one the source ``name`` can feed."""
    if tower not in towers:
        if len(towers) == 1:
            raise BadInputError(
                f"{name} feeds the {towers[0]} tower only, not {tower!r}; use --tower {towers[0]}"
            )
        raise BadInputError(
            f"{name} cannot feed the {tower!r} tower (it feeds {', '.join(towers)})"
        )


def ignored_counts(source: Any, tower: str) -> dict[str, int]:
    """What ``source`` left out on purpose for ``tower`` (empty captions, blank rows), by kind;
    ``{}`` for sources that do not say."""
    fn = getattr(source, "ignored", None)
    if fn is None:
        return {}
    return {k: int(v) for k, v in fn(tower).items() if v}


def fingerprint_items(tag: str, items: Iterable[Item]) -> str:
    """sha256 over the ids and the content of ``items``: text, file (path, size, mtime_ns),
    encoded bytes, and the pairing. ``tag`` names the source kind and its options."""
    h = hashlib.sha256(f"infogauss.source/v1\n{tag}\n".encode())
    for item in items:
        h.update(item.id.encode() + b"\0")
        if item.text is not None:
            h.update(b"t" + item.text.encode() + b"\0")
        if item.pair is not None:
            h.update(b"q" + item.pair.encode() + b"\0")
        if item.path is not None:
            try:
                st = os.stat(item.path)
                h.update(f"p{item.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
            except OSError:
                h.update(f"p{item.path}\0missing\0".encode())
        image = item.image
        if isinstance(image, (bytes, bytearray, memoryview)):
            h.update(b"b" + hashlib.sha256(image).digest())
        elif image is not None:
            import numpy as np

            arr = np.ascontiguousarray(np.asarray(image))
            h.update(f"i{arr.dtype}{arr.shape}".encode() + hashlib.sha256(arr.tobytes()).digest())
    return h.hexdigest()


def shown(names: Iterable[str], limit: int = 5) -> str:
    """``a, b, c and 4 more`` for messages."""
    return more_names(names, limit)
