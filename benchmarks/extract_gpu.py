"""GPU extraction benchmark (``extract.py --gpu``): pipeline vs forward-only, per model, batch
size, decoder and compile setting, with the GPU's utilisation sampled during each pipeline run.

Models (random weights): resnet34, densenet121 and a ViT-L/14 image tower (open_clip
``ViT-L-14-quickgelu``), bf16, on synthetic COCO-sized JPEGs. For each model and batch size:
forward-only (pre-made tensors on the GPU), then ``extract()`` with ``--decode cpu`` and ``gpu``
(batch size ``auto``: none given, the device's default; printed as ``a<size>``);
``--compile`` once per model at the largest batch size (after a one-batch warm-up that pays the
compilation, so the figure is the steady state; use ``--n`` a multiple of the batch sizes).
Prints items/s, mean GPU utilisation (``nvidia-smi`` sampled every 200 ms) and pipeline /
forward-only.

``--gpu-dry-run`` runs the same code on CPU with tiny stand-in models (timm ``test_resnet`` /
``test_vit``), a handful of images, ``torch.compile(backend="eager")`` and no utilisation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# name -> (builder kind, library name, dry-run stand-in)
MODELS = {
    "resnet34": ("timm", "resnet34", "test_resnet"),
    "densenet121": ("timm", "densenet121", "test_resnet"),
    "vit-l14": ("open_clip", "ViT-L-14-quickgelu", "test_vit"),
}
TARGETS = {"resnet34": 0.6, "vit-l14": 0.85}  # pipeline / forward-only (docs/performance.md)


class GpuUtil:
    """Mean GPU utilisation (%) over a block, from ``nvidia-smi`` samples (None without it)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and shutil.which("nvidia-smi") is not None
        self.samples: list[float] = []
        self._stop = threading.Event()

    def _run(self) -> None:
        query = "--query-gpu=utilization.gpu"
        cmd = ["nvidia-smi", query, "--format=csv,noheader,nounits", "-i", "0"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
                self.samples.append(float(out.strip().splitlines()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
            self._stop.wait(0.2)

    def __enter__(self) -> GpuUtil:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def run_gpu(args: Any, make_jpegs: Any, build_encoder: Any, forward_only: Any) -> dict:
    import torch

    from infogauss_cli.data.sources.base import Item
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions

    dry = args.gpu_dry_run
    if not dry and not torch.cuda.is_available():
        print(
            "error: no CUDA device: --gpu needs an NVIDIA GPU visible to torch "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False); "
            "run without --gpu for the CPU benchmark, or with --gpu-dry-run",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if dry:
        os.environ.setdefault("INFOGAUSS_COMPILE_BACKEND", "eager")
    device, precision = ("cpu", "fp32") if dry else ("cuda:0", "bf16")
    folder = Path(args.dir or tempfile.mkdtemp(prefix="infogauss-bench-gpu-"))
    t = time.perf_counter()
    paths = make_jpegs(folder, args.n)
    items = [Item(id=p.name, path=str(p)) for p in paths]
    # "auto": no batch size given: the default for the device's memory
    sizes = [None if b == "auto" else int(b) for b in args.batch_sizes.split(",")]
    fixed = [b for b in sizes if b is not None] or [args.batch_size]
    where = "CPU dry run (tiny stand-in models)" if dry else torch.cuda.get_device_name(0)
    print(
        f"{where}; {len(paths)} synthetic COCO-sized JPEGs ({time.perf_counter() - t:.1f} s to "
        f"make); {precision}; batch sizes {sizes}; workers "
        f"{args.gpu_workers if args.gpu_workers is not None else 'default'}; {os.cpu_count()} "
        f"cpus; random weights; torch {torch.__version__}",
        flush=True,
    )
    header = (
        f"{'model':<12} {'batch':>5} {'decode':>6} {'compile':>7} {'fwd img/s':>10} "
        f"{'pipe img/s':>11} {'GPU util':>8} {'pipe/fwd':>8}"
    )
    print("\n" + header + "\n" + "-" * len(header), flush=True)
    models = args.models.split(",") if args.models else list(MODELS)
    rows = []
    for name in models:
        kind, lib, stand_in = MODELS[name]
        label = f"{stand_in}*" if dry else name  # *: a stand-in for the named model
        enc = build_encoder("timm" if dry else kind, stand_in if dry else lib)
        fwd = {}

        def forward_rate(bs: int, enc: Any = enc, fwd: dict = fwd) -> float:
            if bs not in fwd:
                n_fwd = len(paths) if dry else max(len(paths), 8 * bs)
                fwd[bs] = forward_only(enc, n_fwd, bs, device, precision).rate
            return fwd[bs]

        for bs in fixed:
            forward_rate(bs)
        runs = [(bs, dec, False) for bs in sizes for dec in ("cpu", "gpu")]
        runs.append((max(fixed), "gpu", True))
        for bs, dec, comp in runs:
            if comp:  # compile once on one batch: the measured run reuses the compiled code
                extract(
                    enc, items[:bs], EngineOptions(device=device, precision=precision,
                    batch_size=bs, workers=0, decode=dec, compile=True), cache=None,
                )  # fmt: skip
            with GpuUtil(not dry) as util:
                res = extract(
                    enc, items, EngineOptions(device=device, precision=precision, batch_size=bs,
                    workers=args.gpu_workers, decode=dec, compile=comp), cache=None,
                )  # fmt: skip
            assert res.embeddings.shape == (len(paths), enc.dim) and not res.skipped
            rate = res.items_per_s
            u = f"{util.mean:.0f}%" if util.mean is not None else "n/a"
            shown = str(bs) if bs is not None else f"a{res.batch_size}"  # a: the default size
            bs = bs if bs is not None else res.batch_size
            print(
                f"{label:<12} {shown:>5} {dec:>6} {'yes' if comp else 'no':>7} "
                f"{forward_rate(bs):>10,.0f} {rate:>11,.0f} {u:>8} {rate / fwd[bs]:>8.2f}",
                flush=True,
            )
            rows.append(
                {
                    "model": name,
                    "batch_size": bs,
                    "batch_size_probed": shown.startswith("a"),
                    "decode": dec,
                    "compile": comp,
                    "forward": fwd[bs],
                    "pipeline": rate,
                    "gpu_util": util.mean,
                    "notes": list(res.notes),
                }
            )
        del enc
        if not dry:
            torch.cuda.empty_cache()
    for name, target in TARGETS.items() if not dry else ():
        best = [r["pipeline"] / r["forward"] for r in rows if r["model"] == name]
        if best:
            ok = "meets" if max(best) >= target else "misses"
            print(f"{name}: best pipeline/forward {max(best):.2f} ({ok} the {target} target)")
    return {"mode": "gpu", "device": where, "dry_run": dry, "rows": rows}
