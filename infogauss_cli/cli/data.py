"""`infogauss data fetch DATASET` and `infogauss data info`: the datasets infogauss can fetch."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import terminal
from infogauss_cli.cli.lazy import HelpCommand, sub_app
from infogauss_cli.core.safe_text import markup_safe, printable
from infogauss_cli.data.fetch import MANIFESTS, dataset_status, fetch, resolve_data_dir

app = sub_app(
    "Fetch MS-COCO val2017 (download, verify md5, extract) and show what data is present."
)


Dataset = o.choices("Dataset", ("coco-val2017",))
DIR = o.shared(Path | None, None, "--dir", o.OPT, name="data_dir", metavar="DIR")
FETCH = (
    DIR,
    o.shared(str | None, None, "--mirror", o.OPT, metavar="URL"),
    o.shared(bool, False, "--force", o.OPT),
    o.shared(bool, False, "--keep-archives", o.OPT),
    o.QUIET,
)


def _where(data_dir: Path | None) -> tuple[Path, str]:
    if data_dir is not None:
        return resolve_data_dir(data_dir), "--dir"
    env = os.environ.get("INFOGAUSS_DATA")
    return resolve_data_dir(None), "$INFOGAUSS_DATA" if env else "default (user cache dir)"


@app.command("fetch", cls=HelpCommand)
@o.command(FETCH)
def fetch_cmd(
    dataset: Annotated[Dataset, typer.Argument(help="What to fetch.", show_default=False)],
    **params: object,
) -> None:
    """Download, verify (md5) and extract a dataset; an interrupted download resumes.

    Example: [bold]infogauss data fetch coco-val2017[/]
    """
    manifest, data_dir = MANIFESTS[dataset.value], params["data_dir"]
    folder, _ = _where(data_dir)  # type: ignore[arg-type]
    kw = {k: params[k] for k in ("mirror", "force", "keep_archives")}
    result = fetch(manifest, folder, **kw)  # type: ignore[arg-type]
    if params["quiet"]:
        return
    root = printable(result.root)
    if result.already_present:
        typer.echo(f"{manifest.name} is already complete in {root} (--force fetches again)")
        return
    typer.echo(
        f"{manifest.name} is ready in {root}: {result.files} files extracted, "
        f"{result.downloaded_bytes / 1e6:,.1f} MB downloaded in {result.elapsed_s:,.1f} s"
    )
    if data_dir is not None and os.environ.get("INFOGAUSS_DATA") != str(folder):
        typer.echo(f"use it with: export INFOGAUSS_DATA={printable(folder)}")


@app.command("info", cls=HelpCommand)
@o.command(DIR, o.LIST_JSON)
def info_cmd(**params: object) -> None:
    """Show where the data folder is and which datasets are present, complete or partial."""
    folder, origin = _where(params["data_dir"])  # type: ignore[arg-type]
    statuses = [dataset_status(m, folder) for m in MANIFESTS.values()]
    if params["as_json"]:
        datasets = [{k: v for k, v in asdict(s).items() if k != "data_dir"} for s in statuses]
        doc = {"schema": "infogauss.data/v1", "data_dir": folder, "data_dir_from": origin}
        typer.echo(json.dumps({**doc, "datasets": datasets}, indent=2, default=str))
        return
    console = terminal()
    where = f"data dir: [bold]{markup_safe(folder)}[/] ({markup_safe(origin)})"
    console.print(where, highlight=False)
    for s in statuses:
        table = Table(title=s.name, title_justify="left", show_header=False)
        table.add_column("what", style="bold")
        table.add_column("value")
        missing = "[yellow]incomplete[/]" if s.root.exists() else "[dim]absent[/]"
        status = f"{missing}: run infogauss data fetch {s.name}"
        if s.complete:
            status = f"[green]complete[/] ({(s.marker or {}).get('completed_at', '?')})"
        table.add_row("status", status)
        table.add_row("folder", markup_safe(s.root))
        for pattern, count in s.members.items():
            many = any(ch in pattern for ch in "*?[")
            found = f"{count} files" if many else "present" if count else "missing"
            table.add_row(markup_safe(pattern), found)
        marker = s.root / f".{s.name}.complete.json"
        table.add_row("marker", markup_safe(marker) if s.complete else "none")
        for d in s.downloads:
            state = "partial download" if d.partial else "archive"
            table.add_row(state, f"{markup_safe(d.path)} ({d.bytes / 1e6:,.1f} MB)")
        console.print(table)
