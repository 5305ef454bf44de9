"""Data sources: each turns a ``--data`` spec into a list of :class:`Item` for one tower.

Spec forms (:func:`parse_data_spec`):

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
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadInputError
from .base import Item, Source, ignored_counts

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = [
    "SUPPORTED_SPECS",
    "Item",
    "Source",
    "data_section",
    "ignored_counts",
    "parse_data_spec",
    "split_coco_spec",
]

SUPPORTED_SPECS = (
    "coco-val2017",
    "coco:ANNOTATIONS.json[:IMAGES_DIR]",
    "images:DIR",
    "text:FILE",
    "hf:DATASET[:SPLIT][#COLUMN]",
    "pydoc-topics",
    "skimage-samples",
)
_KINDS = {
    "coco": "coco:ANNOTATIONS.json[:IMAGES_DIR]",
    "images": "images:DIR",
    "text": "text:FILE",
    "hf": "hf:DATASET[:SPLIT][#COLUMN]",
}


def split_coco_spec(rest: str) -> tuple[str, str | None]:
    """``ANN.json[:IMAGES_DIR]`` -> (annotations, images dir or None). The annotation path ends
    at a ``.json`` followed by ``:`` or the end; an existing file wins when there are several."""
    ends = [m.end() for m in re.finditer(r"\.json(?=:|$)", rest, re.IGNORECASE)]
    if not ends:
        raise BadInputError(
            f"--data coco:{rest}: name a .json annotation file (coco:ANNOTATIONS.json[:IMAGES_DIR])"
        )
    end = next((e for e in ends if Path(rest[:e]).expanduser().is_file()), ends[0])
    images = rest[end + 1 :].strip() or None
    return rest[:end], images


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
    """A ``--data`` spec -> a :class:`Source` (forms in the module docstring).

    ``captions`` (first|all) applies to COCO and list-of-captions columns; ``text_field`` to
    .jsonl/.csv files and hf: text columns; ``streaming`` to hf:; ``strict`` makes empty texts
    an error; ``download`` fetches COCO val2017 into ``data_dir`` when it is missing (progress on
    ``console``). Anything malformed or missing -> BadInputError (exit 2).
    """
    forms = ", ".join(SUPPORTED_SPECS)
    text = (spec or "").strip()
    if text.lower() == "coco-val2017":
        from .coco import coco_val2017

        return coco_val2017(
            data_dir, captions=captions, strict=strict, download=download, console=console
        )
    from .builtin import BUILTIN

    if text.lower() in BUILTIN:
        return BUILTIN[text.lower()]()
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in _KINDS:
        raise BadInputError(f"--data {spec!r} is not supported; supported forms: {forms}")
    if not rest.strip():
        raise BadInputError(f"--data {spec!r}: missing what follows '{kind}:' ({_KINDS[kind]})")
    if kind == "coco":
        from .coco import CocoSource

        annotations, images = split_coco_spec(rest)
        return CocoSource(annotations, images, captions=captions, strict=strict, name=text)
    if kind == "images":
        from .images import ImageFolderSource

        return ImageFolderSource(rest)
    if kind == "text":
        from .text import TextFileSource

        return TextFileSource(rest, text_field=text_field, strict=strict)
    from .hf import HFSource, parse_hf_spec

    dataset, split, column = parse_hf_spec(rest)
    return HFSource(
        dataset,
        split,
        column,
        text_field=text_field,
        captions=captions,
        streaming=streaming,
        strict=strict,
        name=text,
    )


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
