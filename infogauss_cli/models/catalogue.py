"""The catalogue: read zoo files, resolve model references (zoo ids, ``@random`` twins, prefixed
references made on the fly) and build an :class:`Encoder` from an entry."""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import yaml

from infogauss_cli.core.errors import BadInputError, InfogaussError, RunError, first_line
from infogauss_cli.core.options import Compute
from infogauss_cli.models.backends import hub
from infogauss_cli.models.registry import Encoder, backend_names, get_backend
from infogauss_cli.models.validation import ENV_VAR, Zoo, parse_entry, parse_zoo
from infogauss_cli.models.weights import WeightsStatus, weights_load_error, weights_location
from infogauss_cli.models.zoo_schema import (
    ON_THE_FLY_PREFIXES,
    ZooEntry,
    check_revision,
    on_the_fly_prefix,
    split_random,
)

HF_EMBEDDINGS = {"clip": "get_image_features / get_text_features (projected)"}
HF_EMBEDDINGS |= {"cls": "last_hidden_state[:, 0] (CLS token)"}
HF_EMBEDDINGS |= {"mean": "masked mean of the last hidden states"}


def find_zoo(path: str | os.PathLike[str] | None = None) -> Path:
    """Explicit path, else ``$INFOGAUSS_ZOO``, else the packaged zoo."""
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else Path(str(files("infogauss_cli") / "model_zoo.yaml"))


def load_zoo(path: str | os.PathLike[str] | None = None) -> Zoo:
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


def with_revision(entries: list[ZooEntry], revision: str | None) -> list[ZooEntry]:
    """``entries`` with ``--revision`` applied over ``source.revision``: one hub model only."""
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


def resolve_models(
    refs: Sequence[str],
    *,
    zoo_path: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    objective: str | None = None,
) -> list[ZooEntry]:
    """The entries ``refs`` name: prefixed references made on the fly (``objective``, default
    ``other``), the others from the zoo file ``zoo_path``; ``revision`` as ``--revision``."""
    flags = [on_the_fly_prefix(r) is not None for r in refs]
    if objective is not None and not any(flags):
        raise BadInputError(
            f"--objective {objective}: only for models named hf:ID, timm:NAME, open_clip:NAME "
            "or st:ID; a zoo entry records its own objective (edit it in your zoo file)"
        )
    registry = None if all(flags) else load_zoo(zoo_path)
    entries = [
        on_the_fly_entry(r, objective) if flag else registry.resolve(r)  # type: ignore[union-attr]
        for r, flag in zip(refs, flags, strict=True)
    ]
    return with_revision(entries, revision)


def resolve_refs(refs: Sequence[str], compute: Compute) -> list[ZooEntry]:
    return resolve_models(
        list(refs), zoo_path=compute.zoo, revision=compute.revision, objective=compute.objective
    )


def on_the_fly_entry(ref: str, objective: str | None = None) -> ZooEntry:
    """The entry of a prefixed reference (``hf:ID``, ``timm:NAME``, ...)."""
    prefix = ref.strip().partition(":")[0]
    text, random, seed = split_random(ref, strict=False)
    rest = text.partition(":")[2].strip()
    if not rest:
        raise BadInputError(f"{ref!r}: name a model after '{prefix}:'")
    data = {
        "id": text,
        "backend": ON_THE_FLY_PREFIXES[prefix],
        "objective": objective or "other",
        "dim": None,
        "notes": "made on the fly from a prefixed id (no zoo entry)",
        **_FIELDS[prefix](rest, ref, not random),
    }
    entry = parse_entry(data, on_the_fly=True, origin=repr(ref))
    return entry.random_twin(seed) if random else entry


def zoo_file_id(entry: ZooEntry) -> str:
    """An id a zoo file accepts for an entry made on the fly (``hf:org/m`` -> ``m``)."""
    last = re.split(r"[/\\:]", entry.id.rstrip("/\\"))[-1]
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", last).strip("-._+") or "model"


def _local(text: str) -> Path | None:
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    if text.startswith(("/", "./", "../", "~", ".\\")):
        raise BadInputError(f"{text}: no such file or folder")
    return None


def _timm(rest: str, ref: str, pretrained: bool) -> dict[str, object]:
    path = _local(rest)
    source: dict[str, object] = {"name": rest}
    if path is not None:
        config = _read_config(path) if path.is_dir() else {}
        arch = config.get("architecture")
        if not arch:
            raise BadInputError(
                f"{ref}: timm needs the architecture: a folder copied from a timm hub repo "
                "(config.json with `architecture`), or a zoo entry with source.weights "
                "(docs/zoo.md)"
            )
        tag = (config.get("pretrained_cfg") or {}).get("tag")
        source = {"name": f"{arch}.{tag}" if tag else str(arch), "weights": str(path)}
    embedding = "pooled pre-logits features (timm forward_head, pre_logits=True)"
    return {"source": source, "towers": ["image"], "embedding": embedding}


