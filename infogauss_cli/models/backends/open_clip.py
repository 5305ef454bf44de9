"""open_clip backend: ``encode_image`` / ``encode_text`` (projected, unnormalised). The
pretrained tag's preprocessing also serves local weights and random twins; the tokenizer is
open_clip's BPE (offline) or a Hugging Face tokenizer fetched through :mod:`.hub` (SigLIP)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.backends import hub
from infogauss_cli.models.backends.common import (
    base_fingerprint,
    check_dim,
    check_vocab,
    finish,
    image_steps,
    library_versions,
    make_encoder,
    seeded,
)
from infogauss_cli.models.backends.layers import attach_open_clip
from infogauss_cli.models.digest import path_identity
from infogauss_cli.models.registry import BackendSpec, Batch, Encoder, prepare_text
from infogauss_cli.models.schema import SourceSchema, ZooEntry
from infogauss_cli.models.weights import (
    WeightsStatus,
    local_path,
    weights_file,
    weights_location,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

HUB_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
TOKENIZER_PATTERNS = (
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "spiece.model",
    "sentencepiece*",
    "vocab*",
    "merges.txt",
)
TOKENIZER_REQUIRED = "tokenizer.json|tokenizer_config.json|spiece.model"
REQUIRED = (TOKENIZER_REQUIRED,)
Tokenizer = Callable[[list[str]], "torch.Tensor"]


class OpenClipSource(SourceSchema):
    """``name``: an open_clip architecture; ``pretrained``: its weights tag (``openai``)."""

    pretrained: str | None = None
    hub: str | None = None
    """The tag's ``hf_hub`` in open_clip's registry (``REPO/`` or ``REPO/FILE``): a missing hub
    weight then fails before torch is imported."""


def forward_image(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module.encode_image(batch["pixel_values"])


def forward_text(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module.encode_text(batch["input_ids"])


class TextCollate:
    """Captions -> ``{"input_ids": (B, context_length)}`` with open_clip's tokenizer."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, texts: list[str]) -> Batch:
        return {"input_ids": self.tokenizer(list(texts))}

    def token_lengths(self, texts: list[str]) -> None:
        """None: padded to the context length, length buckets gain nothing."""
        return None


def _configs(entry: ZooEntry) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model config, pretrained-tag config) of the entry, checked."""
    import open_clip

    src = entry.source
    model_cfg = open_clip.get_model_config(src.name)
    if model_cfg is None:
        raise BadInputError(
            f"{entry.id}: {src.name!r} is not an open_clip model (open_clip.list_models() lists "
            "them)"
        )
    tag_cfg: dict[str, object] = {}
    if src.pretrained:
        tag_cfg = open_clip.get_pretrained_cfg(src.name, src.pretrained) or {}
        if not tag_cfg:
            tags = open_clip.list_pretrained_tags_by_model(src.name)
            raise BadInputError(
                f"{entry.id}: open_clip has no pretrained tag {src.pretrained!r} for {src.name} "
                f"(known: {', '.join(tags) or 'none'})"
            )
    _check_hub(entry, tag_cfg)
    return model_cfg, tag_cfg


def _check_hub(entry: ZooEntry, tag_cfg: dict[str, object]) -> None:
    """The entry's ``hub`` names the repo open_clip's registry gives for its tag."""
    hub_id = entry.source.hub
    if hub_id and _hub_location({"hf_hub": hub_id}) != _hub_location(tag_cfg):
        raise BadInputError(
            f"{entry.id}: source.hub {hub_id!r} is not where open_clip keeps "
            f"{entry.source.name} / {entry.source.pretrained} ({tag_cfg.get('hf_hub') or 'a URL'})"
        )


def check(entry: ZooEntry) -> None:
    _configs(entry)


def _hub_location(tag_cfg: dict[str, object]) -> tuple[str, tuple[str, ...]] | None:
    """(repo, candidate filenames) as open_clip's ``download_pretrained`` reads ``hf_hub``."""
    spec = tag_cfg.get("hf_hub")
    if not spec:
        return None
    repo, filename = os.path.split(str(spec))
    if not filename or filename == HUB_FILES[1]:
        return repo, HUB_FILES
    if filename.endswith(".bin"):
        return repo, (filename[: -len(".bin")] + ".safetensors", filename)
    return repo, (filename,)


