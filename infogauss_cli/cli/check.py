"""`infogauss check FILE`: audit an embedding matrix from a file, no model needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.output import emit


@o.command(o.SAMPLE, o.VIEW, o.DETAIL, o.MEMORY, o.JUDGE, o.REPORT)
def check_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Embedding matrices (rows = items); several give one table.",
            show_default=False,
        ),
    ],
    key: Annotated[
        str | None, typer.Option("--key", help="Array to read from .npz/.safetensors/.pt files.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Row label (default: file name).")
    ] = None,
    **params: object,
) -> None:
    """Audit embedding matrices stored in files (.npy .npz .safetensors .pt .csv .tsv .parquet).

    Example: [bold]infogauss check emb.npy --require gaussian --json -[/]
    """
    from infogauss_cli.pipelines.check import check_file  # numpy

    if name is not None and len(files) > 1:
        raise typer.BadParameter("--name labels a single FILE", param_hint="--name")
    out = o.outputs(params)
    out.preflight([*(("FILE", f) for f in files), ("--baseline", params["baseline"])])
    req = o.request(params, out)  # every output writable, and no input, before any file is read
    kw = {"key": key, "name": name, "protocol": req.protocol, "gates": req.gates}
    emit([row for f in files for row in check_file(f, options=req.diagnose, **kw)], out)
