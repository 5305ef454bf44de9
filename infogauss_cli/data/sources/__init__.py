"""Data sources: each turns a ``--data`` spec into the items of one tower.

Spec forms (registered below, one line each; :mod:`.registry` explains how to add one):

- ``coco-val2017``: MS-COCO val2017 under the data dir (``$INFOGAUSS_DATA`` or the user cache
  dir), as written by ``infogauss data fetch coco-val2017`` (or fetched with ``download``);
- ``coco:ANNOTATIONS.json[:IMAGES_DIR]``: any COCO-format captions file (:mod:`.coco`);
- ``images:DIR``: every image under a folder, recursively (:mod:`.images`);
- ``text:FILE``: .txt lines, .jsonl field, .csv column (:mod:`.text`);
- ``hf:DATASET[:SPLIT][#COLUMN]``: a Hugging Face dataset, Hub id or local (:mod:`.hf`);
- ``pydoc-topics``, ``skimage-samples``: real text and images that are on the machine, for
  offline runs and the demo (:mod:`.builtin`).

The :class:`Source` protocol is in :mod:`.base`; heavy libraries (pycocotools, datasets) are
imported only when their source is used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from infogauss_cli.data.sources.base import Item, ItemLoadError, Source, ignored_counts
from infogauss_cli.data.sources.coco import split_coco_spec
from infogauss_cli.data.sources.loaders import item_loader
from infogauss_cli.data.sources.registry import (
    SourceOptions,
    build_source,
    register_source,
    supported_forms,
)

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = [
    "SUPPORTED_SPECS",
    "Item",
    "ItemLoadError",
    "Source",
    "SourceOptions",
    "data_section",
    "ignored_counts",
    "item_loader",
    "parse_data_spec",
    "register_source",
    "split_coco_spec",
    "supported_forms",
]

register_source("coco-val2017", "coco-val2017", f"{__name__}.coco:val2017_from_spec", exact=True)
register_source("coco", "coco:ANNOTATIONS.json[:IMAGES_DIR]", f"{__name__}.coco:from_spec")
register_source("images", "images:DIR", f"{__name__}.images:from_spec")
register_source("text", "text:FILE", f"{__name__}.text:from_spec")
register_source("hf", "hf:DATASET[:SPLIT][#COLUMN]", f"{__name__}.hf:from_spec")
register_source("pydoc-topics", "pydoc-topics", f"{__name__}.builtin:pydoc_topics", exact=True)
register_source(
    "skimage-samples", "skimage-samples", f"{__name__}.builtin:skimage_samples", exact=True
)

#: The built-in forms (``supported_forms()`` adds what was registered since).
SUPPORTED_SPECS = supported_forms()


def parse_data_spec(
    spec: str,
    *,
    captions: str = "first",
    text_field: str | None = None,
    streaming: bool = False,
    strict: bool = False,
    download: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    console: Console | None = None,
) -> Source:
    """A ``--data`` spec -> a :class:`Source` (forms in the module docstring and the registry).

    The keywords are the fields of :class:`SourceOptions`. Anything malformed or missing ->
    BadInputError (exit 2).
    """
    fields = {k: v for k, v in locals().items() if k != "spec"}  # the keywords, as given
    return build_source(spec, SourceOptions(spec=(spec or "").strip(), **fields))


def data_section(source: Any, tower: str, extraction: Any, shown: int = 10) -> dict[str, Any]:
    """The report's ``data`` block for one tower: ``source`` (the spec), ``items`` (items read:
    embedded + skipped), ``skipped`` (unreadable items, a count), ``skipped_ids`` (the first
    ``shown``) and ``ignored`` (what the source left out on purpose, counts by kind)."""
    return {
        "source": getattr(source, "name", str(source)),
        "items": int(extraction.n) + len(extraction.skipped),
        "skipped": len(extraction.skipped),
        "skipped_ids": [i for i, _ in extraction.skipped[:shown]],
        "ignored": ignored_counts(source, tower),
    }
