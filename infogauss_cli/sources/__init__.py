"""Data sources: each turns a ``--data`` spec into a list of :class:`Item` for one tower.

A source has ``name`` (the spec, for messages), ``towers`` (the towers it can feed),
``items(tower) -> list[Item]`` and ``fingerprint(tower) -> str`` (changes whenever the items or
their content change; the embedding cache keys on it). Asking for a tower it cannot feed raises
:class:`~infogauss_cli.errors.BadInputError`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..errors import BadInputError
from .base import Item

__all__ = ["SUPPORTED_SPECS", "Item", "Source", "parse_data_spec"]

SUPPORTED_SPECS = ("images:DIR", "text:FILE")


@runtime_checkable
class Source(Protocol):
    name: str
    towers: tuple[str, ...]

    def items(self, tower: str) -> list[Item]: ...

    def fingerprint(self, tower: str) -> str: ...


def parse_data_spec(spec: str) -> Source:
    """``images:DIR`` or ``text:FILE`` -> a :class:`Source`; anything else -> BadInputError."""
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if sep and rest:
        if kind == "images":
            from .images import ImageFolderSource

            return ImageFolderSource(rest)
        if kind == "text":
            from .text import TextFileSource

            return TextFileSource(rest)
    forms = ", ".join(SUPPORTED_SPECS)
    if kind in ("images", "text") and not rest:
        raise BadInputError(f"--data {spec!r}: missing the path after '{kind}:' (forms: {forms})")
    raise BadInputError(f"--data {spec!r} is not supported here; supported forms: {forms}")
