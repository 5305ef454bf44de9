"""Synthetic encoders on disk (``synthetic --save-checkpoints DIR``) and back (``track DIR``):
``DIR/{input}-{encoder}-{objective}/epoch-{EEEE}.safetensors`` beside its ``epoch-{EEEE}.json``
sidecar (format, run, epoch, step, train_s, weights, config), from which ``track`` rebuilds rows."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError, io_failure
from infogauss_cli.core.safe_text import stays_inside
from infogauss_cli.pipelines.synthetic.train import Run, SyntheticConfig, build_encoder

if TYPE_CHECKING:
    from torch import nn

FORMAT = "infogauss.synthetic-checkpoint/v1"


def save_checkpoint(
    encoder: nn.Module, run: Run, epoch: int, cfg: SyntheticConfig, root: Path, train_s: float
) -> Path:
    """Write the weights and their JSON sidecar (atomically); returns the JSON path."""
    from safetensors.torch import save

    folder = Path(root) / f"{run.data}-{run.encoder}-{run.objective}"
    folder.mkdir(parents=True, exist_ok=True)  # a failure: the saver's IOFailure at the end
    stem, step = f"epoch-{epoch:04d}", epoch * cfg.steps_per_epoch
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    atomic_write_bytes(folder / f"{stem}.safetensors", save(state))
    meta = dict(format=FORMAT, run=dataclasses.asdict(run), epoch=epoch, step=step)
    meta |= dict(train_s=round(train_s, 3), weights=f"{stem}.safetensors", config=vars(cfg))
    path = folder / f"{stem}.json"
    atomic_write_bytes(path, json.dumps(meta, indent=1).encode())
    return path


@dataclass
class CheckpointSaver:
    """Saves into ``root`` until a write fails; :meth:`raise_failure` reports it at the end."""

    root: Path
    saved: list[Path] = field(default_factory=list)
    failure: OSError | None = None

    def save(
        self, encoder: nn.Module, run: Run, epoch: int, cfg: SyntheticConfig, t: float
    ) -> None:
        if self.failure is None:
            try:
                self.saved.append(save_checkpoint(encoder, run, epoch, cfg, self.root, t))
            except OSError as exc:
                self.failure = exc

    def raise_failure(self) -> None:
        if self.failure is not None:
            fix = (
                f"the {len(self.saved)} checkpoint(s) saved before it are kept in {self.root}, "
                "and the report was written; free space (or choose another --save-checkpoints "
                "folder) and rerun to save them all"
            )
            raise io_failure(self.failure, operation="write --save-checkpoints", fix=fix)


class SyntheticCheckpoint(NamedTuple):
    weights: Path
    run: Run
    epoch: int
    step: int
    train_s: float
    config: SyntheticConfig


def read_checkpoint(path: Path) -> SyntheticCheckpoint:
    """Parse one sidecar; a file that is not one is a :class:`BadInputError`."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable synthetic checkpoint ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BadInputError(f"{path}: not a synthetic checkpoint (expected format {FORMAT!r})")
    name = meta.get("weights")
    if isinstance(name, str) and not stays_inside(name):
        raise BadInputError(
            f"{path}: its weights entry {name!r} leaves the checkpoint's folder; it must name a "
            "file beside the .json (e.g. epoch-0030.safetensors)"
        )
    for key in ("run", "config"):
        if not isinstance(meta.get(key), dict):
            raise BadInputError(f"{path}: malformed synthetic checkpoint ({key} is not an object)")
    try:
        weights = Path(path).parent / name
        fields = {f.name for f in dataclasses.fields(SyntheticConfig)}
        raw = {k: v for k, v in meta["config"].items() if k in fields}
        raw |= {key: tuple(raw.get(key, ())) for key in ("settings", "eval_epochs")}
        run, epoch, step = Run(**meta["run"]), int(meta["epoch"]), int(meta["step"])
        train_s, cfg = float(meta.get("train_s", 0.0)), SyntheticConfig(**raw)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"{path}: malformed synthetic checkpoint ({exc})") from None
    if not weights.is_file():
        raise BadInputError(f"{path}: its weights file {weights} is missing")
    return SyntheticCheckpoint(weights, run, epoch, step, train_s, cfg)


def is_synthetic(path: str | Path) -> bool:
    """A sidecar file, or a folder holding sidecars (at any depth)."""
    p = Path(path)
    if p.is_file():
        return p.suffix == ".json" and FORMAT in p.read_text(encoding="utf-8", errors="ignore")
    return p.is_dir() and any(_sidecars(p))


def _sidecars(folder: Path) -> list[Path]:
    return sorted(q for q in folder.rglob("epoch-*.json") if q.is_file())


def find_checkpoints(
    paths: list[str | Path], unreadable: list[tuple[Path, str]] | None = None
) -> list[SyntheticCheckpoint]:
    """Every checkpoint under ``paths``, by run, then step; ``unreadable`` collects bad ones."""
    found: list[SyntheticCheckpoint] = []
    for p in map(Path, paths):
        files = [p] if p.is_file() else _sidecars(p) if p.is_dir() else None
        if not files:
            raise BadInputError(f"{p}: no synthetic checkpoints (epoch-*.json) found")
        for f in files:
            try:
                found.append(read_checkpoint(f))
            except BadInputError as exc:
                if unreadable is None:
                    raise
                unreadable.append((f, str(exc)))
    order = list(dict.fromkeys((c.run, c.config) for c in found))
    found.sort(key=lambda c: (order.index((c.run, c.config)), c.step))
    return found


def load_encoder(ck: SyntheticCheckpoint) -> nn.Module:
    """The encoder of a checkpoint, weights loaded, in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cfg = ck.config
    encoder = build_encoder(
        ck.run.encoder, cfg.data_spec(ck.run.data).dim, cfg.d, hidden=cfg.hidden
    )
    try:
        encoder.load_state_dict(load_file(str(ck.weights)))
    except SafetensorError as exc:  # truncated or not safetensors at all
        raise BadInputError(f"{ck.weights}: unreadable weights ({exc})") from None
    except (RuntimeError, OSError) as exc:
        raise BadInputError(f"{ck.weights}: weights do not fit the encoder ({exc})") from None
    return encoder.eval()
