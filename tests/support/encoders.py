"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from infogauss_cli.data.sources.base import Item
from infogauss_cli.extract.plan import EngineOptions
from infogauss_cli.models.registry import Encoder


def stack_pixels(xs):
    import torch

    return {"pixels": torch.stack(xs)}


def forward_pixels(module, batch):
    return module(batch["pixels"])


def make_image_encoder(size: int = 32, name: str = "test_resnet", forward=forward_pixels):
    """A tiny timm model with seeded random weights and timm's own eval transform."""
    import timm
    import torch

    torch.manual_seed(0)
    module = timm.create_model(name, pretrained=False, num_classes=0)
    cfg = timm.data.resolve_data_config({"input_size": (3, size, size)}, model=module)
    return Encoder(
        model_id=name,
        tower="image",
        dim=module.num_features,
        module=module,
        prepare=timm.data.create_transform(**cfg),
        collate=stack_pixels,
        forward=forward,
        fingerprint={"backend": "test", "model": name, "size": str(size)},
        channels_last=True,
    )


def hash_tokenize(texts, max_len: int = 16):
    """A stand-in tokenizer (words -> hashed ids), batched like a real one."""
    import torch

    rows = [[zlib.crc32(w.encode()) % 997 + 3 for w in t.lower().split()][:max_len] for t in texts]
    width = max(1, max(len(r) for r in rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def mean_pool_forward(module, batch):
    hidden = module(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


def make_text_encoder():
    """A tiny BERT from a config (random weights), masked mean pooling."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    module = BertModel(cfg, add_pooling_layer=False)
    return Encoder(
        model_id="tiny-bert",
        tower="text",
        dim=32,
        module=module,
        prepare=str,
        collate=hash_tokenize,
        forward=mean_pool_forward,
        fingerprint={"backend": "test", "model": "tiny-bert"},
    )


def image_folder(tmp_path_factory, n: int, seed: int) -> Path:
    """A temporary folder of ``n`` images (:func:`write_images`), for module fixtures."""
    folder = tmp_path_factory.mktemp(f"imgs{n}")
    write_images(folder, n, seed=seed)
    return folder


def write_images(folder: Path, n: int = 20, seed: int = 0, size=(48, 64)) -> list[Path]:
    """Small smooth-ish JPEGs with distinct content."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(n):
        base = np.stack([xx * rng.uniform(1, 4), yy * rng.uniform(1, 4), (xx + yy)], -1)
        img = (base + rng.normal(0, 20, (h, w, 3)) + rng.uniform(0, 255, 3)) % 256
        p = folder / f"img{i:03d}.jpg"
        Image.fromarray(img.astype(np.uint8)).save(p, quality=90)
        paths.append(p)
    return paths


def image_items(folder: Path) -> list[Item]:
    from infogauss_cli.data.sources.images import ImageFolderSource

    return ImageFolderSource(folder).items("image")


class OOMForward:
    """Raises CUDA out-of-memory (constructible on CPU builds) above ``limit`` rows."""

    def __init__(self, limit: int) -> None:
        self.limit, self.sizes = limit, []

    def __call__(self, module, batch):
        import torch

        rows = batch["pixels"].shape[0]
        self.sizes.append(rows)
        if rows > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return module(batch["pixels"])


ROOT = Path(__file__).resolve().parents[2]


OPTS = EngineOptions(batch_size=4, workers=1, chunk_items=8)


KW = {}


SCRIPT = """
import signal, sys, time
from pathlib import Path
# a background job of a non-interactive shell inherits SIGINT ignored: restore Ctrl-C
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {root!r})
from infogauss_cli.extract.engine import extract
from infogauss_cli.extract.plan import EngineOptions
from tests.support.encoders import forward_pixels, image_items, make_image_encoder

def slow(module, batch):
    time.sleep({delay})
    return forward_pixels(module, batch)

enc = make_image_encoder(forward=slow)
extract(enc, image_items(Path({folder!r})), {opts!r}, cache={cache!r}, **{kw!r})
print("finished")
"""


def _start(folder: Path, cache: Path, delay: float) -> subprocess.Popen:
    code = SCRIPT.format(
        root=str(ROOT), folder=str(folder), cache=str(cache), delay=delay, opts=OPTS, kw=KW
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_chunk(proc: subprocess.Popen, cache: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(cache.glob("*/chunk-000000.json")):
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"extraction ended before the first chunk was seen:\n{out}\n{err}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no cache chunk appeared in time")


def _interrupt(folder: Path, cache: Path, sig: int) -> subprocess.Popen:
    """Start a slow extraction, send ``sig`` once its first chunk is in the cache."""
    proc = _start(folder, cache, delay=0.25)
    _wait_for_first_chunk(proc, cache)
    proc.send_signal(sig)
    return proc
