"""CUDA extraction with mixed precision: what only a GPU can check (skipped without one).

Run on a machine with a GPU: ``pytest -m gpu``. The CPU fp32 extraction is the reference.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from infogauss_cli.extract.plan import EngineOptions
from tests.support.encoders import image_items, make_image_encoder, write_images


def _cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _cuda(), reason="needs a CUDA device")]


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpu-imgs")
    write_images(folder, 48, seed=5)
    return image_items(folder)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_auto_is_cuda_bf16_and_matches_cpu_fp32(items):
    from infogauss_cli.extract.engine import extract

    ref = extract(make_image_encoder(), items, EngineOptions(device="cpu", precision="fp32"))
    gpu = extract(make_image_encoder(), items, EngineOptions(device="auto", precision="auto"))
    assert gpu.device.startswith("cuda") and gpu.precision == "bf16"
    assert gpu.embeddings.dtype == np.float32 and gpu.ids == ref.ids
    cos = np.sum(_unit(gpu.embeddings) * _unit(ref.embeddings), axis=1)
    assert cos.min() > 0.99, cos.min()


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cuda_precisions_match_cpu(items, precision):
    from infogauss_cli.extract.engine import extract

    ref = extract(make_image_encoder(), items, EngineOptions(device="cpu", precision="fp32"))
    gpu = extract(
        make_image_encoder(),
        items,
        EngineOptions(device="cuda", precision=precision),
    )
    cos = np.sum(_unit(gpu.embeddings) * _unit(ref.embeddings), axis=1)
    assert cos.min() > (0.9999 if precision == "fp32" else 0.995), cos.min()


def test_cuda_cache_resumes_bit_identical(items, tmp_path):
    from infogauss_cli.extract.engine import extract

    opts = EngineOptions(device="cuda", precision="bf16", batch_size=8, chunk_items=16)
    kw = {}
    first = extract(make_image_encoder(), items, opts, cache=tmp_path, **kw)
    again = extract(make_image_encoder(), items, opts, cache=tmp_path, **kw)
    assert again.from_cache == 1.0
    assert np.array_equal(first.embeddings, again.embeddings)


@pytest.mark.parametrize("decode", ["cpu", "gpu"])
def test_cuda_async_pipeline_matches_cpu(items, tmp_path, decode):
    """uint8 to the device, pinned side-stream copies, the writer thread, nvjpeg decoding."""
    from infogauss_cli.extract.engine import extract

    ref = extract(make_image_encoder(), items, EngineOptions(device="cpu", precision="fp32"))
    opts = EngineOptions(device="cuda", precision="fp32", batch_size=8, chunk_items=16)
    kw = {}
    gpu = extract(
        make_image_encoder(),
        items,
        replace(opts, decode=decode, workers=2),
        cache=tmp_path,
        **kw,
    )
    assert gpu.ids == ref.ids and not gpu.notes
    cos = np.sum(_unit(gpu.embeddings) * _unit(ref.embeddings), axis=1)
    assert cos.min() > (0.9999 if decode == "cpu" else 0.98), cos.min()
    again = extract(
        make_image_encoder(),
        items,
        replace(opts, decode=decode),
        cache=tmp_path,
        **kw,
    )
    assert again.from_cache == 1.0 and np.array_equal(again.embeddings, gpu.embeddings)


def test_cuda_compile_matches_eager(items):
    from infogauss_cli.extract.engine import extract

    opts = EngineOptions(device="cuda", precision="fp32", batch_size=16)
    kw = {}
    eager = extract(make_image_encoder(), items, opts, **kw)
    comp = extract(make_image_encoder(), items, replace(opts, compile=True), **kw)
    cos = np.sum(_unit(comp.embeddings) * _unit(eager.embeddings), axis=1)
    assert cos.min() > 0.999, cos.min()


def test_cuda_default_batch_scales_with_memory():
    from infogauss_cli.extract.runner import default_batch_size

    assert default_batch_size("cuda:0", "image") >= 256
