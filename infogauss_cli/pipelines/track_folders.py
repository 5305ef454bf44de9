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

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.catalogue import parse_entry
from infogauss_cli.pipelines.synthetic.checkpoints import is_synthetic
from infogauss_cli.pipelines.track import Unreadable, order_by_step

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


SYNTHETIC = "synthetic checkpoints (epoch-*.json from `infogauss synthetic --save-checkpoints`)"
FOLDERS = "checkpoint-N/ subfolders holding modules.json or config.json (a training run's output)"


def no_checkpoints(folder: str | Path) -> str:
    """Why ``folder`` is no track target: what it lacks and what is expected."""
    msg = f"{folder}: holds no checkpoints; expected {SYNTHETIC}, or {FOLDERS}"
    if any((Path(folder) / name).is_file() for name in ("config.json", "modules.json")):
        msg += (
            "; it is itself a model folder: pass the run folder above it, or a zoo entry with "
            f"--weights {folder}"
        )
    return msg


def target_kind(target: str | Path) -> str | None:
    """``"synthetic"``, ``"folders"`` (checkpoint subfolders) or None (no local checkpoints:
    a zoo ref, or a file that is no sidecar) for one ``track`` target; a folder holding
    neither or both kinds is a BadInputError."""
    p = Path(target)
    if not p.is_dir():
        return "synthetic" if p.is_file() and is_synthetic(p) else None
    synthetic, folders = is_synthetic(p), checkpoint_dirs(p)
    if synthetic and folders:
        names = ", ".join(f.name for f in folders[:3]) + (", ..." if len(folders) > 3 else "")
        raise BadInputError(
            f"{p}: holds two kinds of checkpoints, {SYNTHETIC} and checkpoint folders "
            f"({names}); track them separately: give the synthetic runs' subfolders, and move "
            "the checkpoint folders into a run folder of their own"
        )
    if not synthetic and not folders:
        raise BadInputError(no_checkpoints(p))
    return "synthetic" if synthetic else "folders"


def targets_kind(targets: Sequence[str]) -> str | None:
    """What ``track`` was given: ``"synthetic"`` (sidecars or their folders), ``"folders"``
    (one training run's folder) or None (zoo refs); folders mixed with anything else, or
    several run folders, are a BadInputError."""
    kinds = [target_kind(t) for t in targets]
    if "folders" in kinds and len(targets) > 1:
        raise BadInputError(
            "a training run's folder of checkpoint-N/ subfolders is tracked on its own: give "
            f"one folder, not {len(targets)} targets ({', '.join(targets)})"
        )
    if "synthetic" in kinds and None in kinds:
        other = targets[kinds.index(None)]
        raise BadInputError(
            f"{other}: not a synthetic checkpoint, given with synthetic checkpoints; "
            "track synthetic checkpoints and zoo models separately"
        )
    return kinds[0] if kinds else None


def _slug(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-.") or "run"
    return out if out[0].isalnum() else f"run{out}"


def _read_config(path: Path) -> dict[str, Any]:
    """A checkpoint's JSON config as a dict; unreadable or not an object: BadInputError."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: unreadable, not a JSON config ({exc})") from None
    if not isinstance(config, dict):
        raise BadInputError(f"{path}: unreadable, a JSON {type(config).__name__}, not an object")
    return config


def _width(path: Path, value: Any) -> int:
    """The embedding width read from ``path``: a positive integer, else BadInputError."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise BadInputError(f"{path}: no embedding width in it (hidden_size/projection_dim {value!r})")


def _hf_entry(folder: Path) -> dict[str, Any]:
    config = _read_config(folder / "config.json")
    kind = str(config.get("model_type", ""))
    if kind == "clip":
        pooling, towers, key = "clip", ["image", "text"], "projection_dim"
    elif kind in IMAGE_TYPES:
        pooling, towers, key = "cls", ["image"], "hidden_size"
    else:
        pooling, towers, key = "mean", ["text"], "hidden_size"
    dim = _width(folder / "config.json", config.get(key))
    source = {"name": folder.name, "weights": str(folder.resolve()), "pooling": pooling}
    return {"backend": "transformers", "source": source, "towers": towers, "dim": dim}


def _st_entry(folder: Path) -> dict[str, Any]:
    source = {"name": folder.name, "weights": str(folder.resolve()), "normalize": False}
    where, dim = folder / "config.json", None
    if where.is_file():
        dim = _read_config(where).get("hidden_size")
    for dense in sorted(folder.glob("*_Dense/config.json")):  # a Dense module sets the width
        where, dim = dense, _read_config(dense).get("out_features", dim)
    if dim is None and not where.is_file():
        raise BadInputError(f"{folder}: cannot tell the embedding width (no config.json)")
    dim = _width(where, dim)
    return {"backend": "sentence-transformers", "source": source, "towers": ["text"], "dim": dim}


def _entry(folder: Path, run: str) -> Any:
    """The zoo entry of one checkpoint folder, or :class:`Unreadable` with the reason."""
    try:
        spec = _st_entry(folder) if (folder / "modules.json").is_file() else _hf_entry(folder)
    except BadInputError as exc:
        return Unreadable(str(exc))
    spec |= {"id": run, "objective": "other", "embedding": f"{spec['backend']} checkpoint"}
    try:
        return parse_entry(spec)
    except BadInputError as exc:
        return Unreadable(f"{folder}: {exc}")


def folder_checkpoints(
    folder: str | Path, steps: Sequence[int] | None = None
) -> list[tuple[int, Any, str]]:
    """``(step, entry, label)`` in step order for the checkpoints in ``folder``; a checkpoint
    whose config cannot be read has an :class:`Unreadable` entry (an error row of its own)."""
    dirs = checkpoint_dirs(folder)
    if not dirs:
        raise BadInputError(no_checkpoints(folder))
    run = _slug(Path(folder).resolve().name)
    entries = [_entry(d, run) for d in dirs]
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
