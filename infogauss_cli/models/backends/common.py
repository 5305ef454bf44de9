"""What every backend shares: the image prepare, the text collates, seeded init, the fingerprint,
the checks, and the per-layer profiles (``--layers``: one Encoder per layer, one model run)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.core.options import ALL
from infogauss_cli.models.digest import path_identity
from infogauss_cli.models.registry import Batch, Encoder, LayerSet
from infogauss_cli.models.weights import weights_file, weights_location
from infogauss_cli.models.zoo_schema import ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import torch
    from PIL.Image import Image
    from transformers import PreTrainedTokenizerBase


@dataclasses.dataclass(eq=False)
class ImagePrepare:
    """RGB PIL image -> tensor through a (picklable) transform."""

    transform: Callable[[Image], torch.Tensor]

    def __call__(self, image: Image) -> torch.Tensor:
        if getattr(image, "mode", "RGB") != "RGB":
            image = image.convert("RGB")
        return self.transform(image)


@dataclasses.dataclass(eq=False)
class TextCollate:
    """Texts -> input_ids / attention_mask (/ token_type_ids) with a Hugging Face tokenizer;
    ``lower``: sentence-transformers' cleaning (strip, and lowercase when True)."""

    tokenizer: PreTrainedTokenizerBase
    max_length: int
    padding: bool | str = True
    lower: bool | None = None

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


@dataclasses.dataclass(eq=False)
class BpeCollate:
    """Texts -> ``input_ids`` (+ ``attention_mask`` when ``mask``) with an open_clip tokenizer."""

    tokenizer: Callable[[list[str]], torch.Tensor]
    mask: bool = False

    def __call__(self, texts: list[str]) -> Batch:
        batch = {"input_ids": self.tokenizer(list(texts))}
        if self.mask:
            batch["attention_mask"] = (batch["input_ids"] != 0).long()
        return batch

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


def check_vocab(model: str, tokenizer_name: str, size: int | None) -> None:
    """A CLIP tokenizer without its files comes back empty (vocab 2) without raising."""
    if size is None or size < 100:
        raise RunError(
            f"cannot load {model}: the tokenizer {tokenizer_name} came back empty (vocab size "
            f"{size}); its files are missing: put them in the weights folder or fetch them once "
            "on a connected machine"
        )


def base_fingerprint(
    entry: ZooEntry, tower: str, weights: str, libraries: tuple[str, ...] = ()
) -> dict[str, str]:
    """What changes the outputs (the cache key), with the versions of torch and ``libraries``."""
    fp = {"backend": entry.backend, "name": entry.source.name, "tower": tower, "weights": weights}
    fp |= {"pretrained": str(entry.pretrained).lower(), "embedding": entry.embedding}
    if not entry.pretrained:
        fp["init_seed"] = str(entry.init_seed)
    return fp | {f"{name}_version": version(name) for name in ("torch", *libraries)}


def local_weights(entry: ZooEntry, names: tuple[str, ...]) -> tuple[Path | None, str] | None:
    """(weights file, identity) of random (no file) and local weights; None for hub weights."""
    loc = weights_location(entry)
    if loc.kind == "random":
        return None, f"random:{entry.init_seed}"
    if loc.path is None:
        return None
    file = weights_file(loc.path, names, entry.id)
    return file, path_identity(file)


def select(spec: str | tuple[int, ...], names: Sequence[str], model: str) -> list[int]:
    """The layer indices ``spec`` picks among ``names`` (sorted, unique)."""
    count = len(names)
    if spec == ALL:
        return list(range(count))
    if bad := [i for i in spec if not -count <= i < count]:
        raise BadInputError(
            f"--layers: {model} has layers 0..{count - 1} ({names[0]}..{names[-1]}); "
            f"{bad[0]} is not one of them"
        )
    return sorted({i % count for i in spec})


def _digest(batch: Batch) -> str:
    import torch

    h = hashlib.blake2b(digest_size=16)
    for name, t in sorted(batch.items()):
        if isinstance(t, torch.Tensor):
            t = t.detach().view(torch.int16) if t.dtype == torch.bfloat16 else t.detach()
            h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


@dataclasses.dataclass(eq=False)
class LayerForward:
    """``forward`` of layer ``k``'s encoder: one model run per batch serves every pending layer
    (the others' outputs wait in ``memo``, keyed by the batch's digest); ``done()`` frees them."""

    layers: LayerSet
    pending: set[int]
    memo: dict
    k: int

    def __call__(self, module: torch.nn.Module, batch: Batch) -> torch.Tensor:
        key = _digest(batch)
        if (hit := self.memo.pop((key, self.k), None)) is not None:
            return hit
        outs = self.layers.forward(module, batch)
        for j in self.pending - {self.k}:
            self.memo[(key, j)] = outs[j].detach().clone()
        return outs[self.k]

    def done(self) -> None:
        self.pending.discard(self.k)
        for key in [key for key in self.memo if key[1] == self.k]:
            del self.memo[key]


