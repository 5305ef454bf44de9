"""timm backend: image models, ``forward_head(forward_features(x), pre_logits=True)`` of
``create_model(name, num_classes=0)``, with timm's data config and the entry's overrides."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.backends import common, hub
from infogauss_cli.models.registry import BackendSpec, Batch, Encoder
from infogauss_cli.models.weights import WeightsStatus
from infogauss_cli.models.zoo_schema import SourceSchema, ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from timm.models import PretrainedCfg

HUB_FILES = ("model.safetensors", "pytorch_model.bin")


class TimmSource(SourceSchema):
    """``name``: a timm name with its pretrained tag (``resnet34.tv_in1k``)."""

    model_kwargs: dict[str, object] = Field(default_factory=dict)
    checkpoint_format: Literal["timm", "efficientnet_pytorch"] = "timm"
    """Key layout of local weights: timm's, or lukemelas' EfficientNet-PyTorch (remapped)."""
    input_size: int | None = Field(default=None, gt=0)
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop_pct: float | None = Field(default=None, gt=0, le=1)
    interpolation: Literal["bilinear", "bicubic", "nearest"] | None = None


def forward(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module.forward_head(module.forward_features(batch["pixel_values"]), pre_logits=True)


def check(entry: ZooEntry) -> PretrainedCfg | None:
    """The pretrained config of ``source.name`` (None for a bare architecture)."""
    import timm

    name = entry.source.name
    if not timm.is_model(name.partition(".")[0]):
        raise BadInputError(f"{entry.id}: {name!r} is not a timm model (see timm.list_models())")
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


def _hub_candidates(cfg: PretrainedCfg) -> tuple[str, ...]:
    filename = getattr(cfg, "hf_hub_filename", None)
    return (filename,) if filename else HUB_FILES


_SE = {"_se_reduce": "se.conv_reduce", "_se_expand": "se.conv_expand"}
#: block 0 of a stage with expansion 1 has no _expand_conv (timm: DepthwiseSeparableConv)
_DEPTHWISE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw"}
_DEPTHWISE["_bn2"] = "bn2"
_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2"}
_INVERTED |= {"_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2"}


def convert_efficientnet_pytorch(
    state_dict: dict[str, torch.Tensor], model: torch.nn.Module
) -> dict[str, torch.Tensor]:
    """lukemelas/EfficientNet-PyTorch keys (``_blocks.N``) -> timm's (``blocks.STAGE.BLOCK``)."""
    prefixes = [f"blocks.{s}.{b}" for s, blk in enumerate(model.blocks) for b in range(len(blk))]
    top = {**_TOP, "_fc": "classifier"}
    expanded = {int(m[1]) for k in state_dict if (m := re.match(r"_blocks\.(\d+)\._expand", k))}
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        block = re.match(r"_blocks\.(\d+)\.(\w+)\.(\w+)$", key)
        try:
            if block:
                i, layer, param = int(block[1]), block[2], block[3]
                names = {**(_INVERTED if i in expanded else _DEPTHWISE), **_SE}
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


def _check_fit(entry: ZooEntry, file: object, missing: list[str], unexpected: list[str]) -> None:
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
    """The missing / unexpected keys timm logs (it loads non-strictly without a classifier)."""
    logger = logging.getLogger("timm.models._builder")
    report: dict[str, list[str]] = {"Missing": [], "Unexpected": []}

    def read(record: logging.LogRecord) -> bool:
        if match := _KEYS_RE.match(record.getMessage()):
            report[match[1]].extend(k.strip() for k in match[2].split(",") if k.strip())
        return False  # none shown: reported through our error instead

    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addFilter(read)
    try:
        yield report
    finally:
        logger.removeFilter(read)
        logger.setLevel(level)


