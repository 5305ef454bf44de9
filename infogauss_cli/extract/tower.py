"""One tower's extraction as the pipelines run it: the extraction, or the RunError that
stopped it (the other models and layers still run). ``audit``, ``track`` and depth profiles
(:mod:`infogauss_cli.pipelines.layers`) share it."""

from __future__ import annotations

from typing import Any

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.options import Compute, DataOptions, Protocol
from infogauss_cli.extract.model import extract_model


def extract_tower(
    entry: Any,
    source: Any,
    tower: str,
    protocol: Protocol,
    compute: Compute,
    cache: Any,
    data: DataOptions,
    console: Any,
    encoder: Any = None,
) -> Any:
    """The extraction of one tower (with ``encoder``: that one, e.g. one layer of a depth
    profile, instead of building the entry's), or the :class:`RunError` that stopped it (the
    other models still run)."""
    try:
        return extract_model(
            entry,
            source,
            tower,
            protocol,
            compute,
            cache=cache,
            console=console,
            strict=data.strict,
            encoder=encoder,
        )
    except RunError as exc:
        return exc