def layer_encoders(
    encoder: Encoder, spec: str | tuple[int, ...], model: str
) -> list[tuple[int, str, Encoder]]:
    """``(index, name, encoder)`` for each layer ``spec`` selects; each ``model_id`` is
    ``"{model} {name}"``. Call ``encoder.forward.done()`` after its extraction."""
    if (layers := encoder.layers) is None:
        raise BadInputError(f"--layers: the backend of {model} gives no per-layer outputs")
    picked = select(spec, layers.names, model)
    pending, memo = set(picked), {}  # type: ignore[var-annotated]
    out = []
    for k in picked:
        name = layers.names[k]
        fp = {**encoder.fingerprint, "layer": name, "layer_pooling": layers.pooling}
        enc = dataclasses.replace(
            encoder,
            model_id=f"{model} {name}",
            dim=layers.dims[k],
            forward=LayerForward(layers, pending, memo, k),
            fingerprint=fp,
            layers=None,
        )
        out.append((k, name, enc))
    return out


def with_layers(
    encoder: Encoder, forward: Callable, dims: Sequence[int], pooling: str, first: int = 0
) -> Encoder:
    """``encoder`` with a :class:`LayerSet` of ``len(dims)`` layers named from ``L{first}``."""
    names = tuple(f"L{first + k}" for k in range(len(dims)))
    return dataclasses.replace(encoder, layers=LayerSet(names, forward, tuple(dims), pooling))


def hooked(
    modules: Sequence[torch.nn.Module],
    run: Callable[[], torch.Tensor],
    pre: torch.nn.Module | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``run()``'s result and the outputs of ``modules`` (first the input of ``pre``)."""
    captured: dict[int, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda m, a, o, i=i: captured.__setitem__(i, o))
        for i, m in enumerate(modules)
    ]
    if pre is not None:
        handles.append(pre.register_forward_pre_hook(lambda m, a: captured.__setitem__(-1, a[0])))
    try:
        result = run()
    finally:
        for h in handles:
            h.remove()
    return result, [captured[k] for k in sorted(captured)]


@dataclasses.dataclass(eq=False)
class TimmLayers:
    names: list[str]
    final: Callable
    append_final: bool

    def __call__(self, module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
        mods = [module.get_submodule(n) for n in self.names]
        final, outs = hooked(mods, lambda: self.final(module, batch))
        norm = getattr(module, "norm", None)
        pooled = []
        for h in outs:
            if h.ndim == 3 and norm is not None:  # tokens: the final norm, then the head's pool
                h = norm(h)
            pooled.append(module.forward_head(h, pre_logits=True))
        return [*pooled, final] if self.append_final else pooled


def attach_timm(encoder: Encoder) -> Encoder:
    """One layer per ``feature_info`` stage, and the final embedding when the last is not it."""
    info = getattr(encoder.module, "feature_info", None) or ()
    stages = [(str(fi["module"]), int(fi["num_chs"])) for fi in info]
    if not stages:
        return encoder
    append = stages[-1][1] != encoder.dim
    dims = tuple(c for _, c in stages) + ((encoder.dim,) if append else ())
    forward = TimmLayers([n for n, _ in stages], encoder.forward, append)
    how = "block/stage k output through the model's final norm (tokens) and forward_head("
    how += "pre_logits=True)" + ("; the last layer is the final embedding" if append else "")
    return with_layers(encoder, forward, dims, how, first=1)


def _batch_first(transformer: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
    return h if getattr(transformer, "batch_first", True) else h.transpose(0, 1)


def layers_open_clip_image(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    visual, blocks = module.visual, list(module.visual.transformer.resblocks)
    _, outs = hooked(blocks, lambda: module.encode_image(batch["pixel_values"]), blocks[0])
    pooled = [visual._pool(_batch_first(visual.transformer, h))[0] for h in outs]
    return [p @ visual.proj if visual.proj is not None else p for p in pooled]


def layers_open_clip_text(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    from open_clip.transformer import text_global_pool

    ids, blocks = batch["input_ids"], list(module.transformer.resblocks)
    _, outs = hooked(blocks, lambda: module.encode_text(ids), blocks[0])
    eos, proj = getattr(module, "text_eos_id", None), module.text_projection
    res = []
    for h in outs:
        x = module.ln_final(_batch_first(module.transformer, h))
        x = text_global_pool(x, ids, module.text_pool_type, eos_token_id=eos)
        if proj is not None:
            x = proj(x) if callable(proj) and not hasattr(proj, "shape") else x @ proj
        res.append(x)
    return res


def attach_open_clip(encoder: Encoder, tower: str) -> Encoder:
    image = tower == "image"
    owner = getattr(encoder.module, "visual", None) if image else encoder.module
    tr = getattr(owner, "transformer", None)
    if not hasattr(tr, "resblocks") or not hasattr(owner, "_pool" if image else "ln_final"):
        return encoder  # a ResNet tower, or an unknown layout
    forward = layers_open_clip_image if image else layers_open_clip_text
    how = "hidden state k through the tower's own final norm, pooling and projection"
    return with_layers(encoder, forward, (encoder.dim,) * (len(tr.resblocks) + 1), how)