def _checkpoint(entry: ZooEntry, tag_cfg: dict[str, object]) -> tuple[str | None, str]:
    """(value for open_clip's ``pretrained`` argument, weights identity)."""
    loc = weights_location(entry)
    if loc.kind == "random":
        return None, f"random:{entry.init_seed}"
    if loc.kind in ("local", "package"):
        assert loc.path is not None
        file = weights_file(loc.path, HUB_FILES, entry.id)
        return str(file), path_identity(file)
    src = entry.source
    if not src.pretrained:
        raise BadInputError(
            f"{entry.id}: set source.pretrained (an open_clip tag) or source.weights (a local "
            "file), or use the random twin (@random)"
        )
    location = _hub_location(tag_cfg)
    if location is not None:
        repo, names = location
        file = hub.hub_file(entry.ref, repo, names, entry.source.revision)
        return str(file), f"{hub.hub_identity(repo, file, entry.source.revision)}:{file.name}"
    url = str(tag_cfg.get("url", ""))
    reason = hub.hub_unavailable_reason(url)
    if reason is not None:
        raise hub.offline_error(entry.ref, url, reason)
    return src.pretrained, f"url:{url}"  # open_clip downloads it


def build_model(entry: ZooEntry) -> tuple[torch.nn.Module, Any, str]:
    """(model, image preprocessing, weights identity)."""
    import open_clip

    model_cfg, tag_cfg = _configs(entry)
    pretrained, identity = _checkpoint(entry, tag_cfg)
    preprocess = {
        "image_mean": tag_cfg.get("mean"),
        "image_std": tag_cfg.get("std"),
        "image_interpolation": tag_cfg.get("interpolation"),
        "image_resize_mode": tag_cfg.get("resize_mode"),
    }
    quick_gelu = bool(tag_cfg.get("quick_gelu", False)) and not model_cfg.get("quick_gelu", False)
    kwargs = {
        "pretrained": pretrained,
        "force_quick_gelu": quick_gelu,
        "pretrained_text": pretrained is not None,  # random twins: no tower weights either
        **preprocess,
    }
    with hub.translate_hub_errors(entry.ref, f"the weights of {entry.source.name}"):
        if pretrained is None:
            with seeded(entry.init_seed):
                model, _, transform = open_clip.create_model_and_transforms(
                    entry.source.name, **kwargs
                )
        else:
            model, _, transform = open_clip.create_model_and_transforms(entry.source.name, **kwargs)
    return finish(model), transform, identity


def _local_tokenizer_folder(entry: ZooEntry) -> Path | None:
    """A local weights folder that also holds the tokenizer files (a copy of the hub repo)."""
    path = local_path(entry)
    if path is None or not path.is_dir():
        return None
    if any((path / n).is_file() for n in TOKENIZER_REQUIRED.split("|")):
        return path
    return None


def build_tokenizer(entry: ZooEntry) -> tuple[Tokenizer, str]:
    """(tokenizer, its identity): CLIP's BPE, or a Hugging Face tokenizer (SigLIP) from the
    local weights folder or the hub."""
    import open_clip

    text_cfg = open_clip.get_model_config(entry.source.name).get("text_cfg", {})
    repo = text_cfg.get("hf_tokenizer_name")
    context = int(text_cfg.get("context_length", 77))
    if not repo:
        with hub.translate_hub_errors(entry.ref, f"the tokenizer of {entry.source.name}"):
            tokenizer = open_clip.get_tokenizer(entry.source.name)
        name = f"{type(tokenizer).__name__}:{context}"
        check_vocab(entry.ref, name, _vocab_size(tokenizer))
        return tokenizer, name
    folder = _local_tokenizer_folder(entry)
    if folder is not None:
        ident = f"{path_identity(folder)}:{context}"
    else:
        what = f"the tokenizer files of {repo} from the Hugging Face hub"
        folder = hub.hub_snapshot(entry.ref, repo, hub.Files(TOKENIZER_PATTERNS, REQUIRED, what))
        assert folder is not None
        ident = f"hf:{repo}@{hub.snapshot_revision(folder)}:{context}"
    with hub.translate_hub_errors(entry.ref, f"the tokenizer of {repo}"):
        tokenizer = open_clip.tokenizer.HFTokenizer(
            str(folder),
            context_length=context,
            tokenizer_mode=text_cfg.get("tokenizer_mode"),
            **text_cfg.get("tokenizer_kwargs", {}),
        )
    check_vocab(entry.ref, repo, _vocab_size(tokenizer))
    return tokenizer, ident


