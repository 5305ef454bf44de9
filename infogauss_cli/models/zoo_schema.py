"""The zoo's schema: every entry's fields and the ``source:`` block each backend extends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from infogauss_cli.core.errors import BadInputError

SCHEMA_VERSION = 1
PKG_PREFIX = "pkg:"
RANDOM_SUFFIX = "random"
MAX_SEED = 2**32 - 1  # seeds of numpy and torch generators alike
ON_THE_FLY = "on_the_fly"  # validation context key of entries made from a prefixed id
ON_THE_FLY_PREFIXES = {"hf": "transformers", "timm": "timm", "open_clip": "open_clip"}
ON_THE_FLY_PREFIXES["st"] = "sentence-transformers"


def on_the_fly_prefix(ref: str) -> str | None:
    """The prefix of ``hf:ID``, ``timm:NAME``, ``open_clip:NAME`` or ``st:ID``, else None."""
    prefix, sep, _ = ref.strip().partition(":")
    return prefix if sep and prefix in ON_THE_FLY_PREFIXES else None


def split_random(ref: str, *, strict: bool = True) -> tuple[str, bool, int | None]:
    """``MODEL@random[:SEED]`` -> ``(MODEL, True, SEED or None)``; ``strict``: any other ``@``
    suffix is an error, else it stays in the name."""
    text = ref.strip()
    name, sep, suffix = text.rpartition("@")
    kind, _, seed = suffix.partition(":")
    random = kind.lower() == RANDOM_SUFFIX
    if not sep or not (random or strict):
        return text, False, None
    if not random or (seed and not seed.isdigit()):
        raise BadInputError(f"{ref!r}: unknown suffix '@{suffix}' (use MODEL@random[:SEED])")
    if seed and int(seed) > MAX_SEED:
        raise BadInputError(
            f"{ref!r}: the @random seed must be between 0 and {MAX_SEED} (2^32-1), got {seed}"
        )
    return name, True, int(seed) if seed else None


Objective = Literal["infonce", "sigmoid", "supervised", "self-distillation", "mae", "other"]
OBJECTIVES: tuple[str, ...] = Objective.__args__  # type: ignore[attr-defined]
TowerName = Literal["image", "text"]
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
#: A branch, tag or commit hash, or ``refs/pr/N``: never a path (the hub cache names folders so).
_REVISION_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,254}|refs/pr/[0-9]{1,9})$")


def _check_name(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(f"{value!r}: use letters, digits and . _ + - (no spaces, no '@')")
    return value


Name = Annotated[str, AfterValidator(_check_name)]


def check_revision(value: str) -> str:
    if not _REVISION_RE.match(value) or ".." in value:
        raise ValueError(
            f"{value!r} is not a branch, tag or commit hash (letters, digits and . _ -, no "
            "'/' or '..'; or refs/pr/N)"
        )
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_weights(value: str | None, info: ValidationInfo) -> str | None:
    """Expand ``~``; a relative path is relative to the zoo file's folder."""
    if value is None:
        return None
    if not (value := value.strip()):
        raise ValueError("must not be empty (leave it out to use the hub)")
    if value.startswith(PKG_PREFIX):
        module = value[len(PKG_PREFIX) :].partition("/")[0]
        if not module or not all(part.isidentifier() for part in module.split(".")):
            raise ValueError(f"{value!r}: expected pkg:MODULE/RELATIVE/PATH")
        return value
    path, base = Path(value).expanduser(), (info.context or {}).get("base_dir")
    return str(path if base is None else Path(base) / path)  # an absolute path stays


class SourceSchema(Strict):
    name: str = Field(min_length=1)
    weights: str | None = None
    """A local file or folder, or ``pkg:MODULE/PATH``; unset: the hub weights of ``name``."""
    hub_fallback: bool = False
    revision: Annotated[str, AfterValidator(check_revision)] | None = None

    _check_weights = field_validator("weights")(_resolve_weights)


class ZooEntry(Strict):
    """One registered model; each backend has its subclass (``validation.entry_class``)."""

    allowed_towers: ClassVar[tuple[str, ...] | None] = None
    backend_name: ClassVar[str] = ""

    id: str
    aliases: tuple[Name, ...] = ()
    backend: str
    source: SourceSchema
    towers: tuple[TowerName, ...] = Field(min_length=1)
    objective: Objective
    embedding: str = Field(min_length=1)
    dim: int | None = Field(gt=0)
    paper_row: str | dict[TowerName, str] | None = None
    pretrained: bool = True
    init_seed: int = Field(default=0, ge=0, le=MAX_SEED)
    notes: str | None = None

    @field_validator("towers")
    @classmethod
    def _check_towers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("a tower is listed twice")
        allowed = cls.allowed_towers
        if allowed is not None and not set(v) <= set(allowed):
            count = "one tower" if len(allowed) == 1 else "towers"
            towers = ", ".join(allowed)
            raise ValueError(f"{cls.backend_name} models have {count}: use towers: [{towers}]")
        return v

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str, info: ValidationInfo) -> str:
        if (info.context or {}).get(ON_THE_FLY):  # the prefixed ref itself, e.g. hf:org/name
            if not v.strip() or not v.isprintable():
                raise ValueError(f"{v!r}: expected a printable model reference")
            return v
        return _check_name(v)

    @field_validator("dim")
    @classmethod
    def _check_dim(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is None and not (info.context or {}).get(ON_THE_FLY):
            raise ValueError("must be the embedding size (a positive integer)")
        return v

    @property
    def ref(self) -> str:
        seed = f":{self.init_seed}" if self.init_seed else ""
        return self.id if self.pretrained else f"{self.id}@{RANDOM_SUFFIX}{seed}"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    def random_twin(self, seed: int | None = None) -> ZooEntry:
        return self.model_copy(
            update={"pretrained": False, "init_seed": self.init_seed if seed is None else seed}
        )
