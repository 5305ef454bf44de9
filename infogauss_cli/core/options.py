"""Option objects of the library: what a command asks for, grouped by the layer that uses it,
with each vocabulary (views, towers, precisions...) defined once. The CLI builds them from its
options (field names are the option names: :func:`from_params`) and hands them down."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from infogauss_cli.core.atomic import is_stdout
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.preflight import check_distinct, preflight_outputs

ViewName = Literal["auto", "l2", "raw", "both"]
TowerName = Literal["image", "text", "all"]
PrecisionName = Literal["auto", "fp32", "bf16", "fp16"]
DecodeName = Literal["cpu", "exact", "fast", "gpu"]
RuleName = Literal["calibrated", "paper"]

VIEW_CHOICES: tuple[str, ...] = get_args(ViewName)
TOWER_CHOICES: tuple[str, ...] = get_args(TowerName)
PRECISIONS: tuple[str, ...] = get_args(PrecisionName)
DECODES: tuple[str, ...] = get_args(DecodeName)
RULES: tuple[str, ...] = get_args(RuleName)
VIEWS: dict[str, tuple[str, ...]] = {"auto": ("l2",), "l2": ("l2",), "raw": ("raw",)}
VIEWS["both"] = ("l2", "raw")

ALL = "all"  # every layer of --layers
MAX_SHARDS = 1_000_000
MIB = 1 << 20
GIB = 1 << 30
MIN_BUDGET = 64 * MIB
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": MIB, "g": GIB, "t": 1 << 40}


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``choices``, else :class:`BadInputError` naming them."""
    if value not in choices:
        raise BadInputError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")
    return value


def parse_layers(spec: str | None) -> str | tuple[int, ...] | None:
    """``all`` | ``0,3,6`` | ``2-4`` | ``-1`` -> ``"all"`` or indices (negative: from the end)."""
    if spec is None:
        return None
    text = str(spec).strip().lower()
    if text == ALL:
        return ALL
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if (m := re.fullmatch(r"(\d+)-(\d+)|-?\d+", part)) is None:
            out = []
            break
        out += range(int(m[1]), int(m[2]) + 1) if m[1] else [int(part)]
    if not out:
        raise BadInputError(
            f"--layers {spec!r}: expected all or a list of layer numbers (0,3,6 or 2-4 or -1)"
        )
    return tuple(out)


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), 1 <= K <= N <= :data:`MAX_SHARDS`; else :class:`BadInputError`."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if m is None:
        raise BadInputError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. --shard 1/4")
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= k <= n:
        raise BadInputError(f"--shard {text}: need 1 <= K <= N")
    if n > MAX_SHARDS:
        raise BadInputError(f"--shard {text}: N can be at most {MAX_SHARDS:,}")
    return k, n


def parse_size(text: str) -> int:
    """``--memory-budget``: ``"512M"``, ``"1.5G"``, ``"1GiB"``, ``"800000000"`` -> bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgtKMGT]?)(?:i?[bB])?\s*", text)
    if not m:
        raise BadInputError(
            f"--memory-budget {text!r}: expected e.g. 512M, 2G or a number of bytes"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


@dataclass(frozen=True)
class Protocol:
    """What is measured: sample size (None: all rows), seed, view(s), and the layers of a depth
    profile (``all`` or ``0,3,6``; None: the final embedding only)."""

    n: int | None = None
    seed: int = 0
    view: ViewName = "auto"
    layers: str | None = None

    def __post_init__(self) -> None:
        check_choice(self.view, VIEW_CHOICES, "view")
        parse_layers(self.layers)
        if self.n is not None and self.n < 20:
            raise BadInputError(f"--n must be at least 20, got {self.n}")
        if not 0 <= self.seed <= 2**32 - 1:
            raise BadInputError(f"--seed must be between 0 and 4294967295, got {self.seed}")

    @property
    def views(self) -> tuple[str, ...]:
        """The views whose paper columns are shown."""
        return VIEWS[self.view]

    def verdict_view(self, view: str) -> str:
        """The view "Gaussian?" is asked of on a row of ``view``: the embeddings as given
        (``raw``) by default (``auto``), else the row's own view."""
        return "raw" if self.view == "auto" else view


@dataclass(frozen=True)
class DataOptions:
    """Which data, and how a source reads it (``data`` is a spec of docs/data.md)."""

    data: str = "coco-val2017"
    tower: TowerName = "all"
    captions: str = "first"
    text_field: str | None = None
    streaming: bool = False
    strict: bool = False
    download: bool = False

    def __post_init__(self) -> None:
        check_choice(self.tower, TOWER_CHOICES, "tower")
        check_choice(self.captions, ("first", "all"), "--captions")


