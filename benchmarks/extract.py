"""Throughput of the extraction pipeline (JPEG files on disk -> embeddings).

CPU mode (default): one small real architecture at 224 (random weights), three ways on the same
synthetic COCO-sized JPEGs:

- forward only: the model on pre-made tensors (the ceiling),
- pipeline: ``infogauss_cli.extract.engine.extract`` (workers, batching; cache off), for each worker
  count in ``--workers`` (the CPU default is chosen from this),
- naive: open, transform, forward one image at a time.

Target: pipeline >= 0.85 x forward-only. Each round also times the engine's loading threads
over the JPEGs with no forward pass, for the serial ceiling: what a pipeline that loads between
forward passes can reach at most (on 2 cores the forward pass uses both, so nothing overlaps).

GPU mode (``--gpu``, :mod:`extract_gpu`): resnet34, densenet121 and a ViT-L/14 image tower
(random weights) through the pipeline at bf16, per batch size, ``--decode cpu/gpu`` and
``--compile``, next to forward-only on the GPU, with the GPU's utilisation.
Text mode (``--text``, :mod:`extract_text`): length buckets against plain transformers loops.

    python benchmarks/extract.py                     # CPU, efficientnet_lite0
    python benchmarks/extract.py --model resnet34 --n 128
    python benchmarks/extract.py --workers 0 --load-groups 16,64,128   # loading per pause
    python benchmarks/extract.py --gpu --n 5000      # on a CUDA machine (benchmarks/gpu.sh)
    python benchmarks/extract.py --text              # minilm-l6, 5,000 pydoc sentences
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COCO_SIZES = [(640, 480), (480, 640), (640, 427), (500, 375), (640, 512), (427, 640)]


# ---- synthetic data ----------------------------------------------------------------------------
def _one_image(args: tuple[int, str]) -> None:
    """A photo-like JPEG: smooth colour gradients, a few soft blobs, mild noise."""
    from PIL import Image

    i, folder = args
    rng = np.random.default_rng(i)
    w, h = COCO_SIZES[i % len(COCO_SIZES)]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        a, b, f = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(0.005, 0.03)
        img[..., c] = 128 + a * xx + b * yy + 40 * np.sin(f * xx + rng.uniform(0, 6))
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, 150)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-90, 90, 3)
    img += rng.normal(0, 26, img.shape)  # texture: about COCO's 160 kB per JPEG
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
        Path(folder) / f"{i:06d}.jpg", quality=90
    )


def make_jpegs(folder: Path, n: int, procs: int | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(i, str(folder)) for i in range(n) if not (folder / f"{i:06d}.jpg").exists()]
    if todo:
        procs = procs or os.cpu_count() or 1
        if procs > 1 and len(todo) > 16:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(procs) as pool:
                pool.map(_one_image, todo, chunksize=8)
        else:
            for t in todo:
                _one_image(t)
    return sorted(folder.glob("*.jpg"))[:n]


# ---- encoders ----------------------------------------------------------------------------------
def _stack(xs):
    import torch

    return {"pixels": torch.stack(xs)}


def _forward_module(module, batch):
    return module(batch["pixels"])


def _forward_encode_image(module, batch):
    return module.encode_image(batch["pixels"])


def build_encoder(kind: str, name: str):
    import torch

    from infogauss_cli.models.registry import Encoder

    torch.manual_seed(0)
    if kind == "timm":
        import timm

        module = timm.create_model(name, pretrained=False, num_classes=0)
        cfg = timm.data.resolve_data_config({}, model=module)
        prepare = timm.data.create_transform(**cfg)
        dim, forward, cl = module.num_features, _forward_module, not name.startswith("vit")
    else:
        import open_clip

        module, _, prepare = open_clip.create_model_and_transforms(name, pretrained=None)
        dim, forward, cl = module.visual.output_dim, _forward_encode_image, False
    return Encoder(name, "image", dim, module, prepare, _stack, forward, {"bench": name}, cl)


# ---- measurements ------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    items: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def forward_only(enc, n: int, batch_size: int, device: str, precision: str) -> Row:
    """The model alone on pre-made tensors already in memory (on the device)."""
    import contextlib

    import torch
    from PIL import Image

    module = enc.module.eval().to(device)
    cuda = device.startswith("cuda")
    if enc.channels_last:  # as the extractor does
        module = module.to(memory_format=torch.channels_last)
    x0 = enc.prepare(Image.new("RGB", (640, 480)))
    x = x0.unsqueeze(0).repeat(batch_size, 1, 1, 1).to(device)
    x += torch.randn_like(x) * 0.1
    if enc.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ctx = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if cuda and precision == "bf16"
        else contextlib.nullcontext()
    )
    batches = max(1, n // batch_size)
    with torch.inference_mode(), ctx:
        for _ in range(2 if cuda else 1):  # warm-up
            enc.forward(module, {"pixels": x})
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(batches):
            out = enc.forward(module, {"pixels": x}).float()
        if cuda:
            out.cpu()
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t
    return Row("forward only (pre-made tensors)", batches * batch_size, elapsed)


def pipeline(
    enc,
    paths,
    batch_size: int,
    workers: int | None,
    device: str,
    precision: str,
    decode: str = "cpu",
):
    from infogauss_cli.data.sources.base import Item
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions

    items = [Item(id=p.name, path=str(p)) for p in paths]
    opts = EngineOptions(
        device=device, precision=precision, batch_size=batch_size, workers=workers, decode=decode
    )
    res = extract(enc, items, opts, cache=None)
    assert res.embeddings.shape == (len(paths), enc.dim) and not res.skipped
    return Row(f"pipeline extract(), workers={res.workers}", len(paths), res.extract_s)


def naive(enc, paths) -> Row:
    """Open, transform, forward one image at a time (what a quick script does)."""
    import torch
    from PIL import Image

    module = enc.module.eval().to("cpu", memory_format=torch.contiguous_format)
    t = time.perf_counter()
    with torch.inference_mode():
        for p in paths:
            x = enc.prepare(Image.open(p).convert("RGB")).unsqueeze(0)
            enc.forward(module, {"pixels": x})
    return Row("naive per-image loop", len(paths), time.perf_counter() - t)


def decode_only(enc, paths, decode: str = "cpu") -> Row:
    """Load + prepare as the workers do, one item at a time in one thread (``decode`` mode)."""
    from infogauss_cli.data.sources.base import Item
    from infogauss_cli.data.sources.images import load_image
    from infogauss_cli.extract.loader import device_side

    load, prepare, *_ = device_side(enc, load_image, decode)
    items = [Item(id=p.name, path=str(p)) for p in paths]
    t = time.perf_counter()
    for it in items:
        prepare(load(it))
    elapsed = time.perf_counter() - t
    return Row(f"decode + transform only, 1 process ({decode})", len(paths), elapsed)


def loading_pauses(enc, paths, batch_size: int, group_items: int, forward: bool = True) -> Row:
    """The engine's loading threads (``ThreadedBatches``, ``--decode cpu``) over ``paths`` in
    batches of ``batch_size``, ``group_items`` items per pause, with the model's forward pass
    on a pre-made batch after each batch as in the pipeline (``forward``): the time spent
    waiting for batches."""
    import torch
    from PIL import Image

    from infogauss_cli.data.sources.base import Item
    from infogauss_cli.data.sources.images import load_image
    from infogauss_cli.extract.loader import (
        ItemDataset,
        ThreadedBatches,
        collate_kept,
        device_side,
        loading_threads,
    )

    load, prepare, collate, *_ = device_side(enc, load_image, "cpu")
    items = [Item(id=p.name, path=str(p)) for p in paths]
    batches = [
        list(range(i, min(i + batch_size, len(items)))) for i in range(0, len(items), batch_size)
    ]
    loader = ThreadedBatches(
        ItemDataset(items, load, prepare),
        partial(collate_kept, collate),
        batches,
        loading_threads("cpu", "image"),
        group_items=group_items,
    )
    module = enc.module.eval().to(memory_format=torch.channels_last)
    shape = enc.prepare(Image.new("RGB", (640, 480))).shape
    x = torch.randn(batch_size, *shape).contiguous(memory_format=torch.channels_last)
    waited, it = 0.0, iter(loader)
    with torch.inference_mode():
        while True:
            t = time.perf_counter()
            batch = next(it, None)
            waited += time.perf_counter() - t
            if batch is None:
                break
            if forward:
                enc.forward(module, {"pixels": x})
    after = "after each forward pass" if forward else "no forward pass"
    return Row(f"loading, {group_items} items per pause, {after}", len(items), waited)


def print_loading(args, enc, paths) -> None:
    """``--load-groups``: the loading threads' time per image by items per pause."""
    sizes = [int(g) for g in args.load_groups.split(",")]
    runs: dict[tuple[int, bool], list[Row]] = {}
    for _ in range(args.rounds):
        for g in sizes:
            runs.setdefault((g, True), []).append(loading_pauses(enc, paths, args.batch_size, g))
        g = max(sizes)
        runs.setdefault((g, False), []).append(
            loading_pauses(enc, paths, args.batch_size, g, False)
        )
    print(f"\nloading threads, ms per image (median and range of {args.rounds} rounds)")
    for rows in runs.values():
        ms = sorted(r.seconds / r.items * 1000 for r in rows)
        print(f"{rows[0].name:<58} {ms[len(ms) // 2]:>6.2f}  ({ms[0]:.2f}-{ms[-1]:.2f})")


