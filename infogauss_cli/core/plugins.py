"""Entry points of installed packages that extend infogauss (backends, sources)."""

from __future__ import annotations

import functools


@functools.cache
def entry_point_specs(group: str) -> tuple[tuple[str, str], ...]:
    """``(name, "module:attribute")`` of every entry point in ``group`` (read once)."""
    from importlib.metadata import entry_points

    return tuple((ep.name, ep.value) for ep in entry_points(group=group))
