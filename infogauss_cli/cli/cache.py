"""`infogauss cache list | prune | verify`: the embedding cache."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.filesize import decimal
from rich.table import Table

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import StdoutConsole
from infogauss_cli.cli.lazy import HelpCommand, sub_app
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.preflight import default_cache_dir
from infogauss_cli.pipelines import cache as admin

app = sub_app("The embedding cache: list entries, prune old ones, verify every chunk.")

PRUNE = (
    o.shared(str | None, None, "--older-than", o.OPT),
    o.shared(list[str] | None, None, "--model", o.OPT),
    o.shared(bool, False, "--dry-run", o.OPT),
    o.CACHE_DIR,
)


def _root(cache_dir: object) -> Path:
    return Path(str(cache_dir)).expanduser() if cache_dir is not None else default_cache_dir()


def human_age(seconds: float) -> str:
    """``3d``, ``5h``, ``12m``, ``40s``."""
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit}"
    return f"{seconds:.0f}s"


@app.command("list", cls=HelpCommand)
@o.command(o.LIST_JSON, o.CACHE_DIR)
def list_cmd(**params: object) -> None:
    """List the cache entries: model, tower, data, items, size, age (since last use).

    Example: [bold]infogauss cache list --json | jq '.entries[] | select(.age_s > 2592000)'[/]
    """
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


@app.command("prune", cls=HelpCommand)
@o.command(PRUNE)
def prune_cmd(**params: object) -> None:
    """Remove cache entries by age and/or model (both: both must hold). Asks nothing; prints
    what it removed.

    Example: [bold]infogauss cache prune --older-than 30d --dry-run[/]
    """
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


@app.command("verify", cls=HelpCommand)
@o.command(o.CACHE_DIR)
def verify_cmd(**params: object) -> None:
    """Check every chunk's checksum, dtype and shape; exit 1 naming each bad chunk (a bad
    chunk is recomputed by the next run that needs it)."""
    entries = admin.cache_entries(_root(params["cache_dir"]))
    bad = [(path, why) for e in entries for path, why in admin.verify_entry(e)]
    chunks = sum(len(list(e.path.glob("chunk-*.json"))) for e in entries)
    for path, why in bad:
        typer.echo(f"bad chunk {path}: {why}", err=True)
    typer.echo(f"{len(entries)} entries, {chunks} chunks, {len(bad)} bad")
    if bad:
        raise typer.Exit(1)
