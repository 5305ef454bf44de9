"""sentence-transformers backend: any sentence-transformers model folder or hub id.

The model is loaded with ``sentence_transformers.SentenceTransformer`` from a local folder (the
entry's ``weights``: a path or ``pkg:``; or the hub snapshot that :mod:`.hub` found in the cache
or fetched, at ``source.revision``), so its own modules are honoured: the pooling of
``1_Pooling``, any Dense layer, and the final Normalize. ``normalize: false`` drops a final
``Normalize`` module, so the embedding is audited before it (the norm CV is then meaningful);
the report's protocol records ``normalize``. The package is an optional extra
(``pip install 'infogauss[st]'``), imported only when an entry is built.

Text is tokenised per batch (in the DataLoader workers) with the model's own tokenizer and
``max_seq_length``; the forward pass runs the kept modules on those features.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.backend import BackendSpec
from infogauss_cli.models.backends import hub
from infogauss_cli.models.backends.base import Encoder
from infogauss_cli.models.backends.common import (
    WeightsStatus,
    base_fingerprint,
    check_dim,
    check_vocab,
    finish,
    library_versions,
    path_identity,
    seeded,
    text_encoder,
)
from infogauss_cli.models.schema import SourceSchema, ZooEntry
from infogauss_cli.models.weights import weights_location

if TYPE_CHECKING:  # pragma: no cover
    import torch

ST_PATTERNS = (
    "*.json",
    "*.txt",
    "*.model",
    "model.safetensors",
    "*/*.json",
    "*/*.safetensors",
    "*/*.txt",
)
NORMALIZE = "Normalize"


class SentenceTransformersSource(SourceSchema):
    """A sentence-transformers model: ``name`` is its hub id (or any label with ``weights``)."""

    normalize: bool = True
    """False: leave out the model's final Normalize module (audit before it)."""
    max_length: int | None = Field(default=None, gt=0)
    """Tokens per text (longer ones are truncated); default: the model's max_seq_length."""


def _import_st() -> Any:
    try:
        import sentence_transformers
    except ImportError:
        raise BadInputError(
            "the sentence-transformers backend needs the sentence-transformers package: "
            "pip install 'infogauss[st]'"
        ) from None
    return sentence_transformers


def model_folder(entry: ZooEntry) -> tuple[Path, str]:
    """(local sentence-transformers folder, weights identity)."""
    loc = weights_location(entry)
    src = entry.source
    if loc.kind in ("local", "package", "random") and src.weights is not None:
        path = loc.path if loc.path is not None else _local_path(entry)
        if path is None or not (path / "modules.json").is_file():
            raise BadInputError(
                f"{entry.id}: sentence-transformers weights must be a model folder with "
                f"modules.json (as written by SentenceTransformer.save); {path} is not"
            )
        ident = path_identity(path) if loc.kind != "random" else f"random:{entry.init_seed}"
        return path, ident
    what = f"the sentence-transformers model {src.name} from the Hugging Face hub"
    folder = hub.hub_snapshot(
        entry.ref,
        src.name,
        ST_PATTERNS,
        required=["modules.json", "config.json"],
        what=what,
        revision=src.revision,
    )
    assert folder is not None
    ident = hub.hub_identity(src.name, folder, src.revision)
    return folder, ident if entry.pretrained else f"random:{entry.init_seed}"


def _local_path(entry: ZooEntry) -> Path | None:
    from infogauss_cli.models.schema import PKG_PREFIX
    from infogauss_cli.models.weights import package_path

    weights = entry.source.weights
    if weights is None:
        return None
    return package_path(weights) if weights.startswith(PKG_PREFIX) else Path(weights)