@dataclass(frozen=True)
class Compute:
    """Where and how embeddings are computed, and the embedding cache. ``shard``: ``"K/N"``
    computes only piece K of N into the cache and stops (job arrays; docs/scale.md)."""

    device: str = "auto"
    precision: PrecisionName = "auto"
    batch_size: int | None = None
    workers: int | None = None
    cache_dir: str | Path | None = None
    use_cache: bool = True
    zoo: str | Path | None = None
    shard: str | None = None
    revision: str | None = None  # overrides the zoo entry's hub revision (one model only)
    objective: str | None = None  # of models named hf:ID, timm:NAME, ... (default: other)
    decode: DecodeName = "cpu"
    compile: bool = False

    def __post_init__(self) -> None:
        check_choice(self.precision, PRECISIONS, "precision")
        check_choice(self.decode, DECODES, "--decode value")
        if self.shard is not None:
            parse_shard(self.shard)


@dataclass(frozen=True)
class DiagnoseOptions:
    """How rows are diagnosed and judged beyond the protocol (docs/diagnostics.md)."""

    detail: bool = False
    bootstrap: int = 0
    rule: RuleName = "calibrated"  # calibrated against the view's reference, or the paper's 90%
    alpha: float = 0.05  # false-alarm rate of the calibrated rule on the reference
    per_coordinate: bool = False
    keep_arrays: bool = False  # what the HTML report and plots need
    # bytes of working memory of the diagnostics (None: from the machine's RAM); "512M", "2G"...
    memory_budget: int | str | None = None

    def __post_init__(self) -> None:
        check_choice(self.rule, RULES, "rule")
        if not 0.0 < self.alpha < 1.0:
            raise BadInputError(f"--alpha must be between 0 and 1 (exclusive), got {self.alpha}")
        if self.bootstrap < 0:
            raise BadInputError(f"--bootstrap must be >= 0, got {self.bootstrap}")
        if isinstance(text := self.memory_budget, str):
            if (size := parse_size(text)) < MIN_BUDGET:
                raise BadInputError(f"--memory-budget {text}: at least {MIN_BUDGET >> 20}M, please")
            object.__setattr__(self, "memory_budget", size)


@dataclass(frozen=True)
class Outputs:
    """Where the report goes: the terminal table and the files asked for."""

    json_out: str | None = None
    markdown: Path | None = None
    html: Path | None = None
    plots: Path | None = None
    quiet: bool = False

    @property
    def needs_arrays(self) -> bool:
        """The HTML report and the plots draw per-coordinate arrays."""
        return bool(self.html or self.plots)

    @property
    def to_stdout(self) -> bool:
        """A report goes to standard output (``-``): the table goes to stderr then."""
        return any(is_stdout(path) for _, path in self.files())

    def files(self) -> list[tuple[str, str | Path | None]]:
        """``(option, path)`` of the report files (None: not asked for)."""
        return [("--json", self.json_out), ("--markdown", self.markdown), ("--html", self.html)]

    def preflight(
        self,
        inputs: Iterable[tuple[str, str | Path | None]] = (),
        folders: Iterable[tuple[str, str | Path | None]] = (),
    ) -> None:
        """Every file and folder asked for (and the command's other output ``folders``) can be
        written, and none is one of ``inputs`` or another output."""
        folders = [("--plots", self.plots), *folders]
        check_distinct(self.files(), inputs, folders)
        preflight_outputs(files=self.files(), folders=folders)


T = TypeVar("T")


def pick(params: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The ``names`` present in a command's parameters, enums as their values."""
    values = {k: params[k] for k in names if k in params}
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}


def from_params(cls: type[T], params: Mapping[str, Any], **overrides: Any) -> T:
    """An option object from a command's parameters, fields by name (``overrides`` win)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{**pick(params, names), **overrides})


REQUIRE = ("gaussian", "non-gaussian", "sphere")


@dataclass(frozen=True)
class Gates:
    """The gates asked for on the command line; None means not asked."""

    require: tuple[str, ...] | str | None = ()  # of REQUIRE
    max_cv: float | None = None
    min_ad_compliance: float | None = None
    min_dp_compliance: float | None = None
    max_ad_mean: float | None = None
    max_effect: float | None = None
    max_tail_excess: float | None = None  # on metrics.tail_share - 0.01
    max_drop: float | None = None
    baseline: tuple[Mapping[str, Any], ...] | None = None  # rows of an earlier report

    def __post_init__(self) -> None:
        want = (self.require,) if isinstance(self.require, str) else tuple(self.require or ())
        object.__setattr__(self, "require", tuple(dict.fromkeys(want)))
        if bad := [r for r in want if r not in REQUIRE]:
            raise BadInputError(f"--require must be one of {', '.join(REQUIRE)}, got {bad[0]}")
        if {"gaussian", "non-gaussian"} <= set(want):
            raise BadInputError("--require gaussian and --require non-gaussian contradict")
        if (self.baseline is None) != (self.max_drop is None):
            raise BadInputError("--baseline and --max-drop go together: give both or neither")


# the gate options' names; --baseline is read by the CLI into Gates.baseline
GATE_OPTIONS = tuple(f for f in Gates.__dataclass_fields__ if f != "baseline")


@dataclass(frozen=True)
class Request:
    """One command's option objects: pipelines take a request and what varies (a model...)."""

    protocol: Protocol = Protocol()
    data: DataOptions = DataOptions()
    compute: Compute = Compute()
    diagnose: DiagnoseOptions = DiagnoseOptions()
    gates: Gates = Gates()
    outputs: Outputs = Outputs()
