"""transformers backend: Hugging Face models loaded from a local folder (``weights`` or the hub
snapshot), pooled by ``clip``, ``mean`` or ``cls``; random twins need no weights file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.backends import common, hub
from infogauss_cli.models.backends.transformers_io import (
    AUX_PATTERNS,
    FORWARD,
    attach_layers,
    build_image_prepare,
    build_text_collate,
)
from infogauss_cli.models.digest import path_identity
from infogauss_cli.models.registry import BackendSpec, Encoder, prepare_text
from infogauss_cli.models.weights import (
    WeightsStatus,
    check_checkpoint,
    local_path,
    weights_location,
)
from infogauss_cli.models.zoo_schema import SourceSchema, ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PretrainedConfig

MODEL_WEIGHTS = "model.safetensors|model.safetensors.index.json|pytorch_model.bin"
MODEL_WEIGHTS += "|pytorch_model.bin.index.json"
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json", "model-*.safetensors")
SAFETENSORS_PATTERNS = (*AUX_PATTERNS, *SAFETENSORS)
BIN_PATTERNS = (*AUX_PATTERNS, "pytorch_model.bin", "pytorch_model.bin.index.json")
BIN_PATTERNS += ("pytorch_model-*.bin",)


class TransformersSource(SourceSchema):
    pooling: Literal["clip", "mean", "cls"]
    model_type: str | None = None
    config: dict[str, object] = Field(default_factory=dict)
    max_length: int | None = Field(default=None, gt=0)


def _check_folder(entry: ZooEntry, folder: Path) -> Path:
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise BadInputError(
            f"{entry.id}: transformers weights must be a folder with config.json (as written by "
            f"save_pretrained); {folder} is not"
        )
    for name in ("model.safetensors", "pytorch_model.bin"):  # garbage here fails deep inside
        if (folder / name).is_file():
            check_checkpoint(folder / name, entry.id)
    return folder


def _snapshot(entry: ZooEntry, files: hub.Files, fetch: hub.Fetch = "any") -> Path | None:
    name, revision = entry.source.name, entry.source.revision
    return hub.hub_snapshot(entry.ref, name, files, revision=revision, fetch=fetch)


def model_folder(entry: ZooEntry) -> tuple[Path | None, str]:
    """(folder with config/weights/tokenizer, weights identity); random twins never download."""
    loc = weights_location(entry)
    name = entry.source.name
    if loc.kind == "random":
        folder = local_path(entry)
        if folder is None or not folder.is_dir():
            folder = _snapshot(entry, hub.Files(AUX_PATTERNS, ["config.json"]), "cache")
        return folder, f"random:{entry.init_seed}"
    if loc.kind in ("local", "package"):
        assert loc.path is not None
        folder = _check_folder(entry, loc.path)
        return folder, path_identity(folder)
    what = f"the weights of {name} (config.json, model.safetensors) from the Hugging Face hub"
    complete = ["config.json", MODEL_WEIGHTS]
    folder = _snapshot(entry, hub.Files(AUX_PATTERNS, complete), "cache")
    if folder is None:  # not cached: download, safetensors first
        folder = _snapshot(entry, hub.Files(SAFETENSORS_PATTERNS, ["config.json"], what), "hub")
    assert folder is not None
    if not any((folder / n).exists() for n in MODEL_WEIGHTS.split("|")):
        folder = _snapshot(entry, hub.Files(BIN_PATTERNS, complete, what))
        assert folder is not None
    return folder, hub.hub_identity(name, folder, entry.source.revision)


def _offline_config(entry: ZooEntry) -> PretrainedConfig:
    from transformers import AutoConfig

    src = entry.source
    if not src.model_type:
        raise BadInputError(
            f"{entry.ref}: no config.json at hand for {src.name}; set source.model_type and "
            "source.config in the zoo entry to build it offline"
        )
    try:
        return AutoConfig.for_model(src.model_type, **src.config)
    except (ValueError, TypeError, KeyError) as exc:
        raise BadInputError(f"{entry.ref}: cannot build a {src.model_type} config: {exc}") from None


def check(entry: ZooEntry) -> None:
    if entry.source.model_type or entry.source.config:
        _offline_config(entry)


def build_model(entry: ZooEntry, folder: Path | None, config: PretrainedConfig) -> torch.nn.Module:
    from transformers import AutoModel

    if not entry.pretrained:
        with common.seeded(entry.init_seed):
            return common.finish(AutoModel.from_config(config))
    what = f"the weights of {entry.source.name}"
    with common.quiet_loading(), hub.translate_hub_errors(entry.ref, what):
        model, info = AutoModel.from_pretrained(folder, config=config, output_loading_info=True)
    # missing weights are initialised randomly with a warning: only the (unused) pooler may be
    missing = sorted(k for k in info.get("missing_keys", ()) if k.split(".")[0] != "pooler")
    mismatched = sorted(str(k) for k in info.get("mismatched_keys", ()))
    if missing or mismatched:
        raise RunError(
            f"cannot load {entry.ref}: the weights in {folder} do not fit its config "
            f"({len(missing)} missing, e.g. {missing[:3]}; {len(mismatched)} of the wrong shape)"
        )
    return common.finish(model)


def build(entry: ZooEntry, tower: str) -> Encoder:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # tokenisation runs in workers
    pooling = entry.source.pooling
    if tower == "image" and pooling == "mean":
        raise BadInputError(f"{entry.ref}: pooling 'mean' is for text towers; use cls or clip")
    folder, identity = model_folder(entry)
    if folder is not None and (folder / "config.json").is_file():
        from transformers import AutoConfig

        with hub.translate_hub_errors(entry.ref, f"the config of {entry.source.name}"):
            config = AutoConfig.from_pretrained(folder)
    else:
        config = _offline_config(entry)
    # preprocessing first: a missing tokenizer fails before the model is built
    forward = FORWARD[tower, pooling]
    if tower == "image":
        prepare, proc_id = build_image_prepare(entry, folder, config)
        steps = (prepare, common.stack_images, forward)
    else:
        collate, proc_id = build_text_collate(entry, folder, config)
        steps = (prepare_text, collate, forward)
    model = build_model(entry, folder, config)
    sub = getattr(model.config, f"{'vision' if tower == 'image' else 'text'}_config", None)
    sub = sub or model.config
    dim = int(model.config.projection_dim if pooling == "clip" else sub.hidden_size)
    common.check_dim(entry, tower, dim)
    config_id = json.dumps(model.config.to_diff_dict(), sort_keys=True, default=str)
    fingerprint = common.base_fingerprint(
        entry,
        tower,
        identity,
        ("transformers",),
        pooling=pooling,
        preprocess=proc_id,
        config=config_id,
    )
    encoder = Encoder(entry.ref, tower, dim, model, *steps, fingerprint)  # type: ignore[arg-type]
    blocks = getattr(sub, "num_hidden_layers", None)
    return attach_layers(encoder, pooling, tower, int(blocks)) if blocks else encoder


def weights_status(entry: ZooEntry) -> WeightsStatus:
    if status := WeightsStatus.offline(entry):
        return status
    name = entry.source.name
    complete = ["config.json", MODEL_WEIGHTS]
    folder = _snapshot(entry, hub.Files(SAFETENSORS_PATTERNS, complete), "cache")
    if folder is None:
        folder = _snapshot(entry, hub.Files(BIN_PATTERNS, complete), "cache")
    return WeightsStatus.hub(entry, f"hf://{name}", folder)


BACKEND = BackendSpec(
    "transformers", TransformersSource, build, check, weights_status, quick_status=weights_status
)
