"""sentence-transformers backend: a local or hub model folder whose own modules run (pooling,
Dense, Normalize unless ``normalize: false``); ``--layers``: each hidden state through them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from infogauss_cli.core.errors import BadInputError, RunError
from infogauss_cli.models.backends import common, hub
from infogauss_cli.models.digest import path_identity
from infogauss_cli.models.registry import BackendSpec, Batch, Encoder, prepare_text
from infogauss_cli.models.weights import WeightsStatus, local_path, weights_location
from infogauss_cli.models.zoo_schema import SourceSchema, ZooEntry

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from sentence_transformers import SentenceTransformer

ST_PATTERNS = ("*.json", "*.txt", "*.model", "model.safetensors", "*/*.safetensors")  # * spans /
REQUIRED = ("modules.json", "config.json")
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class SentenceTransformersSource(SourceSchema):
    normalize: bool = True
    max_length: int | None = Field(default=None, gt=0)


def model_folder(entry: ZooEntry) -> tuple[Path, str]:
    src = entry.source
    if src.weights is not None and (kind := weights_location(entry).kind) != "hub":
        path = local_path(entry)
        if path is None or not (path / "modules.json").is_file():
            raise BadInputError(
                f"{entry.id}: sentence-transformers weights must be a model folder with "
                f"modules.json (as written by SentenceTransformer.save); {path} is not"
            )
        return path, path_identity(path) if kind != "random" else f"random:{entry.init_seed}"
    what = f"the sentence-transformers model {src.name} from the Hugging Face hub"
    files = hub.Files(ST_PATTERNS, REQUIRED, what)
    folder = hub.hub_snapshot(entry.ref, src.name, files, revision=src.revision)
    ident = hub.hub_identity(src.name, folder, src.revision)
    return folder, ident if entry.pretrained else f"random:{entry.init_seed}"


def forward_st(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return module(dict(batch))["sentence_embedding"]  # a Sequential passes the features on


def load(entry: ZooEntry) -> tuple[SentenceTransformer, str]:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise BadInputError(
            "the sentence-transformers backend needs the sentence-transformers package: "
            "pip install 'infogauss[st]'"
        ) from None
    folder, ident = model_folder(entry)
    try:
        with common.quiet_loading():
            st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise RunError(f"cannot load {entry.ref} from {folder}: {exc}") from None
    if not entry.pretrained:  # the first module's transformer rebuilt from its config, seeded
        from transformers import AutoModel

        hf = _hf_model(st[0])
        if hf is None or not hasattr(hf, "config"):
            raise BadInputError(f"{entry.ref}: no transformers model in its first module to reset")
        with common.seeded(entry.init_seed):
            hf.load_state_dict(AutoModel.from_config(hf.config).state_dict(), strict=False)
    return st, ident


def build(entry: ZooEntry, tower: str) -> Encoder:
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    st, ident = load(entry)
    tokenizer = st.tokenizer
    common.check_vocab(entry.ref, entry.source.name, len(tokenizer) if tokenizer else None)
    length = int(entry.source.max_length or st.max_seq_length or 512)
    lower = bool(getattr(st[0], "do_lower_case", False))
    modules = list(st)
    if not entry.source.normalize and modules and type(modules[-1]).__name__ == "Normalize":
        modules = modules[:-1]  # audit before the final Normalize
    module = common.finish(torch.nn.Sequential(*modules))
    collate = common.TextCollate(tokenizer, length, lower=lower)
    with torch.inference_mode():
        dim = int(forward_st(module, collate(["dimension probe"])).shape[-1])
    fp = common.base_fingerprint(entry, tower, ident, ("transformers", "sentence-transformers"))
    fp["normalize"] = str(entry.source.normalize)
    fp["modules"] = ",".join(type(m).__name__ for m in modules)
    fp["tokenizer"] = f"{type(tokenizer).__name__}:{len(tokenizer)}:{length}:{lower}"
    enc = Encoder(entry.ref, "text", dim, module, prepare_text, collate, forward_st, fp)  # type: ignore[arg-type]
    hf = _hf_model(modules[0])
    if hf is None or not hasattr(hf, "config"):
        return enc
    with torch.inference_mode():  # each hidden state through the modules after the first
        outs = forward_layers(module, collate(["layer probe"]))
    rest = " + ".join(type(m).__name__ for m in modules[1:]) or "identity"
    how = f"hidden state k through the model's {rest}"
    return common.with_layers(enc, forward_layers, [int(o.shape[-1]) for o in outs], how)


def weights_status(entry: ZooEntry) -> WeightsStatus:
    if status := WeightsStatus.offline(entry):
        return status
    src = entry.source
    files = hub.Files(ST_PATTERNS, REQUIRED)
    folder = hub.hub_snapshot(entry.ref, src.name, files, revision=src.revision, fetch="cache")
    return WeightsStatus.hub(entry, f"hf://{src.name}", folder)


def _hf_model(first: torch.nn.Module) -> torch.nn.Module | None:
    return getattr(first, "auto_model", None) or getattr(first, "model", None)


def forward_layers(module: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    hf = _hf_model(module[0])  # type: ignore[index]
    inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
    out = hf(**inputs, output_hidden_states=True, return_dict=True)
    rest = module[1:]  # type: ignore[index]
    return [rest({**batch, "token_embeddings": h})["sentence_embedding"] for h in out.hidden_states]


BACKEND = BackendSpec(
    "sentence-transformers",
    SentenceTransformersSource,
    build,
    lambda entry: None,  # nothing to check offline beyond the schema and the weights path
    weights_status,
    ("text",),
    quick_status=weights_status,
)
