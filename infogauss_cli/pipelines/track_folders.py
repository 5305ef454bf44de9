"""``infogauss track RUN_DIR``: a training run's folder of checkpoints (``checkpoint-500/``, ...),
each a sentence-transformers (``modules.json``, its Normalize left out) or transformers
(``config.json``, pooled by model type) model; steps from the subfolder names unless given."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.catalogue import parse_entry
from infogauss_cli.pipelines.synthetic.checkpoints import is_synthetic
from infogauss_cli.pipelines.track import Checkpoint, order_by_step

if TYPE_CHECKING:
    from infogauss_cli.models.zoo_schema import ZooEntry

IMAGE_TYPES = ("vit", "dino", "deit", "dinov2", "beit")
SYNTHETIC = "synthetic checkpoints (epoch-*.json from `infogauss synthetic --save-checkpoints`)"
FOLDERS = "checkpoint-N/ subfolders holding modules.json or config.json (a training run's output)"
MODEL_FILES = ("modules.json", "config.json")


def checkpoint_dirs(folder: str | Path) -> list[Path]:
    subs = sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []
    return [p for p in subs if p.is_dir() and any((p / f).is_file() for f in MODEL_FILES)]


def no_checkpoints(folder: str | Path) -> str:
    msg = f"{folder}: holds no checkpoints; expected {SYNTHETIC}, or {FOLDERS}"
    if any((Path(folder) / name).is_file() for name in MODEL_FILES):
        msg += (
            "; it is itself a model folder: pass the run folder above it, or a zoo entry with "
            f"--weights {folder}"
        )
    return msg


def target_kind(target: str | Path) -> str | None:
    """``"synthetic"``, ``"folders"`` or None (a zoo ref); neither or both: BadInputError."""
    p = Path(target)
    if not p.is_dir():
        return "synthetic" if is_synthetic(p) else None
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
    """What ``track`` was given; mixed kinds are a BadInputError."""
    kinds = [target_kind(t) for t in targets]
    if "folders" in kinds and len(targets) > 1:
        raise BadInputError(
            "a training run's folder of checkpoint-N/ subfolders is tracked on its own: give "
            f"one folder, not {len(targets)} targets ({', '.join(targets)})"
        )
    if "synthetic" in kinds and None in kinds:
        raise BadInputError(
            f"{targets[kinds.index(None)]}: not a synthetic checkpoint, given with synthetic "
            "checkpoints; track synthetic checkpoints and zoo models separately"
        )
    return kinds[0] if kinds else None


def _read_config(path: Path) -> dict[str, object]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: unreadable, not a JSON config ({exc})") from None
    if not isinstance(config, dict):
        raise BadInputError(f"{path}: unreadable, a JSON {type(config).__name__}, not an object")
    return config


def _spec(folder: Path) -> dict[str, object]:
    where, source = folder / "config.json", {"name": folder.name, "weights": str(folder.resolve())}
    if (folder / "modules.json").is_file():  # sentence-transformers: a Dense module sets the width
        dim = _read_config(where).get("hidden_size") if where.is_file() else None
        for dense in sorted(folder.glob("*_Dense/config.json")):
            where, dim = dense, _read_config(dense).get("out_features", dim)
        if dim is None and not where.is_file():
            raise BadInputError(f"{folder}: cannot tell the embedding width (no config.json)")
        source["normalize"] = False
        backend, towers = "sentence-transformers", ["text"]
    else:
        config = _read_config(where)
        kind = str(config.get("model_type", ""))
        pooling = "clip" if kind == "clip" else "cls" if kind in IMAGE_TYPES else "mean"
        towers = {"clip": ["image", "text"], "cls": ["image"], "mean": ["text"]}[pooling]
        dim = config.get("projection_dim" if pooling == "clip" else "hidden_size")
        source["pooling"], backend = pooling, "transformers"
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise BadInputError(
            f"{where}: no embedding width in it (hidden_size/projection_dim {dim!r})"
        )
    return {"backend": backend, "source": source, "towers": towers, "dim": dim}


def _entry(folder: Path, run: str) -> ZooEntry | BadInputError:
    try:
        spec = _spec(folder)
    except BadInputError as exc:
        return exc
    spec |= {"id": run, "objective": "other", "embedding": f"{spec['backend']} checkpoint"}
    try:
        return parse_entry(spec)
    except BadInputError as exc:
        return BadInputError(f"{folder}: {exc}")


def folder_checkpoints(folder: str | Path, steps: Sequence[int] | None = None) -> list[Checkpoint]:
    """``(step, entry, label)`` in step order; an unreadable config gives its error as the entry."""
    dirs = checkpoint_dirs(folder)
    if not dirs:
        raise BadInputError(no_checkpoints(folder))
    run = re.sub(r"[^A-Za-z0-9._+-]+", "-", Path(folder).resolve().name).strip("-.") or "run"
    run = run if run[0].isalnum() else f"run{run}"
    entries = [_entry(d, run) for d in dirs]
    order = order_by_step([d.name for d in dirs], steps)
    return [(step, entries[i], f"{run} @ {dirs[i].name}") for step, i in order]


def read_files(target: str | Path) -> list[Path]:
    """The files ``track`` reads from ``target`` (its outputs must not overwrite them)."""
    root = Path(target).expanduser()
    if not root.is_dir():
        return [root] if root.is_file() else []
    found = [p for p in root.rglob("epoch-*.*") if p.suffix in (".json", ".safetensors")]
    own = [root] if (root / "config.json").is_file() else []
    return found + [p for d in [*own, *checkpoint_dirs(root)] for p in d.rglob("*") if p.is_file()]
