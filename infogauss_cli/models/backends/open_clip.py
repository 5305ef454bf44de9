"""open_clip backend: ``encode_image`` / ``encode_text`` (projected, unnormalised); the tag's
preprocessing serves local weights and random twins too."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.backends import common, hub
from infogauss_cli.models.digest import path_identity
from infogauss_cli.models.registry import BackendSpec, Batch, Encoder, prepare_text
from infogauss_cli.models.weights import WeightsStatus, local_path
from infogauss_cli.models.zoo_schema import SourceSchema, ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    import torch

HUB_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class OpenClipSource(SourceSchema):
    """``name``: an open_clip architecture; ``pretrained``: its weights tag (``openai``)."""

    pretrained: str | None = None
    hub: str | None = None
    """The tag's ``hf_hub`` (``REPO/`` or ``REPO/FILE``): missing weights fail before torch."""


def forward_image(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module.encode_image(batch["pixel_values"])


def forward_text(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module.encode_text(batch["input_ids"])


def check(entry: ZooEntry) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model config, pretrained-tag config) of the entry, checked."""
    import open_clip

    src = entry.source
    model_cfg = open_clip.get_model_config(src.name)
    if model_cfg is None:
        raise BadInputError(
            f"{entry.id}: {src.name!r} is not an open_clip model (open_clip.list_models() lists "
            "them)"
        )
    tag_cfg = open_clip.get_pretrained_cfg(src.name, src.pretrained) or {} if src.pretrained else {}
    if src.pretrained and not tag_cfg:
        tags = open_clip.list_pretrained_tags_by_model(src.name)
        raise BadInputError(
            f"{entry.id}: open_clip has no pretrained tag {src.pretrained!r} for {src.name} "
            f"(known: {', '.join(tags) or 'none'})"
        )
    if src.hub and _hub_location({"hf_hub": src.hub}) != _hub_location(tag_cfg):
        raise BadInputError(
            f"{entry.id}: source.hub {src.hub!r} is not where open_clip keeps "
            f"{src.name} / {src.pretrained} ({tag_cfg.get('hf_hub') or 'a URL'})"
        )
    return model_cfg, tag_cfg


def _hub_location(tag_cfg: dict[str, object]) -> tuple[str, tuple[str, ...]] | None:
    """(repo, candidate filenames) as open_clip's ``download_pretrained`` reads ``hf_hub``."""
    if not tag_cfg.get("hf_hub"):
        return None
    repo, filename = os.path.split(str(tag_cfg["hf_hub"]))
    if not filename or filename == HUB_FILES[1]:
        return repo, HUB_FILES
    if filename.endswith(".bin"):
        return repo, (filename[: -len(".bin")] + ".safetensors", filename)
    return repo, (filename,)


def _checkpoint(entry: ZooEntry, tag_cfg: dict[str, object]) -> tuple[str | None, str]:
    """(value for open_clip's ``pretrained`` argument, weights identity)."""
    if (local := common.local_weights(entry, HUB_FILES)) is not None:
        return (str(local[0]) if local[0] else None), local[1]
    if not entry.source.pretrained:
        raise BadInputError(
            f"{entry.id}: set source.pretrained (an open_clip tag) or source.weights (a local "
            "file), or use the random twin (@random)"
        )
    if (location := _hub_location(tag_cfg)) is not None:
        file, identity = hub.hub_weights(entry, *location)
        return str(file), identity
    url = str(tag_cfg.get("url", ""))
    if (reason := hub.hub_unavailable_reason(url)) is not None:
        raise hub.offline_error(entry.ref, url, reason)
    return entry.source.pretrained, f"url:{url}"  # open_clip downloads it


def build_model(entry: ZooEntry) -> tuple[torch.nn.Module, Any, str]:
    """(model, image preprocessing, weights identity)."""
    import open_clip

    model_cfg, tag_cfg = check(entry)
    pretrained, identity = _checkpoint(entry, tag_cfg)
    kwargs = {f"image_{k}": tag_cfg.get(k) for k in ("mean", "std", "interpolation")}
    kwargs["image_resize_mode"] = tag_cfg.get("resize_mode")
    quick_gelu = bool(tag_cfg.get("quick_gelu", False)) and not model_cfg.get("quick_gelu", False)
    kwargs.update(pretrained=pretrained, force_quick_gelu=quick_gelu)
    kwargs["pretrained_text"] = pretrained is not None  # random twins: no tower weights either
    seed = common.seeded(entry.init_seed) if pretrained is None else contextlib.nullcontext()
    with hub.translate_hub_errors(entry.ref, f"the weights of {entry.source.name}"), seed:
        model, _, transform = open_clip.create_model_and_transforms(entry.source.name, **kwargs)
    return common.finish(model), transform, identity


def build_tokenizer(entry: ZooEntry) -> tuple[Callable[[list[str]], torch.Tensor], str]:
    """(tokenizer, identity): CLIP's BPE, or a Hugging Face tokenizer (SigLIP), local or hub."""
    import open_clip

    text_cfg = open_clip.get_model_config(entry.source.name).get("text_cfg", {})
    repo = text_cfg.get("hf_tokenizer_name")
    context = int(text_cfg.get("context_length", 77))
    if not repo:  # CLIP's BPE, shipped with open_clip
        tokenizer = open_clip.get_tokenizer(entry.source.name)
        return tokenizer, f"{type(tokenizer).__name__}:{context}"
    folder = local_path(entry)
    if folder is not None and any((folder / n).is_file() for n in hub.TOKENIZER_FILES.split("|")):
        ident = f"{path_identity(folder)}:{context}"
    else:
        what = f"the tokenizer files of {repo} from the Hugging Face hub"
        files = hub.Files(hub.TOKENIZER_PATTERNS, [hub.TOKENIZER_FILES], what)
        folder = hub.hub_snapshot(entry.ref, repo, files)
        ident = f"{hub.hub_identity(repo, folder)}:{context}"
    kw = {**text_cfg.get("tokenizer_kwargs", {}), "tokenizer_mode": text_cfg.get("tokenizer_mode")}
    tokenizer = open_clip.tokenizer.HFTokenizer(str(folder), context_length=context, **kw)
    common.check_vocab(entry.ref, repo, len(tokenizer.tokenizer))
    return tokenizer, ident


def build(entry: ZooEntry, tower: str) -> Encoder:
    model_cfg, _ = check(entry)
    if tower == "text":  # first: a missing tokenizer fails before minutes of model building
        tokenizer, tok_id = build_tokenizer(entry)
    model, transform, identity = build_model(entry)
    dim = int(model_cfg.get("embed_dim") or model.visual.output_dim)
    fp = common.base_fingerprint(entry, tower, identity, ("open_clip_torch",))
    if tower == "image":
        fp["transform"] = repr(transform)
        steps = (common.ImagePrepare(transform), common.stack_images, forward_image)
    else:
        fp["tokenizer"] = tok_id
        steps = (prepare_text, common.BpeCollate(tokenizer), forward_text)  # type: ignore[assignment]
    enc = Encoder(entry.ref, tower, dim, model, *steps, fp)  # type: ignore[arg-type]
    resnet = type(getattr(model, "visual", None)).__name__ == "ModifiedResNet"
    enc.channels_last = tower == "image" and resnet
    return common.attach_open_clip(enc, tower)


def quick_status(entry: ZooEntry) -> WeightsStatus | None:
    """The status of hub weights without open_clip (None: only its registry can tell)."""
    location = _hub_location({"hf_hub": entry.source.hub or ""})
    return hub.files_status(entry, *location) if location and entry.source.pretrained else None


def weights_status(entry: ZooEntry) -> WeightsStatus:
    if status := WeightsStatus.offline(entry):
        return status
    _, tag_cfg = check(entry)
    if (location := _hub_location(tag_cfg)) is not None:
        return hub.files_status(entry, *location)
    url = str(tag_cfg.get("url", "-"))
    return WeightsStatus("hub", url, False, "downloaded by open_clip on first use")


BACKEND = BackendSpec(
    "open_clip", OpenClipSource, build, check, weights_status, quick_status=quick_status
)
