"""Data sources: ``--data`` specs to the items of one tower (docs/data.md). The built-in forms
are registered here; a source's module is imported when the source is used."""

from __future__ import annotations

from collections.abc import Sequence

from infogauss_cli.data.sources.base import Item, ItemLoadError, Source, ignored_counts
from infogauss_cli.data.sources.coco import split_coco_spec
from infogauss_cli.data.sources.loaders import item_loader
from infogauss_cli.data.sources.registry import SourceOptions, parse_data_spec, register_source

__all__ = ["Item", "ItemLoadError", "Source", "SourceOptions", "data_section", "ignored_counts"]
__all__ += ["item_loader", "parse_data_spec", "register_source", "split_coco_spec"]

_HERE = __name__
register_source("coco-val2017", "coco-val2017", f"{_HERE}.coco:val2017_from_spec", exact=True)
register_source("coco", "coco:ANNOTATIONS.json[:IMAGES_DIR]", f"{_HERE}.coco:from_spec")
register_source("images", "images:DIR", f"{_HERE}.images:from_spec")
register_source("text", "text:FILE", f"{_HERE}.text:from_spec")
register_source("hf", "hf:DATASET[:SPLIT][#COLUMN]", f"{_HERE}.hub_datasets:from_spec")
register_source("pydoc-topics", "pydoc-topics", f"{_HERE}.builtin:PydocTopics", exact=True)
register_source("skimage-samples", "skimage-samples", f"{_HERE}.builtin:SkimageSamples", exact=True)
register_source("textures", "textures", f"{_HERE}.builtin:Textures", exact=True)
register_source("scene-captions", "scene-captions", f"{_HERE}.builtin:SceneCaptions", exact=True)


def data_section(source: Source, tower: str, n: int, skipped: Sequence[tuple[str, str]]) -> dict:
    """The report's ``data`` block for one tower: the spec, items (``n`` embedded + skipped), the
    skipped count and first 10 ids, and what the source ``ignored`` (counts by kind)."""
    return {
        "source": source.name,
        "items": int(n) + len(skipped),
        "skipped": len(skipped),
        "skipped_ids": [i for i, _ in skipped[:10]],
        "ignored": ignored_counts(source, tower),
    }
