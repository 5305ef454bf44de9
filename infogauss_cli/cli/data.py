"""`infogauss data fetch DATASET` and `infogauss data info` (the datasets infogauss can fetch);
`infogauss cache list | prune | verify` (the embedding cache)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.filesize import decimal
from rich.table import Table

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import StdoutConsole, terminal
from infogauss_cli.cli.lazy import HelpCommand, sub_app
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.preflight import default_cache_dir
from infogauss_cli.core.safe_text import markup_safe, printable
from infogauss_cli.data.fetch import MANIFESTS, dataset_status, fetch, resolve_data_dir

app = sub_app(
    "Fetch MS-COCO val2017 (download, verify md5, extract) and show what data is present."
)
cache_app = sub_app("The embedding cache: list entries, prune old ones, verify every chunk.")

Dataset = o.choices("Dataset", ("coco-val2017",))
DIR = o.shared(Path | None, None, "--dir", o.OPT, name="data_dir", metavar="DIR")
FETCH = (
    DIR,
    o.shared(str | None, None, "--mirror", o.OPT, metavar="URL"),
    o.shared(bool, False, "--force", o.OPT),
    o.shared(bool, False, "--keep-archives", o.OPT),
    o.QUIET,
)
PRUNE = (
    o.shared(str | None, None, "--older-than", o.OPT),
    o.shared(list[str] | None, None, "--model", o.OPT),
    o.shared(bool, False, "--dry-run", o.OPT),
    o.CACHE_DIR,
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


def _root(cache_dir: object) -> Path:
    return Path(str(cache_dir)).expanduser() if cache_dir is not None else default_cache_dir()


def human_age(seconds: float) -> str:
    """``3d``, ``5h``, ``12m``, ``40s``."""
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit}"
    return f"{seconds:.0f}s"


@cache_app.command("list", cls=HelpCommand)
@o.command(o.LIST_JSON, o.CACHE_DIR)
def list_cmd(**params: object) -> None:
    """List the cache entries: model, tower, data, items, size, age (since last use).

    Example: [bold]infogauss cache list --json | jq '.entries[] | select(.age_s > 2592000)'[/]
    """
    from infogauss_cli.pipelines import cache as admin  # numpy

    root = _root(params["cache_dir"])
    infos = admin.list_entries(root)
    if params["as_json"]:
        entries = [asdict(i) | {"path": str(i.path), "age_s": round(i.age_s(), 1)} for i in infos]
        total = sum(i.size_bytes for i in infos)
        typer.echo(json.dumps({"cache": str(root), "entries": entries, "size_bytes": total}))
        return
    table = Table(title=f"{len(infos)} entries · {root}", title_justify="left", pad_edge=False)
    for col in ("model", "tower", "data", "items", "size", "age"):
        right = col in ("items", "size", "age")
        table.add_column(col, justify="right" if right else "left", overflow="fold")
    for i in infos:
        items = "stream" if i.items is None else str(i.items)
        size, age = decimal(i.size_bytes), human_age(i.age_s())
        table.add_row(i.model, i.tower, i.data, items, size, age)
    StdoutConsole().print(table)


@cache_app.command("prune", cls=HelpCommand)
@o.command(PRUNE)
def prune_cmd(**params: object) -> None:
    """Remove cache entries by age and/or model (both: both must hold). Asks nothing; prints
    what it removed.

    Example: [bold]infogauss cache prune --older-than 30d --dry-run[/]
    """
    from infogauss_cli.pipelines import cache as admin  # numpy

    older_than, model, dry_run = (params[k] for k in ("older_than", "model", "dry_run"))
    if older_than is None and not model:
        raise BadInputError("cache prune needs --older-than AGE and/or --model ID")
    age = admin.parse_age(str(older_than)) if older_than is not None else None
    root = _root(params["cache_dir"])
    old = [i for i in admin.list_entries(root) if age is None or i.age_s() > age]
    chosen = [i for i in old if not model or i.model in model]  # type: ignore[operator]
    verb = "would remove" if dry_run else "removed"
    for info in chosen:
        if not dry_run:
            admin.remove_entry(root, info)
        line = f"{verb} {info.path.name} ({info.model} {info.tower}, {info.data}, "
        typer.echo(line + f"{decimal(info.size_bytes)}, unused {human_age(info.age_s())})")
    freed = decimal(sum(i.size_bytes for i in chosen))
    typer.echo(f"{verb} {len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'}, {freed}")


@cache_app.command("verify", cls=HelpCommand)
@o.command(o.CACHE_DIR)
def verify_cmd(**params: object) -> None:
    """Check every chunk's checksum, dtype and shape; exit 1 naming each bad chunk (a bad
    chunk is recomputed by the next run that needs it)."""
    from infogauss_cli.pipelines import cache as admin  # numpy

    entries = admin.cache_entries(_root(params["cache_dir"]))
    bad = [(path, why) for e in entries for path, why in admin.verify_entry(e)]
    chunks = sum(len(list(e.path.glob("chunk-*.json"))) for e in entries)
    for path, why in bad:
        typer.echo(f"bad chunk {path}: {why}", err=True)
    typer.echo(f"{len(entries)} entries, {chunks} chunks, {len(bad)} bad")
    if bad:
        raise typer.Exit(1)
