"""Zoo files -> validated :class:`Zoo`: finding, reading, validating, error messages.

Zoo files are found in this order: an explicit path (``--zoo``), ``$INFOGAUSS_ZOO``, the copy
shipped inside the package. ``Zoo.resolve`` accepts an id or an alias (any case) and the suffix
``@random`` (``@random:SEED``) for the seeded random-init twin of an entry. The entry schema is
a union with one class per registered backend (:mod:`.registry`).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.registry import backend_names, get_backend
from infogauss_cli.models.schema import (
    ON_THE_FLY,
    RANDOM_SUFFIX,
    SCHEMA_VERSION,
    SourceSchema,
    ZooEntry,
    _Strict,
    check_revision,
)
from infogauss_cli.models.weights import weights_location

ENV_VAR = "INFOGAUSS_ZOO"

_ENTRY_CLASSES: dict[tuple[str, type], type[ZooEntry]] = {}
_UNIONS: dict[tuple[str, ...], tuple[Any, type[BaseModel]]] = {}


def entry_class(backend: str) -> type[ZooEntry]:
    """The entry class of a registered backend: :class:`ZooEntry` with ``backend`` fixed to
    its name and ``source`` to its schema (one class per backend and schema, cached)."""
    spec = get_backend(backend)
    key = (spec.name, spec.source_schema)
    if key not in _ENTRY_CLASSES:
        camel = "".join(p.capitalize() for p in spec.name.replace("-", "_").split("_"))
        namespace = {
            "__annotations__": {"backend": Literal[spec.name], "source": spec.source_schema},
            "__module__": __name__,
            "__doc__": f"A zoo entry of the {spec.name} backend.",
            "allowed_towers": spec.towers,
            "backend_name": spec.name,
        }
        _ENTRY_CLASSES[key] = type(f"{camel}Entry", (ZooEntry,), namespace)  # type: ignore[assignment]
    return _ENTRY_CLASSES[key]


def _schemas() -> tuple[Any, type[BaseModel]]:
    """(entry union type, zoo file model) for the backends registered now."""
    names = backend_names()
    if names not in _UNIONS:
        classes = tuple(entry_class(n) for n in names)
        union = classes[0] if len(classes) == 1 else Union[classes]  # noqa: UP007
        any_entry = Annotated[union, Field(discriminator="backend")]
        zoo_file = create_model(
            "ZooFile",
            __base__=_Strict,
            schema_version=(Literal[1], ...),
            models=(list[any_entry], ...),
        )
        _UNIONS[names] = (any_entry, zoo_file)
    return _UNIONS[names]


def parse_entry(
    data: dict[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    on_the_fly: bool = False,
    origin: str = "entry",
) -> ZooEntry:
    """One entry from a dict (the schema its ``backend`` selects); errors as in a zoo file.
    ``on_the_fly``: an entry made from a prefixed id (its ``id`` is that id, ``dim`` may be
    None)."""
    from pydantic import TypeAdapter

    context = {"base_dir": base_dir, ON_THE_FLY: on_the_fly}
    try:
        return TypeAdapter(_schemas()[0]).validate_python(data, context=context)
    except ValidationError as exc:
        raise BadInputError(format_errors(origin, _error_lines(exc, data, base_dir))) from None


MAX_SEED = 2**32 - 1  # seeds of numpy and torch generators alike


@dataclass(frozen=True)
class Zoo:
    """A validated zoo file. ``entries`` in file order; ``path`` is where it was read from."""

    entries: tuple[ZooEntry, ...]
    path: str

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    def get(self, name: str) -> ZooEntry | None:
        """The entry with this id or alias (case-insensitive), or None. No suffixes."""
        key = name.strip().lower()
        for e in self.entries:
            if key in (n.lower() for n in e.names):
                return e
        return None

    def resolve(self, ref: str) -> ZooEntry:
        """An id or alias (any case), optionally with ``@random`` or ``@random:SEED`` (the
        seeded random-init twin). Unknown names raise :class:`BadInputError` with
        suggestions."""
        name, random, seed = split_random(ref)
        entry = self.get(name)
        if entry is None:
            raise BadInputError(self._unknown(name))
        return entry.random_twin(seed) if random else entry

    def _unknown(self, name: str) -> str:
        names = [n for e in self.entries for n in e.names]
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(lowered[c] for c in close)}?" if close else ""
        return (
            f"unknown model {name!r}{hint} (`infogauss zoo list` shows the {len(self.entries)} "
            f"models of {self.path}; {ON_THE_FLY_HINT})"
        )


#: How to name a model that has no zoo entry (the prefixes of ``models.backends.adhoc``).
ON_THE_FLY_HINT = (
    "use hf:ID, timm:NAME, open_clip:NAME or st:ID to audit a hub or local model without a zoo "
    "entry"
)


def split_random(ref: str, *, strict: bool = True) -> tuple[str, bool, int | None]:
    """``MODEL@random[:SEED]`` -> ``(MODEL, True, SEED or None)``; ``MODEL`` -> ``(MODEL, False,
    None)``. ``strict``: any other ``@`` suffix is an error; else it stays in the name (a local
    path may hold ``@``)."""
    text = ref.strip()
    name, sep, suffix = text.rpartition("@")
    if not sep:
        return text, False, None
    kind, _, seed_text = suffix.partition(":")
    if kind.lower() != RANDOM_SUFFIX and not strict:
        return text, False, None
    if kind.lower() != RANDOM_SUFFIX or (seed_text and not seed_text.isdigit()):
        raise BadInputError(
            f"{ref!r}: unknown suffix '@{suffix}'; use MODEL@random or MODEL@random:SEED"
        )
    seed = int(seed_text) if seed_text else None
    if seed is not None and seed > MAX_SEED:
        raise BadInputError(
            f"{ref!r}: the @random seed must be between 0 and {MAX_SEED} (2^32-1), got {seed_text}"
        )
    return name, True, seed


def with_revision(entries: list[ZooEntry], revision: str | None) -> list[ZooEntry]:
    """``entries`` with ``--revision`` applied (it overrides the entry's ``source.revision``).
    Refused with several models (one revision cannot pin several repos: put ``revision:`` in
    each zoo entry) and with local weights (nothing is fetched from the hub)."""
    if revision is None:
        return list(entries)
    try:
        revision = check_revision(revision.strip())
    except ValueError as exc:
        raise BadInputError(f"--revision: {exc}") from None
    if len(entries) != 1:
        names = ", ".join(e.ref for e in entries)
        raise BadInputError(
            f"--revision pins one hub model, got {len(entries)} ({names}); put `revision:` in "
            "each zoo entry's source instead (docs/zoo.md)"
        )
    entry = entries[0]
    if weights_location(entry).kind in ("local", "package"):
        raise BadInputError(
            f"--revision pins hub weights, but {entry.ref} loads local weights "
            f"({entry.source.weights}); drop --revision or the entry's weights"
        )
    source = entry.source.model_copy(update={"revision": revision})
    return [entry.model_copy(update={"source": source})]


def default_zoo_path() -> Path:
    """The zoo shipped inside the package."""
    from importlib.resources import files

    return Path(str(files("infogauss_cli") / "model_zoo.yaml"))


def find_zoo(path: str | os.PathLike[str] | None = None) -> Path:
    """Explicit path, else ``$INFOGAUSS_ZOO``, else the packaged zoo."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return default_zoo_path()


def load_zoo(path: str | os.PathLike[str] | None = None) -> Zoo:
    """Read and validate a zoo file (see :func:`find_zoo` for which one)."""
    import yaml

    zoo_path = find_zoo(path)
    if not zoo_path.is_file():
        where = f" (from ${ENV_VAR})" if path is None and os.environ.get(ENV_VAR) else ""
        raise BadInputError(f"zoo file {zoo_path}{where} not found")
    try:
        text = zoo_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"cannot read zoo file {zoo_path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line, byte = exc.object[: exc.start].count(b"\n") + 1, exc.object[exc.start]
        raise BadInputError(
            f"zoo file {zoo_path} line {line}: not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInputError(f"zoo file {zoo_path}{where}: not valid YAML ({problem})") from None
    return parse_zoo(data, base_dir=zoo_path.resolve().parent, origin=str(zoo_path))


def parse_zoo(
    data: Any, *, base_dir: str | os.PathLike[str] | None = None, origin: str = "data"
) -> Zoo:
    """Validate already-parsed zoo data (a dict with ``schema_version`` and ``models``)."""
    if not isinstance(data, dict):
        raise BadInputError(
            f"{origin}: expected a mapping with 'schema_version: {SCHEMA_VERSION}' and 'models: "
            f"[...]', got {type(data).__name__}"
        )
    try:
        parsed = _schemas()[1].model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = _error_lines(exc, data, base_dir)
        lines += _duplicates_raw(data.get("models"))
        raise BadInputError(format_errors(origin, lines)) from None
    problems = _duplicates(parsed.models)
    if problems:
        raise BadInputError(format_errors(origin, problems))
    return Zoo(entries=tuple(parsed.models), path=origin)


def format_errors(origin: str, lines: list[str]) -> str:
    head = f"invalid zoo {origin}: {len(lines)} error{'s' if len(lines) != 1 else ''}"
    return "\n".join([head, *(f"  {line}" for line in lines)])


def _loc(loc: tuple[Any, ...]) -> str:
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
    """A ``source:`` of an unknown backend: only the common keys are checked."""

    model_config = ConfigDict(extra="allow", frozen=True)


class _AnyEntry(ZooEntry):
    """An entry whose backend is unknown or missing: every other field is still checked."""

    backend: str = ""
    source: _AnySource


def _untagged_errors(item: Any, loc: tuple[Any, ...], base_dir: Any) -> list[str]:
    """The errors of an entry besides its bad ``backend`` (which hides them in the union)."""
    if not isinstance(item, dict):
        return []
    try:
        _AnyEntry.model_validate(item, context={"base_dir": base_dir})
    except ValidationError as exc:
        return _error_lines(exc, prefix=loc)
    return []


def _error_lines(
    exc: ValidationError,
    data: Any = None,
    base_dir: Any = None,
    prefix: tuple[Any, ...] = (),
) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc, kind, msg = (*prefix, *err["loc"]), err["type"], err["msg"]
        extra = (
            _untagged_errors(_at(data, loc), loc, base_dir) if kind.startswith("union_tag") else []
        )
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


def _at(data: Any, loc: tuple[Any, ...]) -> Any:
    """The item of raw ``data`` at a pydantic location, or None."""
    for key in loc:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _duplicates_raw(models: Any) -> list[str]:
    """Duplicate ids/aliases among the raw entries (reported alongside schema errors)."""
    if not isinstance(models, list):
        return []
    seen: dict[str, str] = {}
    problems = []
    for i, item in enumerate(models):
        if not isinstance(item, dict):
            continue
        aliases = item.get("aliases") if isinstance(item.get("aliases"), list) else []
        for j, name in enumerate([item.get("id"), *aliases]):
            if not isinstance(name, str):
                continue
            field = f"models[{i}].id" if j == 0 else f"models[{i}].aliases[{j - 1}]"
            if name.lower() in seen:
                problems.append(f"{field}: {name!r} is already used by {seen[name.lower()]}")
            else:
                seen[name.lower()] = field
    return problems


def _duplicates(entries: list[ZooEntry]) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    for i, entry in enumerate(entries):
        for j, name in enumerate(entry.names):
            field = f"models[{i}].id" if j == 0 else f"models[{i}].aliases[{j - 1}]"
            key = name.lower()
            if key in seen:
                problems.append(f"{field}: {name!r} is already used by {seen[key]}")
            else:
                seen[key] = field
    return problems
