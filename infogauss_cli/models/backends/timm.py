"""timm backend: image models, pooled pre-logits features.

``timm.create_model(name, num_classes=0)`` and ``forward_head(forward_features(x),
pre_logits=True)``: global-average-pooled features for CNNs, the CLS token after the final norm
for ViTs with token pooling (DINO, MAE, AugReg; checked: equal to ``forward_features(x)[:, 0]``).
Preprocessing is timm's data config of the tagged model, with the entry's overrides.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.backend import BackendSpec
from infogauss_cli.models.backends import hub
from infogauss_cli.models.backends.base import Encoder
from infogauss_cli.models.backends.common import (
    WeightsStatus,
    base_fingerprint,
    check_dim,
    finish,
    image_encoder,
    library_versions,
    path_identity,
    seeded,
    weights_file,
)
from infogauss_cli.models.schema import SourceSchema, ZooEntry
from infogauss_cli.models.weights import weights_location

if TYPE_CHECKING:  # pragma: no cover
    import torch

HUB_FILES = ("model.safetensors", "pytorch_model.bin")


# ---- the zoo's source: block --------------------------------------------------------------
class TimmSource(SourceSchema):
    """A timm model: ``name`` is a timm name with its pretrained tag (``resnet34.tv_in1k``)."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra ``timm.create_model`` arguments (e.g. ``img_size: 224``)."""
    checkpoint_format: Literal["timm", "efficientnet_pytorch"] = "timm"
    """Key layout of a local ``weights`` file: timm's own, or lukemelas' EfficientNet-PyTorch
    (``_conv_stem``, ``_blocks.N``), remapped to timm's EfficientNet on load."""
    input_size: int | None = Field(default=None, gt=0)
    """Square input side, overriding timm's data config (ViTs: set model_kwargs.img_size too)."""
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop_pct: float | None = Field(default=None, gt=0, le=1)
    interpolation: Literal["bilinear", "bicubic", "nearest"] | None = None


def forward(module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return module.forward_head(module.forward_features(batch["pixel_values"]), pre_logits=True)


def _pretrained_cfg(entry: ZooEntry) -> Any:
    import timm

    name = entry.source.name
    if not timm.is_model(name.partition(".")[0]):
        raise BadInputError(
            f"{entry.id}: {name!r} is not a timm model (timm.list_models() lists them)"
        )
    try:
        cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=False)
    except (RuntimeError, KeyError):
        cfg = None
    if cfg is None and "." in name:
        raise BadInputError(
            f"{entry.id}: timm has no pretrained tag {name!r} (timm.list_pretrained("
            f"'{name.partition('.')[0]}*') lists them)"
        )
    return cfg


def check(entry: ZooEntry) -> None:
    """The timm name (and tag) exist in the installed timm."""
    _pretrained_cfg(entry)


def _hub_candidates(cfg: Any) -> tuple[str, ...]:
    filename = getattr(cfg, "hf_hub_filename", None)
    return (filename,) if filename else HUB_FILES


def data_config(entry: ZooEntry, model: torch.nn.Module) -> dict[str, Any]:
    """timm's data config for the model with the entry's overrides."""
    import timm

    src = entry.source
    cfg = dict(timm.data.resolve_model_data_config(model))
    if src.input_size is not None:
        cfg["input_size"] = (3, src.input_size, src.input_size)
    for key in ("mean", "std", "crop_pct", "interpolation"):
        value = getattr(src, key)
        if value is not None:
            cfg[key] = tuple(value) if isinstance(value, tuple) else value
    return cfg


def convert_efficientnet_pytorch(
    state_dict: dict[str, Any], model: torch.nn.Module
) -> dict[str, Any]:
    """lukemelas/EfficientNet-PyTorch keys (``_conv_stem``, flat ``_blocks.N``) -> timm's
    EfficientNet (``conv_stem``, ``blocks.STAGE.BLOCK``), including the classifier."""
    prefixes = [
        f"blocks.{s}.{b}" for s, stage in enumerate(model.blocks) for b in range(len(stage))
    ]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2"}
    top["_fc"] = "classifier"
    # block 0 of a stage with expansion 1 has no _expand_conv (timm: DepthwiseSeparableConv)
    depthwise_sep = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw"}
    depthwise_sep.update({"_bn2": "bn2", "_se_reduce": "se.conv_reduce"})
    depthwise_sep["_se_expand"] = "se.conv_expand"
    inverted = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw"}
    inverted.update({"_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"})
    inverted.update({"_se_reduce": "se.conv_reduce", "_se_expand": "se.conv_expand"})
    expanded = {
        int(m[1]) for k in state_dict if (m := re.match(r"_blocks\.(\d+)\._expand_conv", k))
    }
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        block = re.match(r"_blocks\.(\d+)\.(\w+)\.(\w+)$", key)
        try:
            if block:
                i, layer, param = int(block[1]), block[2], block[3]
                names = inverted if i in expanded else depthwise_sep
                out[f"{prefixes[i]}.{names[layer]}.{param}"] = value
            else:
                layer, _, param = key.rpartition(".")
                out[f"{top[layer]}.{param}"] = value
        except (KeyError, IndexError):
            raise RunError(
                f"checkpoint key {key!r} does not fit {type(model).__name__} "
                "(checkpoint_format: efficientnet_pytorch)"
            ) from None
    return out


def _load_converted(entry: ZooEntry, file: Path, model: torch.nn.Module) -> None:
    import timm

    state = timm.models.load_state_dict(str(file), weights_only=True)
    state = convert_efficientnet_pytorch(state, model)
    for key in ("classifier.weight", "classifier.bias"):
        state.pop(key, None)  # num_classes=0: no classifier
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    _check_fit(entry, file, missing, list(result.unexpected_keys))


