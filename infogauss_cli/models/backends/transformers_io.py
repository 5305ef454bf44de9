"""The transformers backend's picklable inputs and outputs: each pooling's forward, the text
collate, the image prepare and the per-layer outputs (``Lk`` pooled as the final embedding)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.backends import hub
from infogauss_cli.models.backends.common import ImagePrepare, check_vocab
from infogauss_cli.models.registry import Batch, Encoder, LayerSet
from infogauss_cli.models.zoo_schema import ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL.Image import Image
    from transformers import PretrainedConfig, PreTrainedTokenizerBase
    from transformers.image_processing_utils import BaseImageProcessor

AUX_PATTERNS = ("config.json", "preprocessor_config.json", "tokenizer*", "special_tokens_map.json")
AUX_PATTERNS += ("added_tokens.json", "vocab*", "merges.txt", "spiece.model", "sentencepiece*")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")
TOKENIZER_FILES += ("spiece.model",)
MAX_TEXT_TOKENS = 512


def _features(out: object) -> torch.Tensor:
    """get_*_features: a tensor, or an output object (pooler_output)."""
    import torch

    if isinstance(out, torch.Tensor):
        return out
    for name in ("pooler_output", "image_embeds", "text_embeds"):
        if (value := getattr(out, name, None)) is not None:
            return value
    raise TypeError(f"unexpected output {type(out).__name__} from get_*_features")


def forward_clip_image(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return _features(module.get_image_features(pixel_values=batch["pixel_values"]))


def forward_clip_text(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    return _features(module.get_text_features(input_ids=ids, attention_mask=mask))


def forward_mean(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return _masked_mean(module(**batch).last_hidden_state, batch["attention_mask"])


def forward_cls(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module(**batch).last_hidden_state[:, 0]


FORWARD = {
    ("image", "clip"): forward_clip_image,
    ("image", "cls"): forward_cls,
    ("text", "clip"): forward_clip_text,
    ("text", "mean"): forward_mean,
    ("text", "cls"): forward_cls,
}


class TextCollate:
    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, max_length: int, padding: bool | str = True
    ) -> None:
        self.tokenizer, self.max_length, self.padding = tokenizer, max_length, padding

    def _tokens(self, texts: list[str], **kw: object) -> dict:
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length, **kw)

    def __call__(self, texts: list[str]) -> Batch:
        return dict(self._tokens(texts, padding=self.padding, return_tensors="pt"))

    def token_lengths(self, texts: list[str]) -> list[int] | None:
        if self.padding == "max_length":
            return None
        return [len(x) for x in self._tokens(texts)["input_ids"]]


class ClipBpeCollate:
    """CLIP's BPE from open_clip: a CLIP random twin's tokenizer without tokenizer files."""

    def __init__(self, context_length: int) -> None:
        import open_clip

        self.context_length = context_length
        self.tokenizer = open_clip.get_tokenizer("ViT-L-14", context_length=context_length)

    def __call__(self, texts: list[str]) -> Batch:
        ids = self.tokenizer(list(texts), context_length=self.context_length)
        return {"input_ids": ids, "attention_mask": (ids != 0).long()}

    def token_lengths(self, texts: list[str]) -> None:
        return None


class ProcessorPrepare:
    def __init__(self, processor: BaseImageProcessor) -> None:
        self.processor = processor

    def __call__(self, image: Image) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]


def build_text_collate(
    entry: ZooEntry, folder: Path | None, config: PretrainedConfig
) -> tuple[TextCollate | ClipBpeCollate, str]:
    from transformers import AutoTokenizer

    src = entry.source
    config = getattr(config, "text_config", None) or config
    limit = min(int(getattr(config, "max_position_embeddings", MAX_TEXT_TOKENS)), MAX_TEXT_TOKENS)
    clip = src.pooling == "clip"
    if folder is None or not any((folder / n).is_file() for n in TOKENIZER_FILES):
        if clip and not entry.pretrained:
            length = src.max_length or limit
            return ClipBpeCollate(length), f"open_clip-bpe:{length}"
        required = ("tokenizer.json|tokenizer_config.json|vocab.txt|vocab.json",)
        what = f"the tokenizer files of {src.name} from the Hugging Face hub"
        files = hub.Files(AUX_PATTERNS, required, what)
        folder = hub.hub_snapshot(entry.ref, src.name, files)
    with hub.translate_hub_errors(entry.ref, f"the tokenizer of {src.name}"):
        tokenizer = AutoTokenizer.from_pretrained(folder)
    check_vocab(entry.ref, src.name, len(tokenizer))
    model_max = getattr(tokenizer, "model_max_length", None) or limit
    length = src.max_length or min(int(model_max), limit)
    # CLIP: fixed length, so a caption's embedding never depends on its batch mates
    padding: bool | str = "max_length" if clip else True
    ident = f"{type(tokenizer).__name__}:{len(tokenizer)}:{length}:{padding}"
    return TextCollate(tokenizer, length, padding), ident


def build_image_prepare(
    entry: ZooEntry, folder: Path | None, config: PretrainedConfig
) -> tuple[ImagePrepare, str]:
    if folder is not None and (folder / "preprocessor_config.json").is_file():
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(folder)
    else:
        size = int(getattr(getattr(config, "vision_config", None) or config, "image_size", 224))
        if config.model_type == "clip":
            from transformers import CLIPImageProcessor

            processor = CLIPImageProcessor(
                size={"shortest_edge": size}, crop_size={"height": size, "width": size}
            )
        elif config.model_type in ("vit", "dino", "deit"):
            from transformers import ViTImageProcessor

            processor = ViTImageProcessor(size={"height": size, "width": size})
        else:
            raise BadInputError(
                f"{entry.ref}: no preprocessor_config.json for {entry.source.name}; put one in the "
                "weights folder"
            )
    return ImagePrepare(ProcessorPrepare(processor)), processor.to_json_string()


# ---- per-layer outputs (--layers) -------------------------------------------------------------
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


def _eos_index(text_model: torch.nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    import torch

    eos = getattr(text_model, "eos_token_id", None)
    if eos is None or eos == 2:  # legacy configs: the highest token id is end-of-text
        return input_ids.to(dtype=torch.int).argmax(dim=-1)
    return (input_ids == eos).int().argmax(dim=-1)


def layers_clip_text(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    import torch

    text = module.text_model
    ids = batch["input_ids"]
    out = text(input_ids=ids, attention_mask=batch.get("attention_mask"), output_hidden_states=True)
    idx = _eos_index(text, ids)
    rows = torch.arange(ids.shape[0], device=ids.device)
    return [module.text_projection(text.final_layer_norm(h)[rows, idx]) for h in out.hidden_states]


POOLING = {
    "mean": (layers_mean, "masked mean over real tokens of hidden state k"),
    "cls": (layers_cls, "token 0 of hidden state k"),
    "clip": (None, "the CLIP head (final norm, pooled token, projection) on hidden state k"),
}


def attach_layers(encoder: Encoder, pooling: str, tower: str, n_blocks: int) -> Encoder:
    forward, how = POOLING[pooling]
    if forward is None:
        forward = layers_clip_image if tower == "image" else layers_clip_text
    layers = LayerSet(
        names=tuple(f"L{k}" for k in range(n_blocks + 1)),
        forward=forward,
        dims=(encoder.dim,) * (n_blocks + 1),
        pooling=how,
    )
    return dataclasses.replace(encoder, layers=layers)
