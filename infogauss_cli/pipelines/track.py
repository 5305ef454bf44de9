"""``infogauss track``: one protocol over checkpoints ordered by step (synthetic, zoo entries like
``audit``, or a training run's folder of ``checkpoint-N/`` subfolders, each a sentence-transformers
(``modules.json``, its Normalize left out) or transformers (``config.json``, pooled by model type)
model); gates on each series' last checkpoint, :func:`trend_gate` over the series."""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import VIEWS, Compute, Protocol, Request
from infogauss_cli.core.progress import note
from infogauss_cli.data.sources import parse_data_spec
from infogauss_cli.extract.model import extract_tower, resolve_towers
from infogauss_cli.extract.result import Extraction
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.verdict import GateResult, Gates, evaluate_gates
from infogauss_cli.models.catalogue import parse_entry, resolve_models
from infogauss_cli.pipelines.audit import model_rows
from infogauss_cli.pipelines.synthetic import experiment as E
from infogauss_cli.pipelines.synthetic.checkpoints import (
    find_checkpoints,
    is_synthetic,
    load_encoder,
)
from infogauss_cli.pipelines.synthetic.train import population

if TYPE_CHECKING:  # pragma: no cover
    from infogauss_cli.models.zoo_schema import ZooEntry

TREND_METRICS = ("ad_compliance", "dp_compliance")
IMAGE_TYPES = ("vit", "dino", "deit", "dinov2", "beit")
SYNTHETIC = "synthetic checkpoints (epoch-*.json from `infogauss synthetic --save-checkpoints`)"
FOLDERS = "checkpoint-N/ subfolders holding modules.json or config.json (a training run's output)"
MODEL_FILES = ("modules.json", "config.json")
# a step named as such wins over an epoch (``epoch=3-step=77`` is step 77)
_NAMED = (
    re.compile(r"(?:step|steps|iter|iteration|checkpoint|ckpt)[-_=]?(\d+)", re.I),
    re.compile(r"epoch[-_=]?(\d+)", re.I),
)
_LAST_INT = re.compile(r"(\d+)(?!.*\d)")
Checkpoint = tuple[int, "ZooEntry | BadInputError", str]  # step, entry (or why not), label


class Series(NamedTuple):  # a model (and tower, view) over the checkpoints, in step order
    name: str
    rows: tuple[Row, ...]


def parse_step(name: str | Path, *, named_only: bool = False) -> int | None:
    """The step in a checkpoint name (``checkpoint-500``, ``epoch=3-step=77``: 77): after
    step/iter/checkpoint/ckpt, else epoch, else (unless ``named_only``) the last integer."""
    p = Path(str(name))
    for text in (p.name, p.parent.name):
        text = re.sub(r"\.(safetensors|pth?|bin|ckpt)$", "", text, flags=re.I)
        found = [m for rx in _NAMED for m in rx.findall(text)[-1:]][:1]
        if not found and not named_only:
            found = _LAST_INT.findall(text)
        if found:
            return int(found[-1])
    return None


def expand_weights(patterns: Sequence[str]) -> list[Path]:
    """Each pattern as a sorted glob, or a plain path; one matching nothing is an error."""
    out: list[Path] = []
    for pat in patterns:
        hits = sorted(glob.glob(str(Path(pat).expanduser()))) if glob.has_magic(pat) else [pat]
        if not hits or not Path(hits[0]).exists():
            raise BadInputError(f"--weights {pat}: no such file or folder")
        out += [Path(h) for h in hits]
    return out


def order_by_step(
    names: Sequence[str], steps: Sequence[int] | None, *, named_only: bool = False
) -> list[tuple[int, int]]:
    """``(step, index)`` pairs sorted by step, given or parsed from the names."""
    if steps is not None and len(steps) != len(names):
        raise BadInputError(f"--steps has {len(steps)} values for {len(names)} checkpoints")
    found = (
        list(steps) if steps is not None else [parse_step(n, named_only=named_only) for n in names]
    )
    if None in found:
        name = names[found.index(None)]
        raise BadInputError(f"cannot read a step from {name!r}; give them with --steps")
    if len(set(found)) != len(found):
        raise BadInputError(f"two checkpoints have the same step ({sorted(found)})")
    return sorted((s, i) for i, s in enumerate(found))


def with_weights(entry: ZooEntry, path: Path) -> ZooEntry:
    source = entry.source.model_copy(update={"weights": str(Path(path).resolve())})
    return entry.model_copy(update={"source": source, "pretrained": True})


