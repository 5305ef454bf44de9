"""Validation of zoo data: one entry class per registered backend, and error messages with the
field path of every problem, duplicate names included."""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.registry import backend_names, get_backend
from infogauss_cli.models.zoo_schema import (
    ON_THE_FLY,
    SCHEMA_VERSION,
    SourceSchema,
    Strict,
    ZooEntry,
    split_random,
)

ENV_VAR = "INFOGAUSS_ZOO"
Loc = tuple[str | int, ...]

_ENTRY_CLASSES: dict[tuple[str, type], type[ZooEntry]] = {}


def entry_class(backend: str) -> type[ZooEntry]:
    """:class:`ZooEntry` with ``backend`` and ``source`` fixed to a registered backend's."""
    spec = get_backend(backend)
    key = (spec.name, spec.source_schema)
    if key not in _ENTRY_CLASSES:
        camel = "".join(p.capitalize() for p in spec.name.replace("-", "_").split("_"))
        namespace = {
            "__annotations__": {"backend": Literal[spec.name], "source": spec.source_schema},
            "__module__": __name__,
            "allowed_towers": spec.towers,
            "backend_name": spec.name,
        }
        _ENTRY_CLASSES[key] = type(f"{camel}Entry", (ZooEntry,), namespace)  # type: ignore[assignment]
    return _ENTRY_CLASSES[key]


@functools.cache
def _schemas(names: tuple[str, ...]) -> tuple[Any, type[BaseModel]]:
    """(any entry, a zoo file) of the backends ``names`` (those registered now)."""
    classes = tuple(entry_class(n) for n in names)
    union = classes[0] if len(classes) == 1 else Union[classes]  # noqa: UP007
    any_entry = Annotated[union, Field(discriminator="backend")]
    return any_entry, create_model(
        "ZooFile", __base__=Strict, schema_version=(Literal[1], ...), models=(list[any_entry], ...)
    )


def parse_entry(
    data: dict[str, object], *, on_the_fly: bool = False, origin: str = "entry"
) -> ZooEntry:
    """One entry from a dict, errors as in a zoo file (``on_the_fly``: ``dim`` may be None)."""
    adapter = TypeAdapter(_schemas(backend_names())[0])
    try:
        return adapter.validate_python(data, context={ON_THE_FLY: on_the_fly})
    except ValidationError as exc:
        raise BadInputError(format_errors(origin, _error_lines(exc))) from None


@dataclass(frozen=True)
class Zoo:
    entries: tuple[ZooEntry, ...]
    path: str

    def __len__(self) -> int:
        return len(self.entries)

    def resolve(self, ref: str) -> ZooEntry:
        """An id or alias (any case), optionally with ``@random[:SEED]``."""
        name, random, seed = split_random(ref)
        key = name.strip().lower()
        entry = next((e for e in self.entries if key in (n.lower() for n in e.names)), None)
        if entry is None:
            names = {n.lower(): n for e in self.entries for n in e.names}
            close = difflib.get_close_matches(name.lower(), list(names), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(names[c] for c in close)}?" if close else ""
            raise BadInputError(
                f"unknown model {name!r}{hint} (`infogauss zoo list` shows the "
                f"{len(self.entries)} models of {self.path}; use hf:ID, timm:NAME, open_clip:NAME "
                "or st:ID to audit a hub or local model without a zoo entry)"
            )
        return entry.random_twin(seed) if random else entry


def parse_zoo(data: object, *, base_dir: Path | None = None, origin: str = "data") -> Zoo:
    if not isinstance(data, dict):
        raise BadInputError(
            f"{origin}: expected a mapping with 'schema_version: {SCHEMA_VERSION}' and 'models: "
            f"[...]', got {type(data).__name__}"
        )
    problems = _duplicates(data.get("models"))
    try:
        parsed = _schemas(backend_names())[1].model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = _error_lines(exc) + problems
    if problems:
        raise BadInputError(format_errors(origin, problems)) from None
    return Zoo(entries=tuple(parsed.models), path=origin)


def format_errors(origin: str, lines: list[str]) -> str:
    head = f"invalid zoo {origin}: {len(lines)} error{'s' if len(lines) != 1 else ''}"
    return "\n".join([head, *(f"  {line}" for line in lines)])


def _loc(loc: Loc) -> str:
    parts: list[str] = []
    for i, key in enumerate(loc):
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif i > 0 and isinstance(loc[i - 1], int) and key in backend_names():
            continue  # the discriminated-union tag pydantic inserts
        else:
            parts.append(("." if parts else "") + str(key))
    return "".join(parts) or "(top level)"


class _AnySource(SourceSchema):
    model_config = ConfigDict(extra="allow", frozen=True)


class _AnyEntry(ZooEntry):
    backend: str = ""
    source: _AnySource


def _error_lines(exc: ValidationError, prefix: Loc = ()) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc, kind, msg = (*prefix, *err["loc"]), err["type"], err["msg"]
        extra: list[str] = []
        if kind.startswith("union_tag") and isinstance(err["input"], dict):  # the errors it hides
            try:
                _AnyEntry.model_validate(err["input"])
            except ValidationError as inner:
                extra = _error_lines(inner, prefix=loc)
        if kind == "union_tag_invalid":
            tag, names = err["ctx"]["tag"], ", ".join(backend_names())
            loc, msg = (*loc, "backend"), f"unknown backend {tag!r} (use one of {names})"
        elif kind == "union_tag_not_found":
            loc, msg = (*loc, "backend"), f"field required (one of {', '.join(backend_names())})"
        elif kind == "extra_forbidden":
            msg = "unknown key (not allowed here; check the spelling)"
        elif kind == "missing":
            msg = "field required"
        elif kind == "literal_error":
            msg = f"got {err.get('input')!r}; {msg[:1].lower()}{msg[1:]}"
        elif kind.startswith("value_error"):
            msg = msg.removeprefix("Value error, ")
        lines.append(f"{_loc(loc)}: {msg}")
        lines.extend(extra)
    return lines


def _duplicates(models: object) -> list[str]:
    """An id or alias (any case) used twice, each use after the first named by its field."""
    seen: dict[str, str] = {}
    problems = []
    for i, item in enumerate(models if isinstance(models, list) else []):
        item = item if isinstance(item, dict) else {}
        aliases = item.get("aliases") if isinstance(item.get("aliases"), list) else []
        for j, name in enumerate([item.get("id"), *aliases]):
            field = f"models[{i}].id" if j == 0 else f"models[{i}].aliases[{j - 1}]"
            if isinstance(name, str) and (first := seen.setdefault(name.lower(), field)) != field:
                problems.append(f"{field}: {name!r} is already used by {first}")
    return problems
