"""``infogauss track RUN_DIR``: a folder of sentence-transformers or Hugging Face checkpoints.

A training run's output folder (``SentenceTransformerTrainer`` / ``Trainer``: ``checkpoint-500/``,
``checkpoint-1000/``, ...) needs no zoo entry: each subfolder holding ``modules.json`` is a
sentence-transformers model (its own modules; the final Normalize left out, so the norm CV is
measured on what it normalises), each other subfolder holding ``config.json`` a transformers
model (pooling from its type: ``clip`` for CLIP, ``cls`` for ViT/DINO/DeiT image models, else the
masked ``mean`` of a text encoder). Steps are parsed from the subfolder names (the number after
``checkpoint``/``step``/..., else the last number) unless given explicitly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import BadInputError

IMAGE_TYPES = ("vit", "dino", "deit", "dinov2", "beit")


def checkpoint_dirs(folder: str | Path) -> list[Path]:
    """The subfolders of ``folder`` that hold a sentence-transformers or transformers model."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and ((p / "modules.json").is_file() or (p / "config.json").is_file())
    )


def is_checkpoint_folder(path: str | Path) -> bool:
    return bool(checkpoint_dirs(path))


def _slug(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-.") or "run"
    return out if out[0].isalnum() else f"run{out}"


def _hf_entry(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{folder}/config.json: cannot read it ({exc})") from None
    kind = str(config.get("model_type", ""))
    if kind == "clip":
        pooling, towers, dim = "clip", ["image", "text"], config.get("projection_dim")
    elif kind in IMAGE_TYPES:
        pooling, towers, dim = "cls", ["image"], config.get("hidden_size")
    else:
        pooling, towers, dim = "mean", ["text"], config.get("hidden_size")
    if not dim:
        raise BadInputError(f"{folder}/config.json: no hidden_size/projection_dim to read")
    source = {"name": folder.name, "weights": str(folder.resolve()), "pooling": pooling}
    return {"backend": "transformers", "source": source, "towers": towers, "dim": int(dim)}


def _st_entry(folder: Path) -> dict[str, Any]:
    source = {"name": folder.name, "weights": str(folder.resolve()), "normalize": False}
    config = folder / "config.json"
    dim = None
    if config.is_file():
        try:
            dim = json.loads(config.read_text(encoding="utf-8")).get("hidden_size")
        except (OSError, ValueError):
            dim = None
    for dense in sorted(folder.glob("*_Dense/config.json")):  # a Dense module sets the width
        dim = json.loads(dense.read_text(encoding="utf-8")).get("out_features", dim)
    if not dim:
        raise BadInputError(f"{folder}: cannot tell the embedding width (no config.json)")
    return {"backend": "sentence-transformers", "source": source, "towers": ["text"], "dim": dim}


def folder_checkpoints(
    folder: str | Path, steps: Sequence[int] | None = None
) -> list[tuple[int, Any, str]]:
    """``(step, entry, label)`` in step order for the checkpoints in ``folder``."""
    from .track import order_by_step
    from .zoo import parse_entry

    dirs = checkpoint_dirs(folder)
    if not dirs:
        raise BadInputError(
            f"{folder}: no checkpoint subfolders (with modules.json or config.json) in it"
        )
    run = _slug(Path(folder).resolve().name)
    entries = []
    for d in dirs:
        spec = _st_entry(d) if (d / "modules.json").is_file() else _hf_entry(d)
        spec |= {"id": run, "objective": "other", "embedding": f"{spec['backend']} checkpoint"}
        entries.append(parse_entry(spec))
    order = order_by_step([d.name for d in dirs], steps)
    return [(step, entries[i], f"{run} @ {dirs[i].name}") for step, i in order]


def read_files(target: str | Path) -> list[Path]:
    """The files ``track`` reads from ``target``: the file itself, or under a folder the
    synthetic checkpoints (``epoch-*``) and every file of its checkpoint subfolders."""
    root = Path(target).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("epoch-*.*") if p.suffix in (".json", ".safetensors")]
    for folder in [root, *checkpoint_dirs(root)]:
        if folder == root and not (root / "config.json").is_file():
            continue
        found += [p for p in folder.rglob("*") if p.is_file()]
    return found