def _vocab_size(tokenizer: Tokenizer) -> int | None:
    inner = getattr(tokenizer, "tokenizer", None)
    if inner is not None:
        return len(inner)
    size = getattr(tokenizer, "vocab_size", None)
    if size is None and hasattr(tokenizer, "encoder"):
        size = len(tokenizer.encoder)
    return size


def _output_dim(model: torch.nn.Module, model_cfg: dict[str, object]) -> int:
    dim = model_cfg.get("embed_dim")
    return int(dim) if dim is not None else int(model.visual.output_dim)  # type: ignore[arg-type]


def build(entry: ZooEntry, tower: str) -> Encoder:
    model_cfg, _ = _configs(entry)
    if tower == "text":  # first: a missing tokenizer fails before minutes of model building
        tokenizer, tok_id = build_tokenizer(entry)
    model, transform, identity = build_model(entry)
    dim = _output_dim(model, model_cfg)
    check_dim(entry, tower, dim)
    versions = library_versions("open_clip_torch")
    if tower == "image":
        fp = base_fingerprint(entry, tower, identity, transform=repr(transform), **versions)
        enc = make_encoder(entry, "image", dim, model, image_steps(transform, forward_image), fp)
        enc.channels_last = type(getattr(model, "visual", None)).__name__ == "ModifiedResNet"
    else:
        fp = base_fingerprint(entry, tower, identity, tokenizer=tok_id, **versions)
        steps = (prepare_text, TextCollate(tokenizer), forward_text)
        enc = make_encoder(entry, "text", dim, model, steps, fp)  # type: ignore[arg-type]
    return attach_open_clip(enc, tower)


def quick_status(entry: ZooEntry) -> WeightsStatus | None:
    """The status without importing open_clip: local and random weights, or ``source.hub``;
    None when only open_clip's registry can tell."""
    if status := WeightsStatus.offline(entry):
        return status
    location = _hub_location({"hf_hub": entry.source.hub or ""})
    return hub.files_status(entry, *location) if location and entry.source.pretrained else None


def weights_status(entry: ZooEntry) -> WeightsStatus:
    status = WeightsStatus.offline(entry)
    if status is None:
        _, tag_cfg = _configs(entry)
        location = _hub_location(tag_cfg)
        if location is None:
            url = str(tag_cfg.get("url", "-"))
            status = WeightsStatus("hub", url, False, "downloaded by open_clip on first use")
        else:
            status = hub.files_status(entry, *location)
    if "text" in entry.towers:
        import open_clip

        repo = (
            open_clip.get_model_config(entry.source.name)
            .get("text_cfg", {})
            .get("hf_tokenizer_name")
        )
        if repo:
            files = hub.Files(TOKENIZER_PATTERNS, REQUIRED)
            folder = hub.hub_snapshot(entry.ref, repo, files, fetch="cache")
            note = f"text tokenizer hf://{repo}: " + ("cached" if folder else "not cached (hub)")
            status = WeightsStatus(
                status.kind,
                status.location,
                status.available and folder is not None,
                "; ".join(filter(None, [status.detail, note])),
            )
    return status


BACKEND = BackendSpec(
    "open_clip", OpenClipSource, build, check, weights_status, quick_status=quick_status
)
