"""transformers backend: Hugging Face models from a local folder (``weights`` or the hub snapshot)
pooled by ``clip``, ``mean`` or ``cls`` (``--layers``: each hidden state pooled so)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.backends import common, hub
from infogauss_cli.models.digest import path_identity
from infogauss_cli.models.registry import BackendSpec, Batch, Encoder, prepare_text
from infogauss_cli.models.weights import (
    WeightsStatus,
    check_checkpoint,
    local_path,
    weights_location,
)
from infogauss_cli.models.zoo_schema import SourceSchema, ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL.Image import Image
    from transformers import PretrainedConfig
    from transformers.image_processing_utils import BaseImageProcessor

AUX_PATTERNS = ("config.json", "preprocessor_config.json", *hub.TOKENIZER_PATTERNS)
MAX_TEXT_TOKENS = 512


def _features(out: object) -> torch.Tensor:
    """get_*_features: a tensor, or an output whose ``pooler_output`` it is (transformers 5)."""
    import torch

    return out if isinstance(out, torch.Tensor) else out.pooler_output  # type: ignore[attr-defined]


def forward_clip_image(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return _features(module.get_image_features(pixel_values=batch["pixel_values"]))


def forward_clip_text(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    return _features(module.get_text_features(input_ids=ids, attention_mask=mask))


def forward_mean(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return _masked_mean(module(**batch).last_hidden_state, batch["attention_mask"])


def forward_cls(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module(**batch).last_hidden_state[:, 0]


@dataclasses.dataclass(eq=False)
class ProcessorPrepare:
    processor: BaseImageProcessor

    def __call__(self, image: Image) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]


def build_text_collate(
    entry: ZooEntry, folder: Path | None, config: PretrainedConfig
) -> tuple[common.TextCollate | common.BpeCollate, str]:
    from transformers import AutoTokenizer

    src = entry.source
    config = getattr(config, "text_config", None) or config
    limit = min(int(getattr(config, "max_position_embeddings", MAX_TEXT_TOKENS)), MAX_TEXT_TOKENS)
    clip = src.pooling == "clip"
    if folder is None or not any((folder / n).is_file() for n in hub.TOKENIZER_FILES.split("|")):
        if clip and not entry.pretrained:
            import open_clip

            length = src.max_length or limit
            bpe = open_clip.get_tokenizer("ViT-L-14", context_length=length)  # CLIP's vocabulary
            return common.BpeCollate(bpe, mask=True), f"open_clip-bpe:{length}"
        what = f"the tokenizer files of {src.name} from the Hugging Face hub"
        files = hub.Files(AUX_PATTERNS, [hub.TOKENIZER_FILES], what)
        folder = hub.hub_snapshot(entry.ref, src.name, files)
    tokenizer = AutoTokenizer.from_pretrained(folder)  # a local folder: no hub errors
    common.check_vocab(entry.ref, src.name, len(tokenizer))
    model_max = getattr(tokenizer, "model_max_length", None) or limit
    length = src.max_length or min(int(model_max), limit)
    # CLIP: fixed length, so a caption's embedding never depends on its batch mates
    padding: bool | str = "max_length" if clip else True
    ident = f"{type(tokenizer).__name__}:{len(tokenizer)}:{length}:{padding}"
    return common.TextCollate(tokenizer, length, padding), ident


def build_image_prepare(
    entry: ZooEntry, folder: Path | None, config: PretrainedConfig
) -> tuple[common.ImagePrepare, str]:
    if folder is not None and (folder / "preprocessor_config.json").is_file():
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(folder)
    else:  # no preprocessor_config.json: the processor of the model type
        from transformers import CLIPImageProcessor, ViTImageProcessor

        size = int(getattr(getattr(config, "vision_config", None) or config, "image_size", 224))
        square = {"height": size, "width": size}
        if config.model_type == "clip":
            processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size=square)
        elif config.model_type in ("vit", "dino", "deit"):
            processor = ViTImageProcessor(size=square)
        else:
            raise BadInputError(
                f"{entry.ref}: no preprocessor_config.json for {entry.source.name}; put one in the "
                "weights folder"
            )
    return common.ImagePrepare(ProcessorPrepare(processor)), processor.to_json_string()


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    hidden = hidden.float()
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def layers_mean(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    hs = module(**batch, output_hidden_states=True).hidden_states
    return [_masked_mean(h, batch["attention_mask"]) for h in hs]


def layers_cls(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    return [h[:, 0] for h in module(**batch, output_hidden_states=True).hidden_states]


def layers_clip_image(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    vision = module.vision_model
    hs = vision(pixel_values=batch["pixel_values"], output_hidden_states=True).hidden_states
    return [module.visual_projection(vision.post_layernorm(h[:, 0])) for h in hs]


def layers_clip_text(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    import torch

    text = module.text_model
    ids = batch["input_ids"]
    out = text(input_ids=ids, attention_mask=batch.get("attention_mask"), output_hidden_states=True)
    eos = getattr(text, "eos_token_id", None)  # where transformers' CLIP pools
    if eos is None or eos == 2:  # legacy configs: the highest token id is end-of-text
        idx = ids.to(dtype=torch.int).argmax(dim=-1)
    else:
        idx = (ids == eos).int().argmax(dim=-1)
    rows = torch.arange(ids.shape[0], device=ids.device)
    return [module.text_projection(text.final_layer_norm(h)[rows, idx]) for h in out.hidden_states]


# (tower, pooling) -> (forward, per-layer forward); how each layer is pooled
POOLING = {
    ("image", "clip"): (forward_clip_image, layers_clip_image),
    ("image", "cls"): (forward_cls, layers_cls),
    ("text", "clip"): (forward_clip_text, layers_clip_text),
    ("text", "mean"): (forward_mean, layers_mean),
    ("text", "cls"): (forward_cls, layers_cls),
}
LAYER_POOLING = {
    "mean": "masked mean over real tokens of hidden state k",
    "cls": "token 0 of hidden state k",
    "clip": "the CLIP head (final norm, pooled token, projection) on hidden state k",
}


MODEL_WEIGHTS = "model.safetensors|model.safetensors.index.json|pytorch_model.bin"
MODEL_WEIGHTS += "|pytorch_model.bin.index.json"
COMPLETE = ["config.json", MODEL_WEIGHTS]
SAFETENSORS_PATTERNS = (*AUX_PATTERNS, "model.safetensors*", "model-*.safetensors")
BIN_PATTERNS = (*AUX_PATTERNS, "pytorch_model.bin*", "pytorch_model-*.bin")


class TransformersSource(SourceSchema):
    pooling: Literal["clip", "mean", "cls"]
    model_type: str | None = None
    config: dict[str, object] = Field(default_factory=dict)
    max_length: int | None = Field(default=None, gt=0)


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
    if (folder := loc.path) is not None:  # local or package weights
        if not folder.is_dir() or not (folder / "config.json").is_file():
            raise BadInputError(
                f"{entry.id}: transformers weights must be a folder with config.json (as written "
                f"by save_pretrained); {folder} is not"
            )
        for file in ("model.safetensors", "pytorch_model.bin"):  # garbage fails deep inside
            if (folder / file).is_file():
                check_checkpoint(folder / file, entry.id)
        return folder, path_identity(folder)
    what = f"the weights of {name} (config.json, model.safetensors) from the Hugging Face hub"
    folder = _snapshot(entry, hub.Files(AUX_PATTERNS, COMPLETE), "cache")
    if folder is None:  # not cached: download, safetensors first
        folder = _snapshot(entry, hub.Files(SAFETENSORS_PATTERNS, ["config.json"], what), "hub")
    if not any((folder / n).exists() for n in MODEL_WEIGHTS.split("|")):
        folder = _snapshot(entry, hub.Files(BIN_PATTERNS, COMPLETE, what))
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
    with common.quiet_loading():  # from a local folder
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

        config = AutoConfig.from_pretrained(folder)
    else:
        config = _offline_config(entry)
    forward, layers = POOLING[tower, pooling]
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
    config_id = json.dumps(model.config.to_diff_dict(), sort_keys=True, default=str)
    fingerprint = common.base_fingerprint(entry, tower, identity, ("transformers",))
    fingerprint.update(pooling=pooling, preprocess=proc_id, config=config_id)
    encoder = Encoder(entry.ref, tower, dim, model, *steps, fingerprint)  # type: ignore[arg-type]
    blocks = int(getattr(sub, "num_hidden_layers", None) or 0)
    dims = (dim,) * (blocks + 1)  # the embeddings' output, then each block's
    return common.with_layers(encoder, layers, dims, LAYER_POOLING[pooling]) if blocks else encoder


def weights_status(entry: ZooEntry) -> WeightsStatus:
    if status := WeightsStatus.offline(entry):
        return status
    folder = _snapshot(entry, hub.Files(AUX_PATTERNS, COMPLETE), "cache")  # the cached snapshot
    return WeightsStatus.hub(entry, f"hf://{entry.source.name}", folder)


BACKEND = BackendSpec(
    "transformers", TransformersSource, build, check, weights_status, quick_status=weights_status
)
