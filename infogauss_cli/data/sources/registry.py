"""The source registry (docs/data.md, "Add a source"): ``--data`` forms and their builders,
given as functions or ``"module:function"`` (imported on first use), and the entry point group
``infogauss.sources``."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions
from infogauss_cli.core.plugins import entry_point_specs

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.data.sources.base import Source

ENTRY_POINT_GROUP = "infogauss.sources"


@dataclass(frozen=True)
class SourceOptions(DataOptions):
    """What a builder receives: the data options (``data``, also ``spec``: the whole spec) and
    the data folder of ``coco-val2017`` (None: ``$INFOGAUSS_DATA`` or the user cache dir)."""

    data_dir: str | os.PathLike[str] | None = None

    @property
    def spec(self) -> str:
        return self.data


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
    """Register a ``--data`` form; names are case-insensitive, a later registration of the
    same name replaces the earlier one."""
    key = (name.strip().lower(), exact)
    _REGISTRY[key] = SourceKind(key[0], form, build, exact)


def unregister_source(name: str, *, exact: bool = False) -> None:
    _REGISTRY.pop((name.strip().lower(), exact), None)


def supported_forms() -> tuple[str, ...]:
    """Every registered form (entry points included), in registration order."""
    for name, value in entry_point_specs(ENTRY_POINT_GROUP):
        if (name.lower(), False) not in _REGISTRY:
            register_source(name, f"{name}:...", value)
    return tuple(k.form for k in _REGISTRY.values())


def parse_data_spec(
    spec: str, options: DataOptions | None = None, data_dir: str | os.PathLike[str] | None = None
) -> Source:
    """A ``--data`` spec -> its :class:`~.base.Source`, read with ``options`` (their ``data`` is
    replaced by ``spec``). Unknown, incomplete or malformed specs: BadInputError (exit 2)."""
    forms = supported_forms()
    text = (spec or "").strip()
    kind = _REGISTRY.get((text.lower(), True))
    prefix, sep, rest = text.partition(":")
    if kind is None:
        kind = _REGISTRY.get((prefix.strip().lower(), False)) if sep else None
        if kind is None:
            raise BadInputError(
                f"--data {spec!r} is not supported; supported forms: {', '.join(forms)}"
            )
        if not rest.strip():
            raise BadInputError(
                f"--data {spec!r}: missing what follows '{kind.name}:' ({kind.form})"
            )
    else:
        rest = ""
    given = {f.name: getattr(options, f.name) for f in fields(DataOptions)} if options else {}
    return kind.builder()(rest, SourceOptions(**{**given, "data": text, "data_dir": data_dir}))
