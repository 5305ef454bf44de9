"""`infogauss extract MODEL --data ... --out FILE`: embeddings only, no diagnosis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import handle_errors
from infogauss_cli.core.safe_text import printable

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
    model: Annotated[str, typer.Argument(help=o.MODEL_HELP, show_default=False)],
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
    layers: o.LayersOpt = None,
    device: o.DeviceOpt = "auto",
    precision: o.PrecisionOpt = o.Precision.auto,
    batch_size: o.BatchSizeOpt = None,
    workers: o.WorkersOpt = None,
    decode: o.DecodeOpt = o.Decode.cpu,  # type: ignore[attr-defined]
    compile: o.CompileOpt = False,
    zoo: o.ZooOpt = None,
    revision: o.RevisionOpt = None,
    objective: o.ObjectiveOpt = None,
    cache_dir: o.CacheDirOpt = None,
    no_cache: o.NoCacheOpt = False,
    shard: o.ShardOpt = None,
    quiet: o.QuietOpt = False,
) -> None:
    """Embed a dataset with one tower of a model and write the raw embeddings to a file.

    Example: [bold]infogauss extract effnet-lite0 --data images:photos/ --out e.npy[/]
    """
    params = locals()
    from infogauss_cli.core.options import Compute, DataOptions, Protocol, Request
    from infogauss_cli.extract import extract_to_file
    from infogauss_cli.extract.distributed import current_shard

    compute = o.from_params(Compute, params, use_cache=not no_cache)
    share = current_shard(compute.shard)
    quiet = quiet or (share.synced and not share.assembles)  # rank 0 speaks
    data, protocol = o.from_params(DataOptions, params), o.from_params(Protocol, params)
    request = Request(protocol=protocol, data=data, compute=compute)
    if layers:
        from infogauss_cli.pipelines.layers import layers_to_files

        results: Any = layers_to_files(model, out, request, share)
    else:
        results = (extract_to_file(model, out, request, share),)
    for written in results:
        if not quiet:
            _say(written, share.label, out)


def _say(written: Any, shard: str, out: Any) -> None:
    """What was written, on stdout."""
    from infogauss_cli.extract import SKIPPED_SHOWN, ShardWork

    result = written.extraction
    if isinstance(result, ShardWork):
        typer.echo(o.SHARD_DONE.format(shard=shard) + f", then writes {printable(out)}")
        return
    files = " + ".join(printable(p) for p in written.files)
    typer.echo(
        f"wrote {files}: {result.n} x {result.dim} float32 ({written.model}, {result.tower} "
        f"tower), {result.items_per_s:,.1f} items/s on {result.device} {result.precision}"
        + (f", {result.from_cache:.0%} from cache" if result.from_cache else "")
    )
    for what, count in written.ignored.items():
        typer.echo(f"ignored {count} {what}(s)")
    if result.skipped:
        first = result.skipped[:SKIPPED_SHOWN]
        shown = ", ".join(f"{printable(i)} ({printable(r)})" for i, r in first)
        more = len(result.skipped) - SKIPPED_SHOWN
        typer.echo(
            f"skipped {len(result.skipped)} unreadable item(s): {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
