"""CLIP's byte-pair tokenizer, offline: open_clip ships the BPE vocabulary of openai/clip-*.

Used by any backend whose CLIP text tower has no tokenizer files at hand (the transformers
backend's random twins); the only place outside :mod:`.open_clip` that needs open_clip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


class ClipBpeCollate:
    """CLIP's BPE from open_clip (same vocabulary as openai/clip-*): the offline tokenizer of a
    transformers CLIP random twin when no tokenizer files are at hand."""

    def __init__(self, context_length: int) -> None:
        import open_clip

        self.context_length = context_length
        self.tokenizer = open_clip.get_tokenizer("ViT-L-14", context_length=context_length)

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        ids = self.tokenizer(list(texts), context_length=self.context_length)
        return {"input_ids": ids, "attention_mask": (ids != 0).long()}

    def token_lengths(self, texts: list[str]) -> None:
        """None: padded to the context length, length buckets gain nothing."""
        return None
