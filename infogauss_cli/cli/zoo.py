"""`infogauss zoo list | show | validate`: the registered models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich import box
from rich.markup import escape
from rich.table import Table

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import StdoutConsole
from infogauss_cli.cli.lazy import HelpCommand, sub_app
from infogauss_cli.core.errors import BadInputError, InfogaussError
from infogauss_cli.models.catalogue import (
    check_entry,
    find_zoo,
    load_zoo,
    on_the_fly_prefix,
    resolve_models,
    weights_status,
    zoo_file_id,
)
from infogauss_cli.models.validation import format_errors
from infogauss_cli.models.zoo_schema import SCHEMA_VERSION, ZooEntry

app = sub_app("The model zoo: registered models, their sources and embeddings.")

YAML = o.shared(bool, False, "--yaml", o.OPT, name="as_yaml")


@app.command("list", cls=HelpCommand)
@o.command(o.LIST_JSON, o.ZOO)
def list_cmd(**params: object) -> None:
    """List the registered models.

    Example: [bold]infogauss zoo list --json | jq -r '.models[].id'[/]
    """
    z = load_zoo(params["zoo"])  # type: ignore[arg-type]
    if params["as_json"]:
        models = [{**e.model_dump(mode="json"), "ref": e.ref} for e in z.entries]
        typer.echo(json.dumps({"zoo": z.path, "models": models}, indent=2))
        return
    table = Table(title=f"{len(z)} models · {z.path}", title_justify="left", title_style="dim")
    table.box, table.pad_edge = box.SIMPLE_HEAD, False
    id_width = max((len(e.ref) + 1 for e in z.entries), default=2)
    for col in ("id / aliases", "backend", "towers", "objective"):
        table.add_column(col, overflow="fold", min_width=id_width if "id" in col else None)
    table.add_column("dim", justify="right", no_wrap=True)
    for e in z.entries:  # aliases under the id, a * for the paper's models
        aliases = f"\n[dim]{', '.join(e.aliases)}[/]" if e.aliases else ""
        label = f"[bold]{e.ref}[/]{'*' if e.paper_row else ''}{aliases}"
        table.add_row(label, e.backend, "+".join(e.towers), e.objective, str(e.dim))
    console = StdoutConsole()
    console.print(table)
    console.print("[dim]* reproduces a row of the paper's table (`zoo show MODEL` names it)[/]")
    console.print(
        "[dim]MODEL@random is the seeded random-init twin of any model; "
        "`infogauss zoo show MODEL` for details.[/]"
    )


@app.command("show", cls=HelpCommand)
@o.command(YAML, o.ZOO, o.OBJECTIVE)
def show_cmd(model: Annotated[str, typer.Argument(help=o.MODEL_HELP)], **params: object) -> None:
    """Show one model: its source, embedding, and where its weights come from.

    Examples: [bold]infogauss zoo show clip[/], [bold]infogauss zoo show timm:resnet34.tv_in1k[/]
    """
    zoo, objective = params["zoo"], params["objective"]
    (entry,) = resolve_models([model], zoo_path=zoo, objective=objective)  # type: ignore[arg-type]
    fly = on_the_fly_prefix(model) is not None
    where = f"none (made on the fly from {model})" if fly else str(find_zoo(zoo))  # type: ignore[arg-type]
    if params["as_yaml"]:
        _print_yaml(entry, fly)
        return
    try:
        status = weights_status(entry)
        weights = {k: getattr(status, k) for k in ("kind", "location", "available", "detail")}
    except InfogaussError as exc:
        weights = {"kind": "unavailable", "location": "-", "available": False, "detail": str(exc)}
    src = entry.source.model_dump(mode="json", exclude_defaults=True)
    dim = f"{entry.dim}-d" if entry.dim else "dim from the built model"
    init = "pretrained weights" if entry.pretrained else f"random, seed {entry.init_seed}"
    paper = entry.paper_row  # a line of the paper's table, or one per tower
    if isinstance(paper, dict):
        paper = " / ".join(paper[t] for t in entry.towers if t in paper)
    detail = f" ({escape(str(weights['detail']))})" if weights["detail"] else ""
    rows = {
        "model": entry.ref,
        "aliases": ", ".join(entry.aliases) or "-",
        "backend": entry.backend,
        "source": ", ".join(f"{k}={v}" for k, v in src.items()),
        "towers": ", ".join(entry.towers),
        "objective": entry.objective,
        "embedding": f"{dim}: {entry.embedding}",
        "paper row": paper or "-",
        "init": init,
        "weights": f"{weights['kind']}: {weights['location']}",
        "available": ("[green]yes[/]" if weights["available"] else "[yellow]no[/]") + detail,
        "notes": entry.notes or "-",
        "zoo": where,
    }
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, value in rows.items():
        table.add_row(key, value if key == "available" else escape(str(value)))
    StdoutConsole().print(table)


def _print_yaml(entry: ZooEntry, on_the_fly: bool) -> None:
    """The entry as a one-model zoo file (made on the fly: a zoo id and ``dim: null``)."""
    data = {"id": entry.id, **entry.model_dump(mode="json", exclude_defaults=True)}  # with the id
    if on_the_fly:
        data.pop("notes", None)
        data = {**data, "id": zoo_file_id(entry), "dim": None}
        typer.echo(
            "note: set `dim` to the embedding size (`infogauss extract` prints it) before using "
            "this entry in a zoo file",
            err=True,
        )
    doc = {"schema_version": SCHEMA_VERSION, "models": [data]}
    typer.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100), nl=False)


@app.command("validate", cls=HelpCommand)
@o.command(o.shared(bool, False, "--deep", o.OPT))
def validate_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(help="Zoo file (default: $INFOGAUSS_ZOO, then the packaged zoo)."),
    ] = None,
    **params: object,
) -> None:
    """Check a zoo file against the schema; exit 2 listing every error with its field path.

    Example: [bold]infogauss zoo validate my_zoo.yaml[/]
    """
    z = load_zoo(path)
    if deep := bool(params["deep"]):
        problems = []
        for i, entry in enumerate(z.entries):
            try:
                check_entry(entry)
            except BadInputError as exc:
                problems.append(f"models[{i}].source: {exc}")
        if problems:
            raise BadInputError(format_errors(z.path, problems))
    typer.echo(f"OK: {len(z)} models in {z.path}" + (" (names checked)" if deep else ""))
