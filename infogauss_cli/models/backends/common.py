"""What every backend shares: the image prepare, seeded init, the fingerprint and the checks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.digest import path_identity
from infogauss_cli.models.registry import Batch
from infogauss_cli.models.weights import weights_file, weights_location
from infogauss_cli.models.zoo_schema import ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import torch
    from PIL.Image import Image
    from transformers import PreTrainedTokenizerBase


class ImagePrepare:
    """RGB PIL image -> tensor through a (picklable) transform."""

    def __init__(self, transform: Callable[[Image], torch.Tensor]) -> None:
        self.transform = transform

    def __call__(self, image: Image) -> torch.Tensor:
        if getattr(image, "mode", "RGB") != "RGB":
            image = image.convert("RGB")
        return self.transform(image)


class TextCollate:
    """Texts -> input_ids / attention_mask (/ token_type_ids) with a Hugging Face tokenizer;
    ``lower``: sentence-transformers' cleaning (strip, and lowercase when True)."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
        padding: bool | str = True,
        lower: bool | None = None,
    ) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length
        self.padding, self.lower = padding, lower

    def _tokens(self, texts: list[str], **kw: object) -> dict:
        if self.lower is not None:
            texts = [t.strip().lower() if self.lower else t.strip() for t in texts]
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length, **kw)

    def __call__(self, texts: list[str]) -> Batch:
        return dict(self._tokens(texts, padding=self.padding, return_tensors="pt"))

    def token_lengths(self, texts: list[str]) -> list[int] | None:
        """Tokens per text after truncation (the bucketing key); None with fixed padding."""
        if self.padding == "max_length":
            return None
        return [len(x) for x in self._tokens(texts)["input_ids"]]


class BpeCollate:
    """Texts -> ``input_ids`` (+ ``attention_mask`` when ``mask``) with an open_clip tokenizer."""

    def __init__(self, tokenizer: Callable[[list[str]], torch.Tensor], mask: bool = False) -> None:
        self.tokenizer, self.mask = tokenizer, mask

    def __call__(self, texts: list[str]) -> Batch:
        ids = self.tokenizer(list(texts))
        return (
            {"input_ids": ids, "attention_mask": (ids != 0).long()}
            if self.mask
            else {"input_ids": ids}
        )

    def token_lengths(self, texts: list[str]) -> None:  # padded to the context length
        return None


def stack_images(items: list[torch.Tensor]) -> Batch:
    import torch

    return {"pixel_values": torch.stack(list(items))}


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Deterministic random init that leaves the caller's global RNG state untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No transformers "Loading weights" bar: the files are local, it is noise."""
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def finish(module: torch.nn.Module) -> torch.nn.Module:
    """The contract's state: float32, on CPU, eval mode."""
    return module.float().cpu().eval()


def check_dim(entry: ZooEntry, tower: str, actual: int) -> None:
    """The built tower gives ``entry.dim``-d embeddings (entries made on the fly: any)."""
    if entry.dim is not None and int(actual) != entry.dim:
        raise BadInputError(
            f"{entry.ref}: the zoo entry says dim {entry.dim} but the {tower} tower of "
            f"{entry.source.name} gives {int(actual)}-d embeddings; fix `dim` in the zoo entry"
        )


def check_vocab(model: str, tokenizer_name: str, size: int | None) -> None:
    """A CLIP tokenizer without its files comes back empty (vocab 2) without raising."""
    if size is None or size < 100:
        raise RunError(
            f"cannot load {model}: the tokenizer {tokenizer_name} came back empty (vocab size "
            f"{size}); its files are missing: put them in the weights folder or fetch them once "
            "on a connected machine"
        )


def base_fingerprint(
    entry: ZooEntry, tower: str, weights: str, libraries: tuple[str, ...] = (), **extra: object
) -> dict[str, str]:
    """What changes the outputs (the cache key), with the versions of torch and ``libraries``."""
    fp = {
        "backend": entry.backend,
        "name": entry.source.name,
        "tower": tower,
        "weights": weights,
        "pretrained": str(entry.pretrained).lower(),
        "embedding": entry.embedding,
    }
    if not entry.pretrained:
        fp["init_seed"] = str(entry.init_seed)
    fp.update({k: str(v) for k, v in extra.items()})
    for name in ("torch", *libraries):
        try:
            fp[f"{name}_version"] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            fp[f"{name}_version"] = "?"
    return fp


def local_weights(entry: ZooEntry, names: tuple[str, ...]) -> tuple[Path | None, str] | None:
    """(weights file, identity) of random (no file) and local weights; None for hub weights."""
    loc = weights_location(entry)
    if loc.kind == "random":
        return None, f"random:{entry.init_seed}"
    if loc.path is None:
        return None
    file = weights_file(loc.path, names, entry.id)
    return file, path_identity(file)
