"""Models without a zoo entry: ``hf:ID``, ``timm:NAME``, ``open_clip:NAME[:PRETRAINED]``,
``st:ID`` (``ID``: a hub id, or a local folder or file).

:func:`on_the_fly_entry` makes the zoo entry such a reference stands for, validated by the same
schema as a zoo file's entries (context ``on_the_fly``: the id is the reference itself, ``dim``
comes from the built model). ``@random`` / ``@random:SEED`` ask for the seeded random-init twin,
as for zoo entries. :func:`resolve_models` resolves what a command was given: prefixed
references here, anything else in the zoo. No heavy import: ``hf:`` reads the model's
``config.json`` as JSON (from the folder, the hub cache, or a download that fails fast offline)
to choose its towers and pooling.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Compute
from infogauss_cli.models import zoo
from infogauss_cli.models.backends import hub
from infogauss_cli.models.zoo import (
    ON_THE_FLY_PREFIXES,
    ZooEntry,
    on_the_fly_prefix,
    parse_entry,
    split_random,
    with_revision,
)

DEFAULT_OBJECTIVE = "other"
TIMM_EMBEDDING = "pooled pre-logits features (timm forward_head, pre_logits=True)"
OPEN_CLIP_EMBEDDING = "encode_image / encode_text: projected, before L2 normalisation"
ST_EMBEDDING = "the model's own modules (its pooling), before its Normalize"
HF_EMBEDDINGS = {
    "clip": "get_image_features / get_text_features (projected)",
    "cls": "last_hidden_state[:, 0] (CLS token)",
    "mean": "masked mean of the last hidden states",
}


def is_on_the_fly(ref: str) -> bool:
    """``ref`` names a model without a zoo entry (``hf:``, ``timm:``, ``open_clip:``, ``st:``)."""
    return on_the_fly_prefix(ref) is not None


def resolve_models(
    refs: Sequence[str],
    *,
    zoo_path: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    objective: str | None = None,
) -> list[ZooEntry]:
    """The entries ``refs`` name: prefixed references made on the fly (``objective``, default
    ``other``), the others from the zoo file ``zoo_path``; ``revision`` as ``--revision``."""
    flags = [is_on_the_fly(r) for r in refs]
    if objective is not None and not any(flags):
        raise BadInputError(
            f"--objective {objective}: only for models named hf:ID, timm:NAME, open_clip:NAME "
            "or st:ID; a zoo entry records its own objective (edit it in your zoo file)"
        )
    registry = None if all(flags) else zoo.load_zoo(zoo_path)  # looked up late: tests stand in
    entries = [
        on_the_fly_entry(r, objective) if flag else registry.resolve(r)  # type: ignore[union-attr]
        for r, flag in zip(refs, flags, strict=True)
    ]
    return with_revision(entries, revision)


def on_the_fly_entry(ref: str, objective: str | None = None) -> ZooEntry:
    """The zoo entry of a prefixed reference (see the module docstring)."""
    prefix = on_the_fly_prefix(ref)
    if prefix is None:
        raise BadInputError(
            f"{ref!r}: expected {', '.join(p + ':...' for p in ON_THE_FLY_PREFIXES)}"
        )
    text, random, seed = split_random(ref, strict=False)
    rest = text.partition(":")[2].strip()
    if not rest:
        raise BadInputError(f"{ref!r}: name a model after '{prefix}:'")
    fields = _FIELDS[prefix](rest, ref, not random)
    data = {
        "id": text,
        "backend": ON_THE_FLY_PREFIXES[prefix],
        "objective": objective or DEFAULT_OBJECTIVE,
        "dim": None,
        "notes": "made on the fly from a prefixed id (no zoo entry)",
        **fields,
    }
    entry = parse_entry(data, on_the_fly=True, origin=repr(ref))
    return entry.random_twin(seed) if random else entry


def zoo_file_id(entry: ZooEntry) -> str:
    """An id a zoo file accepts for an entry made on the fly (``hf:org/m`` -> ``m``)."""
    last = re.split(r"[/\\:]", entry.id.rstrip("/\\"))[-1]
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", last).strip("-._+") or "model"


# ---- per backend: the entry's source, towers and embedding --------------------------------------
def _local(text: str) -> Path | None:
    """``text`` as a local path if it is one (it exists, or is written as a path)."""
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    if text.startswith(("/", "./", "../", "~", ".\\")):
        raise BadInputError(f"{text}: no such file or folder")
    return None


def _label(path: Path) -> str:
    """A readable source name of a local folder: its last two parts (``pkg/model``)."""
    return "/".join(path.parts[-2:]) or str(path)


def _timm(rest: str, ref: str, pretrained: bool) -> dict[str, Any]:
    path = _local(rest)
    source: dict[str, Any] = {"name": rest}
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
    return {"source": source, "towers": ["image"], "embedding": TIMM_EMBEDDING}


def _open_clip(rest: str, ref: str, pretrained: bool) -> dict[str, Any]:
    name, _, tag = (part.strip() for part in rest.partition(":"))
    source: dict[str, Any] = {"name": name}
    if tag:
        path = _local(tag)
        source.update({"weights": str(path)} if path is not None else {"pretrained": tag})
    elif pretrained:
        raise BadInputError(
            f"{ref}: say which weights: open_clip:{name}:PRETRAINED (a tag of "
            "open_clip.list_pretrained(), or a local weights file), or "
            f"open_clip:{name}@random for random ones"
        )
    return {"source": source, "towers": ["image", "text"], "embedding": OPEN_CLIP_EMBEDDING}


def _st(rest: str, ref: str, pretrained: bool) -> dict[str, Any]:
    path = _local(rest)
    source: dict[str, Any] = {"name": rest, "normalize": False}
    if path is not None:
        source.update(name=_label(path), weights=str(path))
    return {"source": source, "towers": ["text"], "embedding": ST_EMBEDDING}


def _hf(rest: str, ref: str, pretrained: bool) -> dict[str, Any]:
    path = _local(rest)
    if path is not None:
        source: dict[str, Any] = {"name": _label(path), "weights": str(path)}
        config = _read_config(path)
    else:
        source = {"name": rest}
        config = _read_config(hub.hub_file(ref, rest, ["config.json"]))  # fails fast offline
    towers, pooling = hf_layout(config)
    source["pooling"] = pooling
    return {"source": source, "towers": towers, "embedding": HF_EMBEDDINGS[pooling]}


def hf_layout(config: dict[str, Any]) -> tuple[list[str], str]:
    """(towers, pooling) of a transformers model from its config.json: CLIP (both towers,
    projected features), a vision model (image, CLS token), else a text encoder (mean
    pooling)."""
    if config.get("model_type") == "clip":
        return ["image", "text"], "clip"
    vision = "num_channels" in config and "vocab_size" not in config
    return (["image"], "cls") if vision else (["text"], "mean")


def _read_config(path: Path) -> dict[str, Any]:
    """The JSON of ``path`` (or ``path/config.json``); {} when there is none."""
    file = path / "config.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_FIELDS = {"hf": _hf, "timm": _timm, "open_clip": _open_clip, "st": _st}


def resolve_refs(refs: Sequence[str], compute: Compute) -> list[Any]:
    """The entries ``refs`` name: zoo ids in ``compute.zoo``, ``hf:``/``timm:``/``open_clip:``/
    ``st:`` references made on the fly with ``compute.objective``; its revision applied."""
    return resolve_models(
        list(refs), zoo_path=compute.zoo, revision=compute.revision, objective=compute.objective
    )
