"""The transformers backend's inputs and outputs: which tensor is the embedding (the forward
functions of each ``pooling``), text collate with a Hugging Face tokenizer, image prepare with
an image processor, and their builders. Module level, so DataLoader workers can pickle them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.backends import hub
from infogauss_cli.models.backends.common import ImagePrepare, check_vocab

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infogauss_cli.models.schema import ZooEntry

AUX_PATTERNS = (
    "config.json",
    "preprocessor_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab*",
    "merges.txt",
    "spiece.model",
    "sentencepiece*",
)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
)
MAX_TEXT_TOKENS = 512


# ---- forward functions (module level) ----------------------------------------------------------
def _features(out: Any) -> torch.Tensor:
    """get_*_features: a tensor (transformers 4) or an output object (5: pooler_output)."""
    import torch

    if isinstance(out, torch.Tensor):
        return out
    for name in ("pooler_output", "image_embeds", "text_embeds"):
        value = getattr(out, name, None)
        if value is not None:
            return value
    raise TypeError(f"unexpected output {type(out).__name__} from get_*_features")


def forward_clip_image(module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return _features(module.get_image_features(pixel_values=batch["pixel_values"]))


def forward_clip_text(module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return _features(
        module.get_text_features(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        )
    )


def forward_mean(module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    hidden = module(**batch).last_hidden_state.float()
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def forward_cls(module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return module(**batch).last_hidden_state[:, 0]


# ---- text collate ------------------------------------------------------------------------------
class TextCollate:
    """Captions -> input_ids / attention_mask (/ token_type_ids) with a HF tokenizer."""

    def __init__(self, tokenizer: Any, max_length: int, padding: bool | str = True) -> None:
        self.tokenizer, self.max_length, self.padding = tokenizer, max_length, padding

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(
            list(texts),
            padding=self.padding,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return dict(enc)

    def token_lengths(self, texts: list[str]) -> list[int] | None:
        """Tokens per text after truncation, without padding or tensors: the length-bucketing
        key. None with ``max_length`` padding (CLIP): every batch has the same length."""
        if self.padding == "max_length":
            return None
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [len(x) for x in ids["input_ids"]]


class HFImagePrepare:
    """RGB PIL image -> pixel tensor with a transformers image processor."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self, image: Any) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]


def text_config(config: Any) -> Any:
    return getattr(config, "text_config", None) or config


def _has_tokenizer(folder: Path | None) -> bool:
    return folder is not None and any((folder / n).is_file() for n in TOKENIZER_FILES)


def build_text_collate(entry: ZooEntry, folder: Path | None, config: Any) -> tuple[Any, str]:
    """(collate, tokenizer identity)."""
    from transformers import AutoTokenizer

    src = entry.source
    config = text_config(config)
    limit = min(int(getattr(config, "max_position_embeddings", MAX_TEXT_TOKENS)), MAX_TEXT_TOKENS)
    clip = src.pooling == "clip"
    if not _has_tokenizer(folder):
        if clip and not entry.pretrained:
            length = src.max_length or limit
            from infogauss_cli.models.backends.clip_bpe import (
                ClipBpeCollate,  # needs open_clip's vocabulary file
            )

            return ClipBpeCollate(length), f"open_clip-bpe:{length}"
        folder = hub.hub_snapshot(
            entry.ref,
            src.name,
            AUX_PATTERNS,
            required=["tokenizer.json|tokenizer_config.json|vocab.txt|vocab.json"],
            what=f"the tokenizer files of {src.name} from the Hugging Face hub",
        )
    with hub.translate_hub_errors(entry.ref, f"the tokenizer of {src.name}"):
        tokenizer = AutoTokenizer.from_pretrained(folder)
    check_vocab(entry.ref, src.name, len(tokenizer))
    model_max = getattr(tokenizer, "model_max_length", None) or limit
    length = src.max_length or min(int(model_max), limit)
    # CLIP: fixed length, so a caption's embedding never depends on its batch mates
    padding: bool | str = "max_length" if clip else True
    ident = f"{type(tokenizer).__name__}:{len(tokenizer)}:{length}:{padding}"
    return TextCollate(tokenizer, length, padding), ident


def build_image_prepare(entry: ZooEntry, folder: Path | None, config: Any) -> tuple[Any, str]:
    """(prepare, processor identity)."""
    if folder is not None and (folder / "preprocessor_config.json").is_file():
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(folder)
    else:
        vision = getattr(config, "vision_config", None) or config
        size = int(getattr(vision, "image_size", 224))
        model_type = config.model_type
        if model_type == "clip":
            from transformers import CLIPImageProcessor

            processor = CLIPImageProcessor(
                size={"shortest_edge": size}, crop_size={"height": size, "width": size}
            )
        elif model_type in ("vit", "dino", "deit"):
            from transformers import ViTImageProcessor

            processor = ViTImageProcessor(size={"height": size, "width": size})
        else:
            raise BadInputError(
                f"{entry.ref}: no preprocessor_config.json for {entry.source.name}; put one in the "
                "weights folder"
            )
    return ImagePrepare(HFImagePrepare(processor)), processor.to_json_string()