class STCollate:
    """Texts -> the features the model's first module expects, with its own tokenizer."""

    def __init__(self, tokenizer: Any, max_length: int, lower: bool = False) -> None:
        self.tokenizer, self.max_length, self.lower = tokenizer, max_length, lower

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        texts = [t.strip().lower() if self.lower else t.strip() for t in texts]
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation="longest_first",
            max_length=self.max_length,
            return_tensors="pt",
        )
        return dict(enc)

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Tokens per text after truncation, without padding or tensors (the bucketing key)."""
        texts = [t.strip().lower() if self.lower else t.strip() for t in texts]
        ids = self.tokenizer(texts, truncation="longest_first", max_length=self.max_length)
        return [len(x) for x in ids["input_ids"]]


def forward_st(module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Run the kept modules (transformer, pooling, ...) and take ``sentence_embedding``."""
    features = dict(batch)
    for m in module:
        features = m(features)
    return features["sentence_embedding"]


def _randomise(st: Any, entry: ZooEntry) -> None:
    """Random twin: the first module's transformer rebuilt from its config, seeded."""
    from transformers import AutoModel

    first = st[0]
    attr = "auto_model" if hasattr(first, "auto_model") else "model"
    hf = getattr(first, attr, None)
    if hf is None or not hasattr(hf, "config"):
        raise BadInputError(f"{entry.ref}: no transformers model in its first module to reset")
    with seeded(entry.init_seed):
        fresh = AutoModel.from_config(hf.config)
    hf.load_state_dict(fresh.state_dict(), strict=False)


def kept_modules(st: Any, normalize: bool) -> list[Any]:
    """The model's modules, without a final Normalize when ``normalize`` is False."""
    modules = list(st)
    if not normalize and modules and type(modules[-1]).__name__ == NORMALIZE:
        modules = modules[:-1]
    return modules


def load(entry: ZooEntry) -> tuple[Any, str]:
    """(SentenceTransformer on CPU in eval mode, weights identity)."""
    st_lib = _import_st()
    from transformers.utils import logging as hf_logging

    folder, ident = model_folder(entry)
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a local folder: its "Loading weights" bar is noise
    try:
        with hub.translate_hub_errors(entry.ref, f"the sentence-transformers model {folder}"):
            st = st_lib.SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise RunError(f"cannot load {entry.ref} from {folder}: {exc}") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if not entry.pretrained:
        _randomise(st, entry)
    return st, ident


def build(entry: ZooEntry, tower: str) -> Encoder:
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    st, ident = load(entry)
    tokenizer = st.tokenizer
    check_vocab(entry.ref, entry.source.name, len(tokenizer) if tokenizer is not None else None)
    length = int(entry.source.max_length or st.max_seq_length or 512)
    lower = bool(getattr(st[0], "do_lower_case", False))
    modules = kept_modules(st, entry.source.normalize)
    module = finish(torch.nn.Sequential(*modules))
    with torch.inference_mode():
        probe = forward_st(module, STCollate(tokenizer, length, lower)(["dimension probe"]))
    dim = int(probe.shape[-1])
    check_dim(entry, tower, dim)
    names = ",".join(type(m).__name__ for m in modules)
    fingerprint = base_fingerprint(
        entry,
        tower,
        ident,
        modules=names,
        normalize=entry.source.normalize,
        tokenizer=f"{type(tokenizer).__name__}:{len(tokenizer)}:{length}:{lower}",
        **library_versions("transformers", "sentence-transformers"),
    )
    enc = text_encoder(
        entry, dim, module, STCollate(tokenizer, length, lower), forward_st, fingerprint
    )
    from infogauss_cli.models.backends.st_layers import attach_layers

    return attach_layers(enc, entry)


def check(entry: ZooEntry) -> None:
    """Nothing to check offline beyond the schema and the weights path."""


def weights_status(entry: ZooEntry) -> WeightsStatus:
    if status := WeightsStatus.offline(entry):
        return status
    src = entry.source
    folder = hub.hub_snapshot(
        entry.ref,
        src.name,
        ST_PATTERNS,
        required=["modules.json", "config.json"],
        revision=src.revision,
        download=False,
    )
    return WeightsStatus.hub(entry, f"hf://{src.name}", folder)


def protocol_extra(entry: ZooEntry) -> dict[str, Any]:
    """What the report's protocol records about this entry."""
    return {"normalize": entry.source.normalize}


BACKEND = BackendSpec(
    "sentence-transformers",
    SentenceTransformersSource,
    build,
    check,
    weights_status,
    ("text",),
    quick_status=weights_status,
)