def trend_gate(rows: Sequence[Row], direction: str, metric: str) -> GateResult:
    """Whether ``metric`` moved ``direction`` from the first to the last checkpoint by more than
    the null's central 95% band at the last one (Kendall's tau is reported, not decisive)."""
    name = f"trend-{direction}:{metric}"
    vals = [r.metrics.get(metric) for r in rows]
    if len(rows) < 2 or vals[0] is None or vals[-1] is None:
        return GateResult(name, direction, None, False, "needs two checkpoints with the metric")
    band, d = (rows[-1].null or {}).get(f"{metric}_band"), int(rows[-1].protocol.get("d", 1))
    margin = 2 * 1.96 * math.sqrt(0.95 * 0.05 / max(d, 1))  # no null: the binomial band's width
    if band and None not in band:
        margin = float(band[1] - band[0])
    change = float(vals[-1]) - float(vals[0])
    passed, threshold = {
        "up": (change > margin, f"> +{margin:.4f}"),
        "down": (-change > margin, f"< -{margin:.4f}"),
        "flat": (abs(change) <= margin, f"within ±{margin:.4f}"),
    }[direction]
    note = f"{vals[0]:.4f} -> {vals[-1]:.4f} over {len(rows)} checkpoints"
    tau, p = kendall(rows, metric, direction)
    if tau is not None:
        sided = "two-sided" if direction == "flat" else "one-sided"
        note += f"; Kendall tau {tau:+.2f}" + (f", {sided} p {p:.3g}" if p is not None else "")
    return GateResult(name, threshold, round(change, 6), passed, note)


def kendall(rows: Sequence[Row], metric: str, direction: str) -> tuple[float | None, float | None]:
    """Kendall's tau-b of (step, metric) and its p-value (one-sided, two-sided for ``flat``)."""
    pts = [(r.step, r.metrics.get(metric)) for r in rows if r.metrics.get(metric) is not None]
    if len(pts) < 3:
        return None, None
    from scipy import stats

    x, y = zip(*pts, strict=True)
    alt = {"up": "greater", "down": "less", "flat": "two-sided"}[direction]
    ties = len(set(y)) < len(y)
    res = stats.kendalltau(x, y, alternative=alt, method="auto" if ties else "exact")
    tau, p = float(res.statistic), float(res.pvalue)
    return (tau if math.isfinite(tau) else None), (p if math.isfinite(p) else None)


def apply_gates(series: Sequence[Series], gates: Gates, trend: str | None) -> list[Series]:
    """The gates on each series' last checkpoint; ``trend``: :func:`trend_gate` over the series."""
    out = []
    for s in series:
        rows = [dataclasses.replace(r, gates=()) for r in s.rows]
        last = s.rows[-1]
        if last.error is None and last.verdict is not None:
            key = {k: getattr(last, k) for k in ("model", "tower", "data", "protocol", "metrics")}
            found = list(evaluate_gates(key, last.verdict, gates))
            if trend:
                ok = [r for r in s.rows if r.error is None]
                found += [trend_gate(ok, trend, m) for m in TREND_METRICS]
            rows[-1] = dataclasses.replace(last, gates=tuple(found))
        out.append(Series(s.name, tuple(rows)))
    return out


def track_synthetic(
    paths: Sequence[str | Path], request: Request, view: str | None = None, trend: str | None = None
) -> list[Series]:
    """Rows of every checkpoint under ``paths``, its saved protocol (or ``view``, the ``n``)."""
    series: dict[Any, list[Row]] = {}
    cache: dict[Any, Any] = {}
    unreadable: list[tuple[Path, str]] = []
    for ck in find_checkpoints(list(paths), unreadable):
        cfg = dataclasses.replace(
            ck.config, view=view or ck.config.view, n_eval=request.protocol.n or ck.config.n_eval
        )
        key = (ck.run.data, cfg)
        if key not in cache:
            cache[key] = E.held_out(population(cfg.data_spec(ck.run.data), cfg.seed), cfg)
        # the run's name at every epoch (row_name drops "supervised" at epoch 0)
        name = E.row_name(ck.run, 1).rsplit(" E", 1)[0]
        model = f"{name} E{ck.epoch}"
        try:
            snap = E.evaluate(load_encoder(ck), ck.run, ck.epoch, cache[key], cfg, ck.train_s)
        except BadInputError as exc:
            for v in VIEWS[cfg.view]:
                row = Row(model=model, error=str(exc), step=ck.step)
                series.setdefault((name, cfg, v), []).append(row)
            continue
        for r in E.snapshot_rows([snap], cfg, Request(diagnose=request.diagnose)):
            row = dataclasses.replace(r, model=model, step=ck.step)
            series.setdefault((name, cfg, r.protocol["view"]), []).append(row)
        note(f"[dim]{model}: step {ck.step}[/]")
    found = [Series(f"{name} ({v})", tuple(rows)) for (name, _, v), rows in series.items()]
    found += [Series(str(p), (Row(model=str(p), error=why),)) for p, why in unreadable]
    return apply_gates(found, request.gates, trend)


