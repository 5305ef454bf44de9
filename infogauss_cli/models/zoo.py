"""The model zoo: ``model_zoo.yaml`` -> validated :class:`ZooEntry` objects.

One YAML entry registers a model (timm/open_clip style: a registry that one entry extends).
Each backend owns the schema of its ``source:`` block (``extra="forbid"``), chosen by the
entry's ``backend`` key, so a typo is an error with its field path, never a silently ignored
key. Only pydantic and yaml are imported here: the backends that build models live in
:mod:`infogauss_cli.models.backends`.

- :mod:`.schema`: the entry and source base schemas, objectives, towers;
- :mod:`.weights`: where an entry's weights come from;
- :mod:`.registry`: the table of backend names the zoo reads (a leaf that backends register
  into; the built-ins as ``"module:attribute"``, imported on first use);
- :mod:`.loading`: finding, reading and validating zoo files; the per-backend union.
"""

from __future__ import annotations

from typing import Any

from infogauss_cli.models.catalogue import (
    ENV_VAR,
    ON_THE_FLY_HINT,
    Zoo,
    default_zoo_path,
    entry_class,
    find_zoo,
    format_errors,
    load_zoo,
    parse_entry,
    parse_zoo,
    split_random,
    with_revision,
)
from infogauss_cli.models.schema import (
    OBJECTIVES,
    ON_THE_FLY,
    ON_THE_FLY_PREFIXES,
    PKG_PREFIX,
    RANDOM_SUFFIX,
    SCHEMA_VERSION,
    Name,
    Objective,
    SourceSchema,
    TowerName,
    ZooEntry,
    on_the_fly_prefix,
)
from infogauss_cli.models.weights import WeightsLocation, package_path, weights_location

__all__ = [
    "ENV_VAR",
    "OBJECTIVES",
    "ON_THE_FLY",
    "ON_THE_FLY_HINT",
    "ON_THE_FLY_PREFIXES",
    "PKG_PREFIX",
    "RANDOM_SUFFIX",
    "SCHEMA_VERSION",
    "Name",
    "Objective",
    "SourceSchema",
    "TowerName",
    "WeightsLocation",
    "Zoo",
    "ZooEntry",
    "default_zoo_path",
    "entry_class",
    "find_zoo",
    "format_errors",
    "load_zoo",
    "on_the_fly_prefix",
    "package_path",
    "parse_entry",
    "parse_zoo",
    "split_random",
    "weights_location",
    "with_revision",
]

_ENTRY_NAMES = {
    "TimmEntry": "timm",
    "OpenClipEntry": "open_clip",
    "TransformersEntry": "transformers",
}


def __getattr__(name: str) -> Any:
    """``TimmEntry``, ``OpenClipEntry``, ``TransformersEntry``: the built-in backends' entry
    classes (made from the registry on first use)."""
    if name in _ENTRY_NAMES:
        return entry_class(_ENTRY_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
