"""What every data source yields: a list of items with stable ids, for one tower."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    """One thing to embed.

    ``id`` is stable across runs (the cache and resume key on the id list). Image items carry a
    ``path`` (decoded in a worker) or an in-memory ``image``; text items carry ``text``.
    ``pair`` names the item of the other tower it is paired with (a COCO image id), if any.
    """

    id: str
    path: str | None = None
    text: str | None = None
    image: Any = None
    pair: str | None = None
