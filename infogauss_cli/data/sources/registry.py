"""The source registry: ``--data`` spec forms and what builds a :class:`~.base.Source` of each.

A source is one module (a class keeping the :class:`~.base.Source` protocol, and a builder
``build(rest, options) -> Source``) and one registration line::

    register_source("toy", "toy:N", "my_package.toy_source:build")

``toy:5`` then calls ``build("5", options)``. ``exact=True`` registers a whole spec instead of
a prefix (``pydoc-topics``). The builder may be the function itself or ``"module:function"``,
imported on first use, so registering costs nothing. Installed packages can register through
the entry point group ``infogauss.sources`` (``prefix = "module:function"``; the form shown in
messages is then ``prefix:...``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.plugins import entry_point_specs

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from infogauss_cli.data.sources.base import Source

ENTRY_POINT_GROUP = "infogauss.sources"


@dataclass(frozen=True)
class SourceOptions:
    """What the data options ask of every source (each source uses what applies to it).

    ``captions`` (first|all): COCO and list-of-captions columns; ``text_field``: .jsonl/.csv
    files and hf: text columns; ``streaming``: hf:; ``strict``: empty texts are an error;
    ``download``: fetch COCO val2017 into ``data_dir`` when missing (progress on ``console``);
    ``spec``: the whole ``--data`` text (sources name themselves by it).
    """

    captions: str = "first"
    text_field: str | None = None
    streaming: bool = False
    strict: bool = False
    download: bool = False
    data_dir: str | os.PathLike[str] | None = None
    console: Console | None = None
    spec: str = ""


Builder = Callable[[str, SourceOptions], "Source"]


@dataclass(frozen=True)
class SourceKind:
    """A registered form: ``name`` (a prefix before ``:``, or a whole spec when ``exact``),
    ``form`` (as messages show it) and ``build`` (a builder or ``"module:function"``)."""

    name: str
    form: str
    build: Builder | str
    exact: bool = False

    def builder(self) -> Builder:
        if isinstance(self.build, str):
            module, _, attr = self.build.partition(":")
            return getattr(importlib.import_module(module), attr or "build")
        return self.build


_REGISTRY: dict[tuple[str, bool], SourceKind] = {}


def register_source(name: str, form: str, build: Builder | str, *, exact: bool = False) -> None:
    """Register a ``--data`` form (see the module docstring); names are case-insensitive and
    a later registration of the same name replaces the earlier one."""
    key = (name.strip().lower(), exact)
    _REGISTRY[key] = SourceKind(key[0], form, build, exact)


def unregister_source(name: str, *, exact: bool = False) -> None:
    _REGISTRY.pop((name.strip().lower(), exact), None)


def _load_entry_points() -> None:
    for name, value in entry_point_specs(ENTRY_POINT_GROUP):
        if (name.lower(), False) not in _REGISTRY:
            register_source(name, f"{name}:...", value)


def supported_forms() -> tuple[str, ...]:
    """Every registered form, in registration order."""
    _load_entry_points()
    return tuple(k.form for k in _REGISTRY.values())


def find_kind(spec: str) -> tuple[SourceKind, str]:
    """(the registered kind of ``spec``, what follows its prefix). Unknown or incomplete specs
    are a :class:`BadInputError` listing the supported forms."""
    _load_entry_points()
    text = (spec or "").strip()
    exact = _REGISTRY.get((text.lower(), True))
    if exact is not None:
        return exact, ""
    prefix, sep, rest = text.partition(":")
    kind = _REGISTRY.get((prefix.strip().lower(), False)) if sep else None
    if kind is None:
        forms = ", ".join(supported_forms())
        raise BadInputError(f"--data {spec!r} is not supported; supported forms: {forms}")
    if not rest.strip():
        raise BadInputError(f"--data {spec!r}: missing what follows '{kind.name}:' ({kind.form})")
    return kind, rest


def build_source(spec: str, options: SourceOptions) -> Any:
    """The :class:`~.base.Source` for ``spec``."""
    kind, rest = find_kind(spec)
    return kind.builder()(rest, options)
