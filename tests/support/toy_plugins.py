"""A toy backend and a toy streaming source, outside the package: what docs/zoo.md ("add a
backend") and docs/data.md ("add a source") show. Each is one module's worth of code plus one
registration line (see :func:`register`)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources.base import Item, check_tower
from infogauss_cli.models import (
    BackendSpec,
    Encoder,
    SourceSchema,
    WeightsStatus,
    ZooEntry,
    prepare_text,
)

FEATURES = 16


# ---- the backend --------------------------------------------------------------------------------
class ToySource(SourceSchema):
    """The zoo's ``source:`` block of a toy model: ``name`` plus a ``scale``."""

    scale: float = 1.0


def toy_collate(texts: list[str]):
    """Each text -> a seeded Gaussian feature vector (the "tokeniser")."""
    import numpy as np
    import torch

    rows = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(FEATURES) for t in texts]
    return {"x": torch.tensor(np.stack(rows), dtype=torch.float32)}


def toy_forward(module, batch):
    return module(batch["x"])


def build(entry: ZooEntry, tower: str) -> Encoder:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(entry.init_seed)
        module = torch.nn.Linear(FEATURES, entry.dim, bias=False)
    module.weight.data *= entry.source.scale
    return Encoder(
        model_id=entry.ref,
        tower=tower,  # type: ignore[arg-type]
        dim=entry.dim,
        module=module,
        prepare=prepare_text,
        collate=toy_collate,
        forward=toy_forward,
        fingerprint={"backend": "toy", "scale": str(entry.source.scale)},
    )


def check(entry: ZooEntry) -> None:
    if entry.source.scale <= 0:
        raise BadInputError(f"{entry.id}: source.scale must be positive")


def weights_status(entry: ZooEntry) -> WeightsStatus:
    return WeightsStatus("random", "-", True, "toy weights")


BACKEND = BackendSpec("toy", ToySource, build, check, weights_status, towers=("text",))


# ---- the streaming source -----------------------------------------------------------------------
class ToyStream:
    """``toy:N``: N generated sentences, yielded one at a time (a length is known)."""

    towers = ("text",)

    def __init__(self, n: int, name: str) -> None:
        self.n, self.name = n, name

    def items(self, tower: str) -> _Items:
        check_tower(self.name, self.towers, tower)
        return _Items(self.n)

    def fingerprint(self, tower: str) -> str:
        return f"toy-stream:{self.n}"


class _Items:
    """An iterable with a length: not a list, nothing built before it is read."""

    def __init__(self, n: int) -> None:
        self.n, self.reads = n, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Item]:
        self.reads += 1
        for i in range(self.n):
            yield Item(id=f"toy#{i}", text=f"sentence number {i} of the toy stream")


def build_source(rest: str, options) -> ToyStream:
    if not rest.isdigit() or int(rest) < 1:
        raise BadInputError(f"--data toy:{rest}: expected toy:N with N a positive number")
    return ToyStream(int(rest), options.spec)


# ---- the registration lines ---------------------------------------------------------------------
def register() -> None:
    from infogauss_cli.data.sources import register_source
    from infogauss_cli.models import register_backend

    register_backend(BACKEND)
    register_source("toy", "toy:N", build_source)