def build_model(entry: ZooEntry) -> tuple[torch.nn.Module, str]:
    """The model (num_classes=0, CPU, float32, eval) and its weights identity."""
    import timm

    src = entry.source
    cfg = check(entry)
    kwargs: dict[str, object] = {**src.model_kwargs, "num_classes": 0}
    local = common.local_weights(entry, HUB_FILES)  # None: the hub's (or timm's URL)
    file, identity = local or (None, "")
    if local is not None and (file is None or src.checkpoint_format == "efficientnet_pytorch"):
        with common.seeded(entry.init_seed):  # random init, or the model lukemelas' keys fill
            model = timm.create_model(src.name, pretrained=False, **kwargs)
        if file is not None:
            state = timm.models.load_state_dict(str(file), weights_only=True)
            state = convert_efficientnet_pytorch(state, model)
            state = {k: v for k, v in state.items() if not k.startswith("classifier.")}  # no head
            result = model.load_state_dict(state, strict=False)
            _check_fit(entry, file, result.missing_keys, result.unexpected_keys)  # type: ignore[arg-type]
        return common.finish(model), identity
    if local is None and cfg is not None and getattr(cfg, "hf_hub_id", None):
        file, identity = hub.hub_weights(entry, cfg.hf_hub_id, _hub_candidates(cfg))
    elif local is None and cfg is not None and getattr(cfg, "url", None):
        if (reason := hub.hub_unavailable_reason(cfg.url)) is not None:
            raise hub.offline_error(entry.ref, cfg.url, reason)
        identity = f"url:{cfg.url}"  # timm downloads it
    elif local is None:
        raise BadInputError(
            f"{entry.id}: timm has no pretrained weights for {src.name!r}; set source.weights "
            "or use the random twin (@random)"
        )
    overlay = {"file": str(file), "source": ""} if file is not None else {}
    with hub.translate_hub_errors(entry.ref, f"the weights of {src.name}"), _load_report() as keys:
        model = timm.create_model(
            src.name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs
        )
    _check_fit(entry, file or identity, keys["Missing"], keys["Unexpected"])
    return common.finish(model), identity


def build(entry: ZooEntry, tower: str) -> Encoder:
    import timm

    model, identity = build_model(entry)
    dim = int(getattr(model, "head_hidden_size", None) or model.num_features)
    src = entry.source  # timm's data config with the entry's overrides
    cfg = dict(timm.data.resolve_model_data_config(model))
    if src.input_size is not None:
        cfg["input_size"] = (3, src.input_size, src.input_size)
    overrides = {k: getattr(src, k) for k in ("mean", "std", "crop_pct", "interpolation")}
    cfg |= {k: v for k, v in overrides.items() if v is not None}
    transform = timm.data.create_transform(**cfg, is_training=False)
    fingerprint = common.base_fingerprint(entry, tower, identity, ("timm",))
    fingerprint["transform"] = repr(transform)
    fingerprint["data_config"] = json.dumps(cfg, sort_keys=True, default=str)
    fingerprint["model_kwargs"] = json.dumps(src.model_kwargs, sort_keys=True)
    steps = (common.ImagePrepare(transform), common.stack_images, forward)
    enc = Encoder(entry.ref, "image", dim, model, *steps, fingerprint)  # type: ignore[arg-type]
    enc.channels_last = not hasattr(model, "patch_embed")  # CNNs gain, ViTs do not
    return common.attach_timm(enc)


def hub_repo(name: str) -> str | None:
    """``timm/NAME.TAG`` (timm's hub convention) without importing timm; None for a bare name."""
    return f"timm/{name}" if "." in name else None


def quick_status(entry: ZooEntry) -> WeightsStatus | None:
    """The status of hub weights without importing timm; None when only timm can tell."""
    repo = hub_repo(entry.source.name)
    return None if repo is None else hub.files_status(entry, repo, HUB_FILES)


def weights_status(entry: ZooEntry) -> WeightsStatus:
    if status := WeightsStatus.offline(entry) or quick_status(entry):
        return status
    cfg = check(entry)
    if cfg is not None and getattr(cfg, "hf_hub_id", None):
        return hub.files_status(entry, cfg.hf_hub_id, _hub_candidates(cfg))
    url = getattr(cfg, "url", None) or "-"
    return WeightsStatus("hub", url, False, "downloaded by timm on first use")


BACKEND = BackendSpec(
    "timm", TimmSource, build, check, weights_status, towers=("image",), quick_status=quick_status
)