def _open_clip(rest: str, ref: str, pretrained: bool) -> dict[str, object]:
    name, _, tag = (part.strip() for part in rest.partition(":"))
    source: dict[str, object] = {"name": name}
    if tag:
        path = _local(tag)
        source.update({"weights": str(path)} if path is not None else {"pretrained": tag})
    elif pretrained:
        raise BadInputError(
            f"{ref}: say which weights: open_clip:{name}:PRETRAINED (a tag of "
            "open_clip.list_pretrained(), or a local weights file), or "
            f"open_clip:{name}@random for random ones"
        )
    embedding = "encode_image / encode_text: projected, before L2 normalisation"
    return {"source": source, "towers": ["image", "text"], "embedding": embedding}


def _st(rest: str, ref: str, pretrained: bool) -> dict[str, object]:
    path = _local(rest)
    source: dict[str, object] = {"name": rest, "normalize": False}
    if path is not None:
        source.update(name="/".join(path.parts[-2:]) or str(path), weights=str(path))
    embedding = "the model's own modules (its pooling), before its Normalize"
    return {"source": source, "towers": ["text"], "embedding": embedding}


def _hf(rest: str, ref: str, pretrained: bool) -> dict[str, object]:
    path = _local(rest)
    if path is not None:
        source: dict[str, object] = {"name": "/".join(path.parts[-2:]), "weights": str(path)}
        config = _read_config(path)
    else:
        source = {"name": rest}
        config = _read_config(hub.hub_file(ref, rest, ["config.json"]))  # fails fast offline
    vision = "num_channels" in config and "vocab_size" not in config
    towers, pooling = (["image"], "cls") if vision else (["text"], "mean")
    if config.get("model_type") == "clip":
        towers, pooling = ["image", "text"], "clip"
    source["pooling"] = pooling
    return {"source": source, "towers": towers, "embedding": HF_EMBEDDINGS[pooling]}


def _read_config(path: Path) -> dict:
    file = path / "config.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_FIELDS = {"hf": _hf, "timm": _timm, "open_clip": _open_clip, "st": _st}


def build_encoder(entry: ZooEntry, tower: str) -> Encoder:
    """The backend's encoder of ``tower``, its ``dim`` checked against the entry's."""
    if tower not in entry.towers:
        raise BadInputError(f"{entry.ref} has no {tower} tower (it has: {', '.join(entry.towers)})")
    backend = get_backend(entry.backend)
    try:
        encoder = backend.build(entry, tower)
    except InfogaussError:
        raise
    except (RuntimeError, OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        # the backend resolved the same location before it failed: this cannot raise now
        if (known := weights_load_error(exc, entry.ref, weights_location(entry).path)) is not None:
            raise known from None
        raise RunError(
            f"cannot load {entry.ref} ({entry.backend} {entry.source.name}): "
            f"{type(exc).__name__}: {first_line(exc, '')[:500]}"
        ) from exc
    if entry.dim is not None and encoder.dim != entry.dim:  # entries made on the fly: any
        raise BadInputError(
            f"{entry.ref}: the zoo entry says dim {entry.dim} but the {tower} tower of "
            f"{entry.source.name} gives {encoder.dim}-d embeddings; fix `dim` in the zoo entry"
        )
    return encoder


def fail_fast(entry: ZooEntry) -> None:
    """Before torch is imported: uncached hub weights with the hub out of reach are a RunError."""
    name = getattr(entry, "backend", None)
    # a stand-in entry, a backend build will name as unknown, or weights that are here
    if name not in backend_names() or WeightsStatus.offline(entry) is not None:
        return
    quick = getattr(get_backend(name), "quick_status", None)
    status = quick(entry) if quick is not None else None
    if status is None or status.available or status.kind != "hub":
        return
    if (reason := hub.hub_unavailable_reason()) is not None:
        raise hub.offline_error(entry.ref, f"the weights {status.location}", reason)


def weights_status(entry: ZooEntry) -> WeightsStatus:
    return get_backend(entry.backend).weights_status(entry)


def check_entry(entry: ZooEntry) -> None:
    """``entry``'s names and local weights path, checked without network or model."""
    get_backend(entry.backend).check(entry)
    weights_location(entry)
