"""The source registry (docs/data.md, "Add a source"): ``--data`` forms, their builders and the
entry point group ``infogauss.sources``."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions
from infogauss_cli.models.registry import entry_point_specs

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.data.sources.base import Source


@dataclass(frozen=True)
class SourceOptions(DataOptions):
    """What a builder receives: the data options (``spec``: the whole spec) and the data folder
    of ``coco-val2017`` (None: ``$INFOGAUSS_DATA`` or the user cache dir)."""

    data_dir: str | os.PathLike[str] | None = None

    @property
    def spec(self) -> str:
        return self.data


Builder = Callable[[str, SourceOptions], "Source"]
_REGISTRY: dict[tuple[str, bool], tuple[str, Builder | str]] = {}  # (name, exact): form, build


def register_source(name: str, form: str, build: Builder | str, *, exact: bool = False) -> None:
    """Register a ``--data`` form: ``name`` a prefix before ``:`` (a whole spec when ``exact``),
    ``form`` as messages show it, ``build`` a builder or ``"module:function"``."""
    _REGISTRY[(name.strip().lower(), exact)] = (form, build)


def unregister_source(name: str, *, exact: bool = False) -> None:
    _REGISTRY.pop((name.strip().lower(), exact), None)


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
