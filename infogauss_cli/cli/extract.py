"""`infogauss extract MODEL --data ... --out FILE`: embeddings only, no diagnosis."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.core.safe_text import printable
from infogauss_cli.extract.distributed import current_shard
from infogauss_cli.extract.model import ExtractedFile, extract_to_file
from infogauss_cli.extract.result import ShardWork, skipped_text
from infogauss_cli.pipelines.audit import layers_to_files

OUT_HELP = (
    "Where to write the (n, dim) float32 embeddings: .npy (ids in FILE.ids.json beside it) or "
    ".safetensors (ids in the header)."
)
OUT = o.shared(Path, inspect.Parameter.empty, "--out", o.OUT, metavar="FILE", help=OUT_HELP)


@o.command(OUT, o.DATA, o.SAMPLE, o.LAYERS, o.COMPUTE, o.SHARD, o.QUIET)
def extract_cmd(
    model: Annotated[str, typer.Argument(help=o.MODEL_HELP, show_default=False)], **params: object
) -> None:
    """Embed a dataset with one tower of a model and write the raw embeddings to a file.

    Example: [bold]infogauss extract effnet-lite0 --data images:photos/ --out e.npy[/]
    """
    out, req = Path(str(params["out"])), o.request(params)
    share = current_shard(req.compute.shard)
    quiet = req.outputs.quiet or (share.synced and not share.assembles)  # rank 0 speaks
    if req.protocol.layers:
        results: Sequence[ExtractedFile] = layers_to_files(model, out, req, share)
    else:
        results = (extract_to_file(model, out, req, share),)
    for written in [] if quiet else results:
        result = written.extraction
        if isinstance(result, ShardWork):
            typer.echo(o.SHARD_DONE.format(shard=share.label) + f", then writes {printable(out)}")
            continue
        files = " + ".join(printable(p) for p in written.files)
        typer.echo(
            f"wrote {files}: {result.n} x {result.dim} float32 ({written.model}, {result.tower} "
            f"tower), {result.items_per_s:,.1f} items/s on {result.device} {result.precision}"
            + (f", {result.from_cache:.0%} from cache" if result.from_cache else "")
        )
        for what, count in written.ignored.items():
            typer.echo(f"ignored {count} {what}(s)")
        if result.skipped:
            shown = printable(skipped_text(result.skipped))
            typer.echo(f"skipped {len(result.skipped)} unreadable item(s): {shown}")