def zoo_checkpoints(
    refs: Sequence[str],
    compute: Compute,
    weights: Sequence[Path] = (),
    steps: Sequence[int] | None = None,
) -> list[Checkpoint]:
    """``(step, entry, label)`` in step order: ``refs``, or one entry with each ``weights`` file
    (:func:`expand_weights`); the zoo, revision and objective of ``compute``."""
    zoo, revision, objective = compute.zoo, compute.revision, compute.objective
    if weights and revision is not None:
        raise BadInputError("--revision pins hub weights; --weights loads local files: use one")
    if weights:
        if len(refs) != 1:
            raise BadInputError(
                f"--weights needs exactly one zoo entry, got {len(refs)} ({', '.join(refs)}); "
                "quote the glob so the shell does not expand it"
            )
        (base,) = resolve_models(refs, zoo_path=zoo, objective=objective)
        entries = [with_weights(base, f) for f in weights]
        names = [str(f) for f in weights]
        labels = [f"{base.id} @ {f.name}" for f in weights]
    else:
        entries = resolve_models(refs, zoo_path=zoo, revision=revision, objective=objective)
        names, labels = list(refs), [e.ref for e in entries]
    # zoo ids hold digits that are no steps (resnet34): only step-NNN style names count there
    order = order_by_step(names, steps, named_only=not weights)
    return [(step, entries[i], labels[i]) for step, i in order]


def track_zoo(
    checkpoints: Sequence[Checkpoint], request: Request, trend: str | None = None
) -> list[Series]:
    """Extract and diagnose every checkpoint on the same items (a failed one: an error row)."""
    data, protocol = request.data, request.protocol
    source = parse_data_spec(data.data, data)
    ids = {e.id for _, e, _ in checkpoints if not isinstance(e, BadInputError)}
    base = next(iter(ids)) if len(ids) == 1 else "zoo refs"
    series: dict[tuple[str | None, str], list[Row]] = {}
    failed = [(s, label, str(e)) for s, e, label in checkpoints if isinstance(e, BadInputError)]
    for step, entry, label in checkpoints:
        if isinstance(entry, BadInputError):
            continue
        towers = resolve_towers(entry.towers, source, data.tower, entry.ref)
        try:
            done = {t: extract_tower(entry, source, t, request) for t in towers}
        except BadInputError as exc:  # weights that are no checkpoint: this one only
            done = dict.fromkeys(towers, exc)
        for t, ex in done.items():  # a failed one: its error row in every view
            extra = _uniformity(ex.embeddings, protocol) if isinstance(ex, Extraction) else {}
            for r in model_rows(entry, source, (t, None, ex), request, extra, label):
                null = {**r.null, "uniformity": extra["uniformity_ideal"]} if extra else r.null
                row = dataclasses.replace(r, step=step, null=null)
                for v in [r.protocol["view"]] if extra else protocol.views:
                    series.setdefault((t, v), []).append(row)
    if failed:  # an error row in every series (one per view when none)
        for t, v in list(series) or [(None, v) for v in protocol.views]:
            rows = series.setdefault((t, v), [])
            rows += [Row(model=lb, tower=t, error=err, step=s) for s, lb, err in failed]
            rows.sort(key=lambda r: r.step or 0)
    found = [Series(f"{base} {t or 'all'} ({v})", tuple(rows)) for (t, v), rows in series.items()]
    return apply_gates(found, request.gates, trend)


def _uniformity(x: np.ndarray, protocol: Protocol) -> dict[str, float]:
    from infogauss_cli.diagnostics import subsample, validate_matrix
    from infogauss_cli.diagnostics.sphere import uniformity

    sub = np.asarray(subsample(validate_matrix(x), protocol.n, protocol.seed)[0], np.float64)
    u = sub / np.maximum(np.linalg.norm(sub, axis=1, keepdims=True), 1e-12)
    res = uniformity(u, max_rows=E.UNIFORMITY_ROWS, seed=protocol.seed)
    return {"uniformity": float(res.value), "uniformity_ideal": float(res.ideal)}


def checkpoint_dirs(folder: str | Path) -> list[Path]:
    subs = sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []
    return [p for p in subs if p.is_dir() and any((p / f).is_file() for f in MODEL_FILES)]


def no_checkpoints(folder: str | Path) -> str:
    msg = f"{folder}: holds no checkpoints; expected {SYNTHETIC}, or {FOLDERS}"
    if any((Path(folder) / name).is_file() for name in MODEL_FILES):
        msg += (
            "; it is itself a model folder: pass the run folder above it, or a zoo entry with "
            f"--weights {folder}"
        )
    return msg


