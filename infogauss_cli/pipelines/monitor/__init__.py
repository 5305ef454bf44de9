"""Gaussianity during training (docs/training.md): :class:`GaussianityMonitor` embeds a fixed
probe set every ``every`` steps and diagnoses it as ``audit`` does, in any loop; the HF and
Lightning ``GaussianityCallback`` adapters (``monitor.hf``, ``monitor.lightning``) wrap it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.judge.verdict import CALLS, judge

if TYPE_CHECKING:
    import torch
    from torch import nn

    Batch = torch.Tensor | np.ndarray | Mapping[str, torch.Tensor]
    Probe = Batch | Sequence[Batch]
    EmbedFn = Callable[[nn.Module, Batch], torch.Tensor]

Logger = Callable[[dict[str, float], int], None]
DEFAULT_N = 2000  # rows diagnosed per call (a seeded subsample of the probe embeddings)
UNIFORMITY_ROWS = 1000  # rows of the all-pairs uniformity (O(rows^2 d))


@dataclass(frozen=True)
class MonitorResult:
    """One measurement: float ``metrics`` (``gaussian_call`` 0 ✓ 1 ≈ 2 ✗ 3 ?) and seconds."""

    step: int
    metrics: dict[str, float]
    n: int
    d: int
    embed_s: float
    diagnose_s: float

    def logged(self, prefix: str = "infogauss/") -> dict[str, float]:
        return {f"{prefix}{k}": v for k, v in self.metrics.items()}


def _batches(probe: Probe, size: int) -> Sequence[Batch]:
    if isinstance(probe, (list, tuple)):
        return probe
    if not isinstance(probe, Mapping):
        return [probe[i : i + size] for i in range(0, len(probe), size)]
    lengths = {len(v) for v in probe.values()}
    if len(lengths) != 1:
        raise BadInputError("probe: every tensor in the mapping needs the same length")
    return [{k: v[i : i + size] for k, v in probe.items()} for i in range(0, lengths.pop(), size)]


def _to(batch: Batch, device: torch.device) -> Batch:
    import torch

    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(batch)
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


@dataclass
class GaussianityMonitor:
    """Measure Gaussianity of a fixed probe set during training (docs/training.md): ``probe`` a
    tensor, array, mapping of equal-length tensors or list of ready batches; ``n`` rows (one
    seeded subsample); ``loggers``: callables ``(metrics, step)`` given the prefixed metrics."""

    probe: Probe
    every: int = 100
    embed: EmbedFn | None = None
    batch_size: int = 256
    n: int | None = DEFAULT_N
    seed: int = 0
    view: str = "l2"
    uniformity: bool = True
    prefix: str = "infogauss/"
    loggers: list[Logger] = field(default_factory=list)
    history: list[MonitorResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        if min(self.every, self.batch_size) < 1:
            raise BadInputError(f"every={self.every}, batch_size={self.batch_size}: must be >= 1")
        if self.view not in ("l2", "raw"):
            raise BadInputError(f"view={self.view!r}: expected 'l2' or 'raw'")

    def due(self, step: int) -> bool:
        """A multiple of ``every``, not measured yet."""
        return step % self.every == 0 and not (self.history and self.history[-1].step == step)

    def embed_probe(self, model: nn.Module) -> np.ndarray:
        """The probe's float32 (rows, d) embeddings (eval, inference mode; training restored) by
        ``embed``, else ``model(**batch)`` for a mapping and ``model(batch)`` otherwise."""
        import torch

        fn = self.embed or (lambda m, b: m(**b) if isinstance(b, Mapping) else m(b))
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        was_training = bool(getattr(model, "training", False))
        model.eval()
        try:
            with torch.inference_mode():
                parts = [fn(model, _to(b, device)) for b in _batches(self.probe, self.batch_size)]
        finally:
            model.train(was_training)
        if not parts:
            raise BadInputError("the probe set is empty")
        if bad := [p for p in parts if not isinstance(p, torch.Tensor) or p.ndim != 2]:
            got = getattr(bad[0], "shape", type(bad[0]).__name__)
            raise BadInputError(
                f"the model returned {got}, not a tensor of (batch, d) embeddings: pass "
                "embed=lambda model, batch: ... to GaussianityMonitor"
            )
        return torch.cat([p.float().cpu() for p in parts]).numpy()

    def measure(self, model: nn.Module, step: int) -> MonitorResult:
        """Embed, diagnose, keep in ``history`` and send to the loggers (whatever the step)."""
        from infogauss_cli.diagnostics import diagnose  # scipy
        from infogauss_cli.diagnostics import gaussian as G
        from infogauss_cli.diagnostics.sphere import sphere_tests, uniformity

        t0 = time.perf_counter()
        x = self.embed_probe(model)
        t1 = time.perf_counter()
        diag = diagnose(x, view=self.view, n=self.n, seed=self.seed)  # type: ignore[arg-type]
        metrics = diag.metrics()
        joint = G.joint_sample(x, self.n, self.seed)
        gauss_metrics, null = G.gaussian_tests(joint, self.view, seed=self.seed)
        sphere, sphere_null = sphere_tests(joint)
        metrics |= gauss_metrics | sphere
        verdict = judge(metrics, null=null | sphere_null, view=self.view)
        metrics["gaussian"] = verdict.gaussian
        metrics["gaussian_call"] = CALLS.index(verdict.call)
        metrics["sphere_uniform"] = verdict.sphere is not None and verdict.sphere.call == "uniform"
        if self.uniformity:
            rows = x[diag.row_indices] if diag.row_indices.size else x
            u = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            uni = uniformity(u, max_rows=UNIFORMITY_ROWS, seed=self.seed)
            metrics |= {"uniformity": uni.value, "uniformity_ideal": uni.ideal}
        numbers = (bool, int, float, np.integer, np.floating)
        metrics = {k: float(v) for k, v in metrics.items() if isinstance(v, numbers)}
        metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        result = MonitorResult(step, metrics, diag.n, diag.d, t1 - t0, time.perf_counter() - t1)
        self.history.append(result)
        for log in self.loggers:
            log(result.logged(self.prefix), step)
        return result

    def __call__(self, model: nn.Module, step: int) -> MonitorResult | None:
        """:meth:`measure` when :meth:`due`: call it after every optimiser step."""
        return self.measure(model, step) if self.due(step) else None

    def series(self, metric: str) -> tuple[Sequence[int], Sequence[float | None]]:
        return [r.step for r in self.history], [r.metrics.get(metric) for r in self.history]
