"""What every data source yields: items with stable ids, for one tower (docs/data.md)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Protocol

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions


@dataclass(frozen=True)
class Item:
    """One thing to embed, ``id`` stable across runs: an image (a ``path``, or an ``image``: PIL,
    array or encoded bytes) or a ``text``; ``pair``: its item of the other tower."""

    id: str
    path: str | None = None
    text: str | None = None
    image: Any = None
    pair: str | None = None


class Source(Protocol):
    """``items(tower)``: a list or a stream of items; ``fingerprint(tower)`` changes whenever
    they or their content change. Optional: ``loader(tower)`` and ``ignored(tower)``."""

    name: str
    towers: tuple[str, ...]

    def items(self, tower: str) -> Sequence[Item] | Iterable[Item]: ...

    def fingerprint(self, tower: str) -> str: ...


@dataclass(frozen=True)
class SourceOptions(DataOptions):
    """What a builder receives: the data options (``spec``) and the folder of ``coco-val2017``."""

    data_dir: str | os.PathLike[str] | None = None

    @property
    def spec(self) -> str:
        return self.data


class ItemLoadError(Exception):
    """One item could not be loaded; the extractor skips it and names it (``reason``)."""

    def __init__(self, item_id: str, reason: str) -> None:
        super().__init__(item_id, reason)
        self.item_id, self.reason = item_id, reason

    def __str__(self) -> str:
        return f"{self.item_id}: {self.reason}"


def load_text(item: Item) -> str:
    """The default text loader: the item's text."""
    if item.text is None:
        raise ItemLoadError(item.id, "no text")
    return item.text


def item_count(items: Iterable[Item]) -> int | None:
    """How many items a list or a stream holds, when it knows, else None."""
    return len(items) if isinstance(items, Sized) else None


def check_tower(name: str, towers: tuple[str, ...], tower: str) -> None:
    """BadInputError unless ``tower`` is one the source ``name`` can feed."""
    if tower in towers:
        return
    if len(towers) == 1:
        raise BadInputError(
            f"{name} feeds the {towers[0]} tower only, not {tower!r}; use --tower {towers[0]}"
        )
    raise BadInputError(f"{name} cannot feed the {tower!r} tower (it feeds {', '.join(towers)})")


def ignored_counts(source: Source, tower: str) -> dict[str, int]:
    """What ``source`` left out on purpose for ``tower`` (empty captions...), counts by kind."""
    fn = getattr(source, "ignored", None)
    return {k: int(v) for k, v in fn(tower).items() if v} if fn is not None else {}


def fingerprint_items(tag: str, items: Iterable[Item]) -> str:
    """sha256 over ``tag`` and the ids, content (text, file stats, bytes, array) and pairs."""
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
