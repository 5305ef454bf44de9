"""`infogauss extract MODEL --data ... --out FILE`: embeddings only, no diagnosis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import options as o
from .errors import handle_errors

OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        metavar="FILE",
        help="Where to write the (n, dim) float32 embeddings: .npy (ids in FILE.ids.json "
        "beside it) or .safetensors (ids in the header).",
        show_default=False,
        rich_help_panel="Output",
    ),
]


@handle_errors
def extract_cmd(
    model: Annotated[
        str, typer.Argument(help="Model id or alias from the zoo.", show_default=False)
    ],
    out: OutOpt,
    data: o.DataOpt = "coco-val2017",
    tower: o.TowerOpt = o.Tower.all,
    captions: o.CaptionsOpt = "first",
    text_field: o.TextFieldOpt = None,
    streaming: o.StreamingOpt = False,
    strict: o.StrictOpt = False,
    download: o.DownloadOpt = False,
    n: o.NOpt = None,
    seed: o.SeedOpt = 0,
    device: o.DeviceOpt = "auto",
    precision: o.PrecisionOpt = o.Precision.auto,
    batch_size: o.BatchSizeOpt = None,
    workers: o.WorkersOpt = None,
    zoo: o.ZooOpt = None,
    cache_dir: o.CacheDirOpt = None,
    no_cache: o.NoCacheOpt = False,
    quiet: o.QuietOpt = False,
) -> None:
    """Embed a dataset with one tower of a model and write the raw embeddings to a file.

    Example: [bold]infogauss extract effnet-lite0 --data images:photos/ --out e.npy[/]
    """
    from rich.console import Console

    from .. import __version__
    from ..errors import BadInputError
    from ..extract import SKIPPED_SHOWN, extract_model, resolve_towers
    from ..sources import ignored_counts, parse_data_spec
    from ..store import EmbeddingCache, check_output_path, save_embeddings
    from ..zoo import load_zoo

    out = check_output_path(out)  # exit 2 before any model is built
    entry = load_zoo(zoo).resolve(model)
    err = None if quiet else Console(stderr=True)
    source = parse_data_spec(
        data,
        captions=captions,
        text_field=text_field,
        streaming=streaming,
        strict=strict,
        download=download,
        console=err,
    )
    towers = resolve_towers(list(entry.towers), source, tower.value)
    if len(towers) > 1:
        raise BadInputError(
            f"{data} feeds the {' and '.join(towers)} towers and extract writes one tower per "
            "file: pass --tower " + " or --tower ".join(towers)
        )
    result = extract_model(
        entry,
        source,
        towers[0],
        n=n,
        seed=seed,
        device=device,
        precision=precision.value,
        batch_size=batch_size,
        workers=workers,
        cache=None if no_cache else EmbeddingCache(cache_dir),
        progress=not quiet,
        console=err,
        strict=strict,
    )
    ignored = ignored_counts(source, result.tower)
    meta = {
        "model": entry.ref,
        "tower": result.tower,
        "data": data,
        "n": result.n,
        "dim": result.dim,
        "skipped": [list(s) for s in result.skipped],
        "ignored": ignored,
        "device": result.device,
        "precision": result.precision,
        "batch_size": result.batch_size,
        "tool": {"name": "infogauss", "version": __version__},
    }
    written = save_embeddings(out, result.embeddings, result.ids, meta)
    if quiet:
        return
    files = " + ".join(str(p) for p in written)
    typer.echo(
        f"wrote {files}: {result.n} x {result.dim} float32 ({entry.ref}, {result.tower} tower), "
        f"{result.items_per_s:,.1f} items/s on {result.device} {result.precision}"
        + (f", {result.from_cache:.0%} from cache" if result.from_cache else "")
    )
    for what, count in ignored.items():
        typer.echo(f"ignored {count} {what}(s)")
    if result.skipped:
        shown = ", ".join(f"{i} ({r})" for i, r in result.skipped[:SKIPPED_SHOWN])
        more = len(result.skipped) - SKIPPED_SHOWN
        typer.echo(
            f"skipped {len(result.skipped)} unreadable item(s): {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
