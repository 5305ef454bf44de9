"""Backends turn a zoo entry and a tower into an :class:`~.base.Encoder`.

One module per library (timm, open_clip, transformers), imported only when an entry of that
backend is built, so ``import infogauss_cli.backends`` stays cheap.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import BadInputError, InfogaussError, RunError, first_line

if TYPE_CHECKING:  # pragma: no cover
    from ..zoo import ZooEntry
    from .base import Encoder
    from .common import WeightsStatus

_MODULES = {"timm": "timm", "open_clip": "open_clip", "transformers": "hf"}

__all__ = ["backend_module", "build_encoder", "check_entry", "weights_status"]


def backend_module(backend: str) -> ModuleType:
    """The module that builds entries of ``backend`` (imported on first use)."""
    try:
        name = _MODULES[backend]
    except KeyError:
        raise BadInputError(
            f"unknown backend {backend!r} (use one of {', '.join(_MODULES)})"
        ) from None
    return importlib.import_module(f"{__name__}.{name}")


def build_encoder(entry: ZooEntry, tower: str) -> Encoder:
    """Build one tower of ``entry``: the module in eval mode on CPU in float32, its
    preprocessing, collate and forward. Hub weights come from the local cache or a download
    that fails fast offline (:mod:`.hub`); random twins (``pretrained: false``) never touch the
    network for their weights."""
    if tower not in entry.towers:
        raise BadInputError(f"{entry.ref} has no {tower} tower (it has: {', '.join(entry.towers)})")
    module = backend_module(entry.backend)
    try:
        return module.build(entry, tower)
    except InfogaussError:
        raise
    except (RuntimeError, OSError, ValueError, KeyError) as exc:  # e.g. weights that do not fit
        first = first_line(exc, "")
        raise RunError(
            f"cannot load {entry.ref} ({entry.backend} {entry.source.name}): "
            f"{type(exc).__name__}: {first[:500]}"
        ) from exc


def weights_status(entry: ZooEntry) -> WeightsStatus:
    """Where ``entry``'s weights come from and whether they are on this machine (no network)."""
    return backend_module(entry.backend).weights_status(entry)


def check_entry(entry: ZooEntry) -> None:
    """Check ``entry``'s names against the installed library and its local weights path, with
    no network and no model built; a problem is a :class:`BadInputError`."""
    from ..zoo import weights_location

    backend_module(entry.backend).check(entry)
    weights_location(entry)