def _check_fit(entry: ZooEntry, file: Path, missing: list[str], unexpected: list[str]) -> None:
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RunError(
            f"cannot load {entry.ref}: the weights in {file} do not fit {entry.source.name} "
            f"({len(missing)} missing keys, e.g. {missing[:3]}; {len(unexpected)} unexpected, "
            f"e.g. {unexpected[:3]})"
        )


_KEYS_RE = re.compile(r"^(Missing|Unexpected) keys \((.*)\) (?:discovered|found) while loading")


@contextlib.contextmanager
def _load_report() -> Iterator[dict[str, list[str]]]:
    """Collect the missing / unexpected keys timm reports (it loads non-strictly whenever the
    classifier is dropped, so weights that do not fit would otherwise load silently)."""
    logger = logging.getLogger("timm.models._builder")
    report: dict[str, list[str]] = {"Missing": [], "Unexpected": []}

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            match = _KEYS_RE.match(record.getMessage())
            if match:
                report[match[1]].extend(k.strip() for k in match[2].split(",") if k.strip())

    handler, level, propagate = _Handler(logging.INFO), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # reported through our error instead
    try:
        yield report
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def build_model(entry: ZooEntry) -> tuple[torch.nn.Module, str]:
    """The model (num_classes=0, CPU, float32, eval) and its weights identity."""
    import timm

    src = entry.source
    cfg = _pretrained_cfg(entry)
    kwargs: dict[str, Any] = {**src.model_kwargs, "num_classes": 0}
    loc = weights_location(entry)
    if loc.kind == "random":
        with seeded(entry.init_seed):
            model = timm.create_model(src.name, pretrained=False, **kwargs)
        return finish(model), f"random:{entry.init_seed}"
    if loc.kind in ("local", "package"):
        assert loc.path is not None
        file = weights_file(loc.path, HUB_FILES, entry.id)
        identity = path_identity(file)
        if src.checkpoint_format == "efficientnet_pytorch":
            model = timm.create_model(src.name, pretrained=False, **kwargs)
            _load_converted(entry, file, model)
            return finish(model), identity
        overlay = {"file": str(file), "source": ""}
    elif cfg is not None and getattr(cfg, "hf_hub_id", None):
        file = hub.hub_file(entry.ref, cfg.hf_hub_id, _hub_candidates(cfg), entry.source.revision)
        identity = f"{hub.hub_identity(cfg.hf_hub_id, file, entry.source.revision)}:{file.name}"
        overlay = {"file": str(file), "source": ""}
    elif cfg is not None and getattr(cfg, "url", None):
        reason = hub.hub_unavailable_reason(cfg.url)
        if reason is not None:
            raise hub.offline_error(entry.ref, cfg.url, reason)
        overlay, identity = {}, f"url:{cfg.url}"
    else:
        raise BadInputError(
            f"{entry.id}: timm has no pretrained weights for {src.name!r}; set source.weights "
            "or use the random twin (@random)"
        )
    what = f"the weights of {src.name}"
    with hub.translate_hub_errors(entry.ref, what), _load_report() as report:
        model = timm.create_model(
            src.name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs
        )
    where = Path(overlay["file"]) if "file" in overlay else Path(identity)
    _check_fit(entry, where, report["Missing"], report["Unexpected"])
    return finish(model), identity


def build(entry: ZooEntry, tower: str) -> Encoder:
    import timm

    model, identity = build_model(entry)
    dim = int(getattr(model, "head_hidden_size", None) or model.num_features)
    check_dim(entry, tower, dim)
    cfg = data_config(entry, model)
    transform = timm.data.create_transform(**cfg, is_training=False)
    fingerprint = base_fingerprint(
        entry,
        tower,
        identity,
        data_config=json.dumps(cfg, sort_keys=True, default=str),
        transform=repr(transform),
        model_kwargs=json.dumps(entry.source.model_kwargs, sort_keys=True),
        **library_versions("timm"),
    )
    cnn = not hasattr(model, "patch_embed")  # channels-last helps CNNs; ViTs gain nothing
    from infogauss_cli.models.backends.hook_layers import attach_timm

    enc = image_encoder(entry, dim, model, transform, forward, fingerprint, channels_last=cnn)
    return attach_timm(enc)


def hub_repo(name: str) -> str | None:
    """The hub repo of a tagged timm name without importing timm: ``timm/NAME.TAG`` (timm's
    convention for its pretrained tags); None for a bare name (timm picks its default tag)."""
    return f"timm/{name}" if "." in name else None


def quick_status(entry: ZooEntry) -> WeightsStatus | None:
    """:func:`weights_status` without importing timm; None when only timm can tell (a bare
    name)."""
    if status := WeightsStatus.offline(entry):
        return status
    repo = hub_repo(entry.source.name)
    if repo is None:
        return None
    return _hub_status(entry, repo, HUB_FILES)


def _hub_status(entry: ZooEntry, repo: str, names: tuple[str, ...]) -> WeightsStatus:
    revision = entry.source.revision
    cached = next((p for n in names if (p := hub.cached_file(repo, n, revision))), None)
    return WeightsStatus.hub(entry, f"hf://{repo} ({' or '.join(names)})", cached)


def weights_status(entry: ZooEntry) -> WeightsStatus:
    if status := quick_status(entry):
        return status
    cfg = _pretrained_cfg(entry)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if repo:
        return _hub_status(entry, repo, _hub_candidates(cfg))
    url = getattr(cfg, "url", None) or "-"
    return WeightsStatus("hub", url, False, "downloaded by timm on first use")


BACKEND = BackendSpec(
    "timm", TimmSource, build, check, weights_status, towers=("image",), quick_status=quick_status
)
