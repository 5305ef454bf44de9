"""Text throughput: length buckets against plain transformers loops (``extract.py --text``).

On the same sentences (``--n``, default 5,000, cut from the stdlib's pydoc pages), the same model
(``--model``, default ``minilm-l6``, the real packaged weights) and batch size (64), four ways:

- plain loop, unsorted: tokenise each batch of consecutive sentences, forward, masked mean;
- plain loop, sorted: the same with the sentences sorted by token length (the ceiling);
- ``extract(bucket=False)``: infogauss without length buckets (the old path);
- ``extract()``: infogauss with length buckets (the default).

Targets: bucketed >= 0.8x the sorted plain loop and >= 3x the unsorted path; embeddings of the
bucketed and unsorted paths equal within tolerance (max |diff| and min cosine printed).
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

STDLIB = (
    "os", "re", "json", "pathlib", "collections", "itertools", "functools", "typing", "socket",
    "subprocess", "threading", "asyncio", "argparse", "logging", "datetime", "decimal",
    "fractions", "random", "statistics", "string", "textwrap", "unittest", "email", "http.client",
    "urllib.request", "xml.etree.ElementTree", "sqlite3", "csv", "zipfile", "tarfile", "shutil",
    "tempfile", "inspect", "dataclasses", "enum", "contextlib", "abc", "io", "codecs", "pickle",
)  # fmt: skip


def pydoc_sentences(n: int) -> list[str]:
    """``n`` distinct sentences (3 to 80 words) from the pydoc pages of stdlib modules, in a
    fixed order (repeated with a numbered prefix if the pages run out)."""
    import importlib
    import pydoc

    seen: dict[str, None] = {}
    for name in STDLIB:
        text = pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext)
        for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
            if 3 <= len(s.split()) <= 80:
                seen.setdefault(s, None)
        if len(seen) >= n:
            break
    out = list(seen)
    i = 0
    while len(out) < n:
        out.append(f"{i}: {out[i]}")
        i += 1
    return out[:n]


def plain_loop(enc: Any, texts: list[str], batch_size: int, sort: bool) -> tuple[float, Any]:
    """A plain transformers loop (the encoder's own tokenizer and pooling); sorted by token
    length with ``sort``. Returns (seconds, embeddings in the texts' order)."""
    import torch

    tok = enc.collate
    order = list(range(len(texts)))
    t = time.perf_counter()
    if sort:
        lengths = [len(ids) for ids in tok.tokenizer(texts, truncation=True)["input_ids"]]
        order.sort(key=lambda i: lengths[i])
    out = np.empty((len(texts), enc.dim), np.float32)
    module = enc.module.eval()
    with torch.inference_mode():
        for b in range(0, len(texts), batch_size):
            idx = order[b : b + batch_size]
            batch = tok([texts[i] for i in idx])
            out[idx] = enc.forward(module, batch).float().numpy()
    return time.perf_counter() - t, out


def padding(ntok: list[int], bs: int, items: list) -> str:
    """The share of padding in the batches of the unsorted loop, the sorted loop and
    ``extract()``'s length buckets (sorted by token count within each text chunk)."""
    from infogauss_cli.extract.plan import TEXT_CHUNK_ITEMS, make_plan

    def share(batches: list[list[int]]) -> str:
        padded = sum(max(ntok[i] for i in b) * len(b) for b in batches)
        return f"{1 - sum(ntok) / padded:.0%}"

    n = len(ntok)
    unsorted = [list(range(b, min(n, b + bs))) for b in range(0, n, bs)]
    order = sorted(range(n), key=lambda i: ntok[i])
    plan = make_plan([it.id for it in items], bs, TEXT_CHUNK_ITEMS)
    chunks = range(plan.n_chunks)
    buckets = plan.batches(chunks, dict(enumerate(ntok)))
    return (
        f"unsorted {share(unsorted)}, sorted {share([order[b : b + bs] for b in range(0, n, bs)])}"
        f", length buckets {share(buckets)} ({plan.n_chunks} chunks of up to {TEXT_CHUNK_ITEMS})"
    )


def run_text(args: Any) -> dict:
    import torch

    from infogauss_cli.data.sources.base import Item
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.loader import keep_freed_memory, text_lengths
    from infogauss_cli.extract.plan import EngineOptions
    from infogauss_cli.models.catalogue import build_encoder, load_zoo

    keep_freed_memory()  # as the engine does on CPU: the plain loops get it too, from the start
    n, bs = args.n or 5000, args.batch_size or 64
    texts = pydoc_sentences(n)
    enc = build_encoder(load_zoo().resolve(args.text_model), "text")
    items = [Item(id=f"s{i}", text=t) for i, t in enumerate(texts)]
    counts = text_lengths(items, enc.collate)  # tokens after truncation, what a batch holds
    ntok = [counts[i] for i in range(n)]
    print(
        f"{args.text_model} text, fp32, batch {bs}; {n} pydoc sentences "
        f"({np.mean(ntok):.1f} tokens on average); torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads\n"
        f"padding (of the tokens computed): {padding(ntok, bs, items)}"
    )
    kw = {"options": EngineOptions(device="cpu", precision="fp32", batch_size=bs), "cache": None}
    plain_loop(enc, texts[: 2 * bs], bs, sort=False)  # warm-up
    runs: dict[str, list[float]] = {}
    embs: dict[str, Any] = {}
    for _ in range(args.rounds):
        for key, fn in (
            *(
                [("plain, unsorted", lambda: plain_loop(enc, texts, bs, False))]
                if not args.skip_plain_unsorted
                else []
            ),
            ("plain, sorted by length", lambda: plain_loop(enc, texts, bs, True)),
            ("extract(), unsorted (bucket=False)", lambda: _ext(extract, enc, items, kw, False)),
            ("extract(), length buckets (default)", lambda: _ext(extract, enc, items, kw, True)),
        ):
            seconds, emb = fn()
            runs.setdefault(key, []).append(seconds)
            embs[key] = emb
    med = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
    ref = med["plain, sorted by length"]
    header = f"{'what':<38} {'s':>8} {'items/s':>9} {'x sorted plain':>15}"
    print(f"\nmedian of {args.rounds} interleaved rounds\n{header}\n" + "-" * len(header))
    for k, s in med.items():
        print(f"{k:<38} {s:>8.2f} {n / s:>9.1f} {ref / s:>15.2f}")
    a, b = embs["extract(), length buckets (default)"], embs["extract(), unsorted (bucket=False)"]
    diff = float(np.abs(a - b).max())
    cos = float(np.min((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))
    vs_sorted = ref / med["extract(), length buckets (default)"]
    vs_old = med["extract(), unsorted (bucket=False)"] / med["extract(), length buckets (default)"]
    print(
        f"\nbucketed: {vs_sorted:.2f}x the sorted plain loop (target >= 0.8), {vs_old:.2f}x the "
        f"unsorted path (target >= 3); bucketed vs unsorted embeddings: max |diff| {diff:.2e}, "
        f"min cosine {cos:.7f}"
    )
    return {"mode": "text", "model": args.text_model, "n": n, "batch_size": bs,
            "seconds": med, "max_abs_diff": diff, "min_cosine": cos}  # fmt: skip


def _ext(extract: Any, enc: Any, items: list, kw: dict, bucket: bool) -> tuple[float, Any]:
    from dataclasses import replace

    res = extract(enc, items, **{**kw, "options": replace(kw["options"], bucket=bucket)})
    return res.extract_s, res.embeddings