def target_kind(target: str | Path) -> str | None:
    """``"synthetic"``, ``"folders"`` or None (a zoo ref); neither or both: BadInputError."""
    p = Path(target)
    if not p.is_dir():
        return "synthetic" if is_synthetic(p) else None
    synthetic, folders = is_synthetic(p), checkpoint_dirs(p)
    if synthetic and folders:
        names = ", ".join(f.name for f in folders[:3]) + (", ..." if len(folders) > 3 else "")
        raise BadInputError(
            f"{p}: holds two kinds of checkpoints, {SYNTHETIC} and checkpoint folders "
            f"({names}); track them separately: give the synthetic runs' subfolders, and move "
            "the checkpoint folders into a run folder of their own"
        )
    if not synthetic and not folders:
        raise BadInputError(no_checkpoints(p))
    return "synthetic" if synthetic else "folders"


def targets_kind(targets: Sequence[str]) -> str | None:
    """What ``track`` was given; mixed kinds are a BadInputError."""
    kinds = [target_kind(t) for t in targets]
    if "folders" in kinds and len(targets) > 1:
        raise BadInputError(
            "a training run's folder of checkpoint-N/ subfolders is tracked on its own: give "
            f"one folder, not {len(targets)} targets ({', '.join(targets)})"
        )
    if "synthetic" in kinds and None in kinds:
        raise BadInputError(
            f"{targets[kinds.index(None)]}: not a synthetic checkpoint, given with synthetic "
            "checkpoints; track synthetic checkpoints and zoo models separately"
        )
    return kinds[0] if kinds else None


def _read_config(path: Path) -> dict[str, object]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: unreadable, not a JSON config ({exc})") from None
    if not isinstance(config, dict):
        raise BadInputError(f"{path}: unreadable, a JSON {type(config).__name__}, not an object")
    return config


def _spec(folder: Path) -> dict[str, object]:
    where, source = folder / "config.json", {"name": folder.name, "weights": str(folder.resolve())}
    if (folder / "modules.json").is_file():  # sentence-transformers: a Dense module sets the width
        dim = _read_config(where).get("hidden_size") if where.is_file() else None
        for dense in sorted(folder.glob("*_Dense/config.json")):
            where, dim = dense, _read_config(dense).get("out_features", dim)
        if dim is None and not where.is_file():
            raise BadInputError(f"{folder}: cannot tell the embedding width (no config.json)")
        source["normalize"] = False
        backend, towers = "sentence-transformers", ["text"]
    else:
        config = _read_config(where)
        kind = str(config.get("model_type", ""))
        pooling = "clip" if kind == "clip" else "cls" if kind in IMAGE_TYPES else "mean"
        towers = {"clip": ["image", "text"], "cls": ["image"], "mean": ["text"]}[pooling]
        dim = config.get("projection_dim" if pooling == "clip" else "hidden_size")
        source["pooling"], backend = pooling, "transformers"
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise BadInputError(f"{where}: no embedding width (hidden_size/projection_dim {dim!r})")
    return {"backend": backend, "source": source, "towers": towers, "dim": dim}


def _entry(folder: Path, run: str) -> ZooEntry | BadInputError:
    try:
        spec = _spec(folder)
    except BadInputError as exc:
        return exc
    spec |= {"id": run, "objective": "other", "embedding": f"{spec['backend']} checkpoint"}
    try:
        return parse_entry(spec)
    except BadInputError as exc:
        return BadInputError(f"{folder}: {exc}")


def folder_checkpoints(folder: str | Path, steps: Sequence[int] | None = None) -> list[Checkpoint]:
    """``(step, entry, label)`` in step order; an unreadable config gives its error as the entry."""
    dirs = checkpoint_dirs(folder)
    if not dirs:
        raise BadInputError(no_checkpoints(folder))
    run = re.sub(r"[^A-Za-z0-9._+-]+", "-", Path(folder).resolve().name).strip("-.") or "run"
    run = run if run[0].isalnum() else f"run{run}"
    entries = [_entry(d, run) for d in dirs]
    order = order_by_step([d.name for d in dirs], steps)
    return [(step, entries[i], f"{run} @ {dirs[i].name}") for step, i in order]


def read_files(target: str | Path) -> list[Path]:
    """The files ``track`` reads from ``target`` (its outputs must not overwrite them)."""
    root = Path(target).expanduser()
    if not root.is_dir():
        return [root] if root.is_file() else []
    found = [p for p in root.rglob("epoch-*.*") if p.suffix in (".json", ".safetensors")]
    own = [root] if (root / "config.json").is_file() else []
    return found + [p for d in [*own, *checkpoint_dirs(root)] for p in d.rglob("*") if p.is_file()]
