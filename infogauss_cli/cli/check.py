"""`infogauss check FILE`: audit an embedding matrix from a file, no model needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.output import emit

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
    emit(rows, req.outputs)
