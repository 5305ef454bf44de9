"""`infogauss audit MODEL` and `infogauss compare MODEL MODEL...` (the paper's table end to end),
`infogauss check FILE` (an embedding matrix from a file, no model needed) and `infogauss extract
MODEL --data ... --out FILE` (embeddings only, no diagnosis)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.output import publish
from infogauss_cli.core.preflight import data_inputs
from infogauss_cli.core.progress import note
from infogauss_cli.core.safe_text import printable
from infogauss_cli.extract.distributed import current_shard
from infogauss_cli.extract.result import ShardWork, skipped_text
from infogauss_cli.extract.store import check_cache_writable


@o.command(
    o.DATA, o.SAMPLE, o.LAYERS, o.VIEW, o.DETAIL, o.MEMORY, o.JUDGE, o.COMPUTE, o.SHARD, o.REPORT
)
def audit_cmd(
    models: Annotated[
        list[str], typer.Argument(metavar="MODEL...", help=o.MODEL_HELP, show_default=False)
    ],
    **params: object,
) -> None:
    """Embed the data with each model (cache reused), run the diagnostics, print the verdict.

    A two-tower model (CLIP) gives two rows: image tower on the images, text on the captions.

    Examples:

      [bold]infogauss audit clip-vit-l14[/]

      [bold]infogauss compare resnet34 dino --n 2000 --html report.html[/]

      [bold]infogauss audit st:sentence-transformers/all-MiniLM-L6-v2 --data text:s.txt[/]
    """
    from infogauss_cli.pipelines.audit import audit_models  # numpy

    req = o.request(params, [*data_inputs(str(params["data"])), ("--zoo", params["zoo"])])
    out = req.outputs
    check_cache_writable(req.compute)
    share = current_shard(req.compute.shard)
    rows = audit_models(models, req, share)
    if share.synced and not share.assembles:
        raise typer.Exit(0)  # rank 0 reports; the ranks agree on its exit code
    if share.mode == "job" and not rows:
        if not out.quiet:
            note(o.SHARD_DONE.format(shard=share.label))
        raise typer.Exit(0)
    raise typer.Exit(publish(rows, out))


ARRAY = (o.shared(str | None, None, "--key", o.OPT), o.shared(str | None, None, "--name", o.OPT))


@o.command(ARRAY, o.SAMPLE, o.VIEW, o.DETAIL, o.MEMORY, o.JUDGE, o.REPORT)
def check_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Embedding matrices (rows = items); several give one table.",
            show_default=False,
        ),
    ],
    **params: object,
) -> None:
    """Audit embedding matrices stored in files (.npy .npz .safetensors .pt .csv .tsv .parquet).

    Example: [bold]infogauss check emb.npy --require gaussian --json -[/]
    """
    from infogauss_cli.pipelines.check import check_file  # numpy

    if params["name"] is not None and len(files) > 1:
        raise typer.BadParameter("--name labels a single FILE", param_hint="--name")
    req = o.request(params, [("FILE", f) for f in files])  # before any file is read
    key, name = params["key"], params["name"]
    rows = [r for f in files for r in check_file(f, req, key, name)]  # type: ignore[arg-type]
    raise typer.Exit(publish(rows, req.outputs))


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
    from infogauss_cli.extract.model import extract_to_file  # torch, the model's library
    from infogauss_cli.pipelines.audit import layers_to_files

    out, req = Path(str(params["out"])), o.request(params)
    share = current_shard(req.compute.shard)
    quiet = req.outputs.quiet or (share.synced and not share.assembles)  # rank 0 speaks
    if req.protocol.layers:
        results = layers_to_files(model, out, req, share)
    else:
        results = [extract_to_file(model, out, req, share)]
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
