"""Training: symmetric InfoNCE on cosine similarity (default), or the supervised contrast, a
cross-entropy classifier of the mixture components on the same cosine geometry (normalised
features against normalised class weights, divided by the same temperature); optionally the
vanishing norm regulariser of the paper's "regularisation path". torch is imported inside the
functions."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.pipelines.synthetic.augment import augment
from infogauss_cli.pipelines.synthetic.data import Population

OBJECTIVES = ("infonce", "supervised")


@dataclass(frozen=True)
class TrainConfig:
    """How one encoder is trained.

    An epoch is ``steps_per_epoch`` Adam steps, each on ``batch_size`` (the paper's N) rows
    drawn fresh from the population (the population objective the paper analyses; no row is
    seen twice). The learning rate follows a cosine schedule from ``lr`` to 0. ``noise`` is
    the augmentation strength (continuous inputs: std of the additive noise; binary: the
    probability that a 1-bit is dropped). ``reg`` is lambda_0 of the norm regulariser
    lambda_t * mean ||z||^2, with lambda_t decaying linearly from lambda_0 to 0 (0: off).
    """

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


def infonce_loss(z1: Any, z2: Any, temperature: float) -> Any:
    """Symmetric InfoNCE (as in CLIP): cross-entropy of the cosine-similarity logits divided
    by the temperature, row i of ``z1`` against row i of ``z2`` (the other N - 1 rows are the
    negatives), averaged over both directions."""
    import torch
    from torch.nn import functional as F

    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def supervised_loss(z: Any, prototypes: Any, labels: Any, temperature: float) -> Any:
    """Cross-entropy of a cosine classifier: logits are the cosine similarities between the
    rows of ``z`` and the class ``prototypes`` (K, d), divided by the temperature."""
    from torch.nn import functional as F

    logits = F.normalize(z, dim=1) @ F.normalize(prototypes, dim=1).T
    return F.cross_entropy(logits / temperature, labels)


def train(
    encoder: Any,
    pop: Population,
    cfg: TrainConfig,
    rng: np.random.Generator,
    *,
    eval_at: Collection[int] = (),
    on_eval: Callable[[int], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Train ``encoder`` in place (data, augmentations and nothing else from ``rng``; seed
    torch before building the encoder). ``on_eval(epoch)`` is called, with the encoder in
    eval mode, after each epoch listed in ``eval_at`` (0: before training); ``on_step()``
    after every optimiser step (progress)."""
    import torch

    spec = pop.spec
    supervised = cfg.objective == "supervised"
    if supervised and spec.kind != "gmm":
        raise BadInputError(f"the supervised objective needs labels: use gmm, not {spec.kind}")
    params = list(encoder.parameters())
    head = None
    if supervised:
        with torch.no_grad():
            out_dim = encoder(torch.zeros(1, spec.dim)).shape[1]
        head = torch.nn.Linear(out_dim, spec.components, bias=False)
        params += list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    total = max(cfg.epochs * cfg.steps_per_epoch, 1)

    def view(x: np.ndarray) -> Any:
        a = augment(x, continuous=spec.continuous, noise=cfg.noise, density=spec.density, rng=rng)
        return torch.from_numpy(a)

    if on_eval and 0 in eval_at:
        encoder.eval()
        on_eval(0)
    step = 0
    for epoch in range(1, cfg.epochs + 1):
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
        if on_eval and epoch in eval_at:
            encoder.eval()
            on_eval(epoch)
