"""Training: symmetric InfoNCE on cosine similarity, or the supervised contrast (a cosine
classifier of the mixture components at the same temperature); optionally the vanishing norm
regulariser of the paper's "regularisation path". torch is imported inside the functions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.pipelines.synthetic.data import Population, augment

if TYPE_CHECKING:
    import torch
    from torch import nn

OBJECTIVES = ("infonce", "supervised")


@dataclass(frozen=True)
class TrainConfig:
    """An epoch is ``steps_per_epoch`` Adam steps on ``batch_size`` (the paper's N) fresh rows;
    the learning rate follows a cosine schedule from ``lr`` to 0. ``noise``: augmentation
    strength (std of the additive noise; binary: P(a 1-bit drops)). ``reg``: lambda_0 of the
    norm regulariser lambda_t * mean ||z||^2, lambda_t decaying linearly to 0 (0: off)."""

    objective: str = "infonce"
    epochs: int = 100
    batch_size: int = 256
    steps_per_epoch: int = 16
    lr: float = 1e-2
    temperature: float = 0.1
    noise: float = 0.5
    reg: float = 0.0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise BadInputError(
                f"unknown objective {self.objective!r}; expected one of {', '.join(OBJECTIVES)}"
            )
        if self.epochs < 0 or self.batch_size < 2 or self.steps_per_epoch < 1:
            raise BadInputError(
                "need epochs >= 0, batch size N >= 2 and steps per epoch >= 1 "
                f"(got {self.epochs}, {self.batch_size}, {self.steps_per_epoch})"
            )
        if not (self.temperature > 0 and self.lr > 0 and self.noise >= 0 and self.reg >= 0):
            raise BadInputError("temperature and lr must be > 0, noise and reg >= 0")


def infonce_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE (as in CLIP): row i of ``z1`` against row i of ``z2``, the other rows
    the negatives, cosine logits over the temperature, both directions averaged."""
    import torch
    from torch.nn import functional as F

    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def supervised_loss(
    z: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Cross-entropy of the cosine similarities to the class ``prototypes`` (K, d)."""
    from torch.nn import functional as F

    logits = F.normalize(z, dim=1) @ F.normalize(prototypes, dim=1).T
    return F.cross_entropy(logits / temperature, labels)


def train(
    encoder: nn.Module,
    pop: Population,
    cfg: TrainConfig,
    rng: np.random.Generator,
    *,
    on_epoch: Callable[[int], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Train ``encoder`` in place (``rng`` draws data and augmentations; seed torch before
    building the encoder). ``on_epoch(epoch)`` runs, the encoder in eval mode, before training
    (0) and after every epoch; ``on_step()`` after every optimiser step."""
    import torch

    spec = pop.spec
    supervised = cfg.objective == "supervised"
    if supervised and spec.kind != "gmm":
        raise BadInputError(f"the supervised objective needs labels: use gmm, not {spec.kind}")
    params = list(encoder.parameters())
    if supervised:
        with torch.no_grad():
            out_dim = encoder(torch.zeros(1, spec.dim)).shape[1]
        head = torch.nn.Linear(out_dim, spec.components, bias=False)
        params += list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    total = max(cfg.epochs * cfg.steps_per_epoch, 1)

    def view(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(augment(x, spec, cfg.noise, rng))

    step = 0
    for epoch in range(cfg.epochs + 1):
        if on_epoch:
            encoder.eval()
            on_epoch(epoch)
        if epoch == cfg.epochs:
            break
        encoder.train()
        for _ in range(cfg.steps_per_epoch):
            batch = pop.sample(cfg.batch_size, rng)
            if supervised:
                z = encoder(view(batch.x))
                labels = torch.from_numpy(batch.labels)
                loss = supervised_loss(z, head.weight, labels, cfg.temperature)
                sq_norm = (z * z).sum(1).mean()
            else:
                z1, z2 = encoder(view(batch.x)), encoder(view(batch.x))
                loss = infonce_loss(z1, z2, cfg.temperature)
                sq_norm = 0.5 * ((z1 * z1).sum(1).mean() + (z2 * z2).sum(1).mean())
            if cfg.reg > 0:  # lambda_t vanishes at the end of training
                loss = loss + cfg.reg * (1.0 - step / total) * sq_norm
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if on_step:
                on_step()
            for group in opt.param_groups:  # cosine schedule, lr -> 0 at the last step
                group["lr"] = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
