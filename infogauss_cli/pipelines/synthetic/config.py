"""The synthetic experiment's settings: runs, the paper's settings, presets, the config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.pipelines.synthetic.data import ENCODERS, DataSpec
from infogauss_cli.pipelines.synthetic.train import TrainConfig


@dataclass(frozen=True)
class Run:
    """One trained encoder: input kind, encoder kind, objective."""

    data: str
    encoder: str
    objective: str = "infonce"


# The blocks of the paper's table; "supervised" plays the part of its CIFAR-10 ResNet-18 pair:
# "gmm"'s encoder and data, trained to classify the mixture components instead of InfoNCE.
SETTINGS: dict[str, tuple[Run, ...]] = {
    "laplace": (Run("laplace", "linear"),),
    "gmm": (Run("gmm", "linear"),),
    "binary": (Run("binary", "linear"),),
    "supervised": (Run("gmm", "linear", "supervised"),),
}


@dataclass(frozen=True)
class SyntheticConfig:
    """A synthetic experiment (defaults: the ``default`` preset). ``batch_size``: the paper's
    N; ``eval_epochs``: evaluated besides 0 and the last; ``n_eval``: fresh held-out rows;
    ``noise``/``bit_noise``: continuous / binary augmentation; ``input_dim``: D of continuous
    inputs, ``bits``/``density``: D and P(1) of binary ones; ``encoder``: of every run."""

    preset: str = "default"
    settings: tuple[str, ...] = ("laplace", "gmm", "binary", "supervised")
    encoder: str | None = None
    d: int = 256
    batch_size: int = 256
    temperature: float = 0.1
    epochs: int = 100
    eval_epochs: tuple[int, ...] = ()
    steps_per_epoch: int = 16
    lr: float = 1e-2
    noise: float = 0.5
    bit_noise: float = 0.5
    reg: float = 0.0
    n_eval: int = 5000
    input_dim: int = 256
    bits: int = 1024
    density: float = 0.01
    components: int = 8
    separation: float = 3.0
    hidden: int = 256
    view: str = "l2"
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [s for s in self.settings if s not in SETTINGS]
        if unknown or not self.settings:
            raise BadInputError(
                f"unknown setting(s) {', '.join(unknown) or '(none)'}; "
                f"choose from {', '.join(SETTINGS)}"
            )
        if self.encoder is not None and self.encoder not in ENCODERS:
            raise BadInputError(f"unknown encoder {self.encoder!r}; expected one of {ENCODERS}")
        if self.d < 2 or self.n_eval < 20:
            raise BadInputError(f"need d >= 2 and n >= 20 (got d={self.d}, n={self.n_eval})")
        bad = [e for e in self.eval_epochs if not 0 <= e <= self.epochs]
        if bad:
            raise BadInputError(f"evaluation epochs {bad} are outside 0..{self.epochs}")
        self.train_config(Run("gmm", "linear"))  # validates the training options

    def runs(self) -> tuple[Run, ...]:
        out: list[Run] = []
        for name in self.settings:
            for r in SETTINGS[name]:
                r = dataclasses.replace(r, encoder=self.encoder or r.encoder)
                if r not in out:
                    out.append(r)
        return tuple(out)

    def data_spec(self, kind: str) -> DataSpec:
        dim = self.bits if kind == "binary" else self.input_dim
        return DataSpec(kind, dim, self.components, self.separation, self.density)

    def noise_for(self, kind: str) -> float:
        return self.bit_noise if kind == "binary" else self.noise

    def train_config(self, run: Run) -> TrainConfig:
        return TrainConfig(
            objective=run.objective,
            epochs=self.epochs,
            batch_size=self.batch_size,
            steps_per_epoch=self.steps_per_epoch,
            lr=self.lr,
            temperature=self.temperature,
            noise=self.noise_for(run.data),
            reg=self.reg,
        )

    def epochs_evaluated(self) -> tuple[int, ...]:
        return tuple(sorted({0, self.epochs, *self.eval_epochs}))

    def describe(self) -> str:
        """One line with the settings a reader needs to compare runs."""
        reg = f", norm regulariser {self.reg}" if self.reg else ""
        return (
            f"{self.preset} preset: d={self.d}, N={self.batch_size}, temperature "
            f"{self.temperature}, {self.epochs} epochs x {self.steps_per_epoch} Adam steps (lr "
            f"{self.lr}, cosine){reg}; noise {self.noise} (continuous), bit dropout "
            f"{self.bit_noise} (binary); n={self.n_eval:,} fresh held-out rows, {self.view} "
            f"view, seed {self.seed}"
        )


PRESETS: dict[str, SyntheticConfig] = {
    "default": SyntheticConfig(),
    # seconds, not minutes: smaller d, fewer epochs, fewer held-out rows
    "quick": SyntheticConfig(preset="quick", d=128, epochs=30, n_eval=2000),
}


def preset(name: str = "default", **overrides: object) -> SyntheticConfig:
    """A preset with the given fields replaced (``None`` values are ignored)."""
    if name not in PRESETS:
        raise BadInputError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return dataclasses.replace(
        PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}
    )
