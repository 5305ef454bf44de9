"""The backend registry: the ``backend:`` names of the zoo and what builds them.

A backend is one module that defines a :class:`Backend` (usually a :class:`BackendSpec` over
its module-level functions) and one registration line: :func:`register_backend` with the
object, or with ``"module:attribute"`` to import it on first use. Installed packages can also
register through the entry point group ``infogauss.backends`` (``name = "module:attribute"``).
The table of names is the zoo's (:mod:`infogauss_cli.models.registry`, a leaf the zoo reads);
this module adds what builds models: the :class:`Backend` contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from infogauss_cli.models.registry import (
    ENTRY_POINT_GROUP,
    backend_names,
    register_backend,
    unregister_backend,
)
from infogauss_cli.models.registry import get_backend as _get_backend

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.backends.base import Encoder
    from infogauss_cli.models.backends.common import WeightsStatus
    from infogauss_cli.models.schema import SourceSchema, ZooEntry


@runtime_checkable
class Backend(Protocol):
    """What a backend provides; the contract every backend module keeps.

    - ``name``: the zoo's ``backend:`` value (``timm``).
    - ``source_schema``: a :class:`~infogauss_cli.models.zoo.SourceSchema` subclass, the entry's
      ``source:`` block (``name``, ``weights``, ``hub_fallback`` plus the backend's own keys;
      ``extra="forbid"``). The zoo's entry union is made from these.
    - ``towers``: the towers its entries may have (``("image",)``), or None for any.
    - ``build(entry, tower) -> Encoder``: the tower's module in eval mode on CPU in float32,
      its picklable ``prepare`` and ``collate`` and its ``forward`` (see
      :class:`~infogauss_cli.models.backends.base.Encoder`); ``dim`` must equal ``entry.dim``
      when set. Hub
      weights come from the local cache or a download that fails fast offline; a missing file
      or an offline hub is a :class:`~infogauss_cli.core.errors.RunError` naming the model and the
      file; a bad entry a :class:`~infogauss_cli.core.errors.BadInputError`.
    - ``check(entry)``: the entry's names exist in the installed library, with no network and
      no model built (``zoo validate``); a problem is a BadInputError.
    - ``weights_status(entry) -> WeightsStatus``: where the weights come from and whether they
      are on this machine, with no network.

    - ``quick_status(entry) -> WeightsStatus | None`` (optional): the weights status without
      importing the heavy library, None when only the library can tell; a missing hub weight
      offline then fails before torch is imported
      (:func:`~infogauss_cli.models.backends.fail_fast`).

    Heavy libraries are imported inside ``build`` / ``check`` / ``weights_status``, never at
    module level: the zoo imports every registered backend module to read its schema.
    """

    name: str
    source_schema: type[SourceSchema]
    towers: tuple[str, ...] | None

    def build(self, entry: ZooEntry, tower: str) -> Encoder: ...

    def check(self, entry: ZooEntry) -> None: ...

    def weights_status(self, entry: ZooEntry) -> WeightsStatus: ...


@dataclass(frozen=True)
class BackendSpec:
    """A :class:`Backend` made of plain functions (how the built-in backends register)."""

    name: str
    source_schema: type[SourceSchema]
    build: Callable[[ZooEntry, str], Encoder]
    check: Callable[[ZooEntry], None]
    weights_status: Callable[[ZooEntry], WeightsStatus]
    towers: tuple[str, ...] | None = None
    quick_status: Callable[[ZooEntry], WeightsStatus | None] | None = None


def get_backend(name: str) -> Backend:
    """The backend registered as ``name`` (imported on first use)."""
    return _get_backend(name)  # type: ignore[no-any-return]


__all__ = [
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendSpec",
    "backend_names",
    "get_backend",
    "register_backend",
    "unregister_backend",
]
