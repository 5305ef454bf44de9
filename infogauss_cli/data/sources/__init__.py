"""Data sources: ``--data`` specs to the items of one tower (docs/data.md), and the registry of
the built-in forms, :func:`register_source` and ``infogauss.sources`` entry points."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import fields

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions
from infogauss_cli.data.sources.base import Source, SourceOptions, ignored_counts
from infogauss_cli.models.registry import entry_point_specs

Builder = Callable[[str, SourceOptions], Source]
_REGISTRY: dict[tuple[str, bool], tuple[str, Builder | str]] = {}  # (name, exact): form, build


def register_source(name: str, form: str, build: Builder | str, *, exact: bool = False) -> None:
    """Register a ``--data`` form: ``name`` a prefix before ``:`` (a whole spec when ``exact``),
    ``form`` as messages show it, ``build`` a builder or ``"module:function"``."""
    _REGISTRY[(name.strip().lower(), exact)] = (form, build)


def unregister_source(name: str, *, exact: bool = False) -> None:
    _REGISTRY.pop((name.strip().lower(), exact), None)


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


def parse_data_spec(
    spec: str, options: DataOptions | None = None, data_dir: str | os.PathLike[str] | None = None
) -> Source:
    """A ``--data`` spec -> its :class:`~.base.Source`, read with ``options`` (their ``data`` is
    replaced by ``spec``). Unknown, incomplete or malformed specs: BadInputError (exit 2)."""
    for name, value in entry_point_specs("infogauss.sources"):
        if (name.lower(), False) not in _REGISTRY:
            register_source(name, f"{name}:...", value)
    text = (spec or "").strip()
    prefix, sep, rest = text.partition(":")
    exact = (text.lower(), True) in _REGISTRY
    key = (text.lower(), True) if exact else (prefix.strip().lower(), False)
    if key not in _REGISTRY or not (sep or exact):
        forms = ", ".join(form for form, _ in _REGISTRY.values())
        raise BadInputError(f"--data {spec!r} is not supported; supported forms: {forms}")
    form, build = _REGISTRY[key]
    if not exact and not rest.strip():
        raise BadInputError(f"--data {spec!r}: missing what follows '{key[0]}:' ({form})")
    if isinstance(build, str):
        module, _, attr = build.partition(":")
        build = getattr(importlib.import_module(module), attr or "build")
    given = {f.name: getattr(options, f.name) for f in fields(DataOptions)} if options else {}
    options = SourceOptions(**{**given, "data": text, "data_dir": data_dir})
    return build("" if exact else rest, options)


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