def print_table(title: str, rows: list[Row], ref: Row) -> None:
    print(f"\n{title}")
    header = f"{'what':<40} {'items':>6} {'s':>8} {'items/s':>9} {'x forward':>10}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        line = (
            f"{r.name:<40} {r.items:>6} {r.seconds:>8.2f} {r.rate:>9.1f} {r.rate / ref.rate:>10.2f}"
        )
        print(line + (f"  {r.note}" if r.note else ""))


# ---- modes -------------------------------------------------------------------------------------
def run_cpu(args) -> dict:
    import torch

    from infogauss_cli.extract.loader import LOAD_GROUP_ITEMS, keep_freed_memory

    # what the engine does on CPU, done first, so that forward-only runs as fast as it can:
    # without it every forward pass faults its activations in anew (INFOGAUSS_MALLOC_TUNING=0
    # measures both without)
    tuned = keep_freed_memory()
    enc = build_encoder("timm", args.model)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="infogauss-bench-"))
    t = time.perf_counter()
    paths = make_jpegs(folder, args.n)
    mb = sum(p.stat().st_size for p in paths) / 1e6
    print(
        f"{args.model} at 224, random weights, fp32, batch {args.batch_size}; "
        f"{len(paths)} synthetic JPEGs ({mb:.1f} MB, {mb / len(paths) * 1000:.0f} kB each, "
        f"{time.perf_counter() - t:.1f} s to make) in {folder}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} cpus; malloc keeps freed memory: "
        f"{'yes' if tuned else 'no'}"
    )
    # "auto": no --workers, the count the engine chooses from the first batch's rates
    names = args.workers.split(",") if args.workers else ["auto", "0", "1", "2"]
    workers = [None if w == "auto" else int(w) for w in names]
    # the machine's speed drifts (shared VM): interleave the measurements over several rounds
    # and report the median rate of each
    runs: dict[str, list[Row]] = {}
    chosen: list[int] = []
    forward_only(enc, args.batch_size * 2, args.batch_size, "cpu", "fp32")  # warm-up
    for _ in range(args.rounds):
        runs.setdefault("forward", []).append(
            forward_only(enc, len(paths), args.batch_size, "cpu", "fp32")
        )
        for w in workers:
            row = pipeline(enc, paths, args.batch_size, w, "cpu", "fp32", args.decode)
            runs.setdefault(f"w{w}", []).append(row)
            if w is None:
                chosen.append(int(row.name.rpartition("=")[2]))
        runs.setdefault("load", []).append(
            loading_pauses(enc, paths, args.batch_size, LOAD_GROUP_ITEMS, forward=False)
        )
    few = paths[: max(16, len(paths) // 4)]
    runs["decode"] = [decode_only(enc, few, args.decode)]
    runs["naive"] = [naive(enc, few)]

    def median(key: str, name: str) -> Row:
        rs = sorted(runs[key], key=lambda r: r.rate)
        r = rs[len(rs) // 2]
        spread = f"{rs[0].rate:.1f}-{rs[-1].rate:.1f}" if len(rs) > 1 else ""
        return Row(name, r.items, r.seconds, f"range {spread}" if spread else "")

    def paired(key: str) -> str:
        """The median of the rounds' own ratios (each pipeline run against the forward-only
        run just before it): robust to the machine's speed drifting between rounds."""
        ratios = sorted(r.rate / f.rate for r, f in zip(runs[key], runs["forward"], strict=True))
        return f"paired {ratios[len(ratios) // 2]:.2f}"

    ref = median("forward", "forward only (pre-made tensors)")
    rows = [ref]
    for w in workers:
        picks = "/".join(str(c) for c in sorted(set(chosen)))
        label = f"pipeline, workers={w}" if w is not None else f"pipeline, auto (chose {picks})"
        row = median(f"w{w}", label)
        rows.append(replace(row, note=f"{paired(f'w{w}')}, {row.note}".rstrip(", ")))
    rows.append(median("decode", f"decode + transform only, 1 process ({args.decode})"))
    rows.append(median("naive", "naive per-image loop"))
    print_table(f"items/s, median of {args.rounds} interleaved rounds", rows, ref)
    best = max(rows[1 : 1 + len(workers)], key=lambda r: r.rate)
    ratio = best.rate / ref.rate
    print(
        f"\nbest: {best.name}: {ratio:.2f} x forward-only ({best.note.split(',')[0]}; "
        f"{'meets' if ratio >= 0.85 else 'misses'} the 0.85 target)"
    )
    if None in workers:
        auto = rows[1 + workers.index(None)]
        print(
            f"default (auto workers, --decode {args.decode}): {auto.rate / ref.rate:.2f} x "
            f"forward-only ({auto.note.split(',')[0]})"
        )
    key = None if None in workers else workers[0]  # the default if measured
    ceiling = serial_ceiling(runs["forward"], runs["load"], runs[f"w{key}"])
    print(
        f"serial ceiling: {ceiling['ratio']:.2f} x forward-only (forward-only, then the "
        f"engine's loading threads over the same JPEGs with no forward pass, "
        f"{ceiling['load_ms']:.2f} ms per image, nothing overlapped); "
        f"{'the default' if key is None else f'workers={key}'} reaches "
        f"{ceiling['reached']:.2f} of it (paired)"
    )
    if args.load_groups:
        print_loading(args, enc, paths)
    return {
        "mode": "cpu",
        "model": args.model,
        "rows": [asdict(r) | {"rate": r.rate} for r in rows],
        "serial_ceiling": ceiling,
    }


def serial_ceiling(forward: list[Row], load: list[Row], pipe: list[Row]) -> dict[str, float]:
    """The most a pipeline that loads between forward passes can reach (2 cores: the forward
    pass uses both, so loading cannot overlap it): per round, 1 / (1 + forward rate x loading
    seconds per item), with the loading threads' time over the same JPEGs and no forward pass.
    Medians over rounds: ``ratio`` (the ceiling), ``load_ms`` (per item) and ``reached`` (each
    round's pipeline / forward-only ratio over its ceiling). With spare cores worker
    processes overlap the forward pass, so a pipeline can pass this ceiling there."""

    def median(xs: list[float]) -> float:
        return sorted(xs)[len(xs) // 2]

    ceil, load_ms, reached = [], [], []
    for f, ld, p in zip(forward, load, pipe, strict=True):
        per_item = ld.seconds / ld.items
        c = 1 / (1 + f.rate * per_item)
        ceil.append(c)
        load_ms.append(per_item * 1000)
        reached.append(p.rate / f.rate / c)
    return {"ratio": median(ceil), "load_ms": median(load_ms), "reached": median(reached)}


def run_gpu(args) -> dict:
    from extract_gpu import run_gpu as run

    return run(args, make_jpegs, build_encoder, forward_only)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--gpu", action="store_true", help="all paper architectures on CUDA, bf16")
    p.add_argument("--text", action="store_true", help="text: length buckets vs plain loops")
    p.add_argument("--text-model", default="minilm-l6", help="zoo id for --text")
    p.add_argument(
        "--skip-plain-unsorted", action="store_true", help="--text: skip the slowest loop"
    )
    p.add_argument("--model", default="efficientnet_lite0", help="timm name (CPU mode)")
    p.add_argument("--n", type=int, default=None, help="images (CPU 256, GPU 5000)")
    p.add_argument("--batch-size", type=int, default=None, help="CPU 16, GPU 256")
    p.add_argument("--workers", default=None, help="CPU: worker counts, e.g. auto,0,1,2")
    p.add_argument("--decode", default="cpu", help="CPU: cpu (default), exact or fast")
    p.add_argument(
        "--load-groups", default=None, help="CPU: also time loading at these items per pause"
    )
    p.add_argument("--gpu-workers", type=int, default=None, help="GPU: default cpus - 1")
    p.add_argument("--models", default=None, help="GPU: subset of resnet34,densenet121,vit-l14")
    p.add_argument("--batch-sizes", default="auto,256,1024", help="GPU: batch sizes (auto: probed)")
    p.add_argument("--rounds", type=int, default=3, help="CPU: interleaved repetitions")
    p.add_argument("--dir", default=None, help="folder for the JPEGs (kept; reused if there)")
    p.add_argument("--gpu-dry-run", action="store_true", help="--gpu's code on CPU, tiny models")
    p.add_argument("--json", default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.text:
        from extract_text import run_text

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        result = run_text(args)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
        return 0
    gpu = args.gpu or args.gpu_dry_run
    args.n = args.n or (5000 if args.gpu else 8 if gpu else 256)
    args.batch_size = args.batch_size or (256 if gpu else 16)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = run_gpu(args) if gpu else run_cpu(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
