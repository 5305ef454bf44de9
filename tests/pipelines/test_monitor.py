"""The training-loop monitor: a tiny contrastive encoder trained a few dozen steps with the
monitor attached (plain loop, the HF Trainer adapter offline, Lightning), metrics logged at the
chosen steps and equal to an independent diagnosis of the same embeddings."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from infogauss_cli.core.errors import BadInputError  # noqa: E402
from infogauss_cli.diagnostics import diagnose  # noqa: E402
from infogauss_cli.pipelines.monitor import GaussianityMonitor  # noqa: E402
from infogauss_cli.pipelines.synthetic.train import infonce_loss  # noqa: E402

IN, OUT, STEPS, EVERY = 32, 16, 30, 10


def _encoder(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(IN, 64), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(64, OUT)
    )


def _probe(n: int = 400) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, IN, generator=g).exp()  # skewed inputs: a random MLP is not Gaussian


def _pair(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x + 0.3 * torch.randn_like(x), x + 0.3 * torch.randn_like(x)


def test_plain_loop_logs_at_chosen_steps_and_restores_mode() -> None:
    model = _encoder()
    logged: list[tuple[int, dict[str, float]]] = []
    seen: list[tuple[bool, bool]] = []

    def embed(m: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        seen.append((m.training, torch.is_inference_mode_enabled()))
        return m(batch)

    mon = GaussianityMonitor(
        _probe(),
        every=EVERY,
        embed=embed,
        n=300,
        batch_size=128,
        loggers=[lambda metrics, step: logged.append((step, metrics))],
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    mon(model, 0)
    for step in range(1, STEPS + 1):
        x = _probe(64) * torch.rand(64, 1)
        loss = infonce_loss(*(model(v) for v in _pair(x)), 0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon(model, step)
        assert model.training  # restored after every measurement
    assert [s for s, _ in logged] == [0, 10, 20, 30]
    assert seen and all(not training and inference for training, inference in seen)
    assert len(seen) == 4 * 4  # 400 rows in batches of 128, per measurement
    last = mon.history[-1]
    assert (last.n, last.d) == (300, OUT)
    for key in ("norm_cv", "ad_compliance", "dp_compliance", "gaussian", "uniformity"):
        assert f"infogauss/{key}" in logged[-1][1]
    # the same numbers as an independent diagnosis of the model's eval-mode embeddings
    model.eval()
    with torch.no_grad():
        z = model(_probe()).numpy()
    ref = diagnose(z, view="l2", n=300, seed=0)
    assert last.metrics["ad_compliance"] == pytest.approx(ref.ad.compliance)
    assert last.metrics["dp_mean_p"] == pytest.approx(ref.dp.mean_p, rel=1e-6)
    assert last.metrics["norm_cv"] == pytest.approx(ref.norms.cv, rel=1e-6)
    steps, values = mon.series("ad_compliance")
    assert list(steps) == [0, 10, 20, 30] and all(0 <= v <= 1 for v in values)


def test_mode_restored_when_embedding_fails_and_bad_options() -> None:
    model = _encoder().train()

    def broken(m: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        GaussianityMonitor(_probe(50), embed=broken).measure(model, 0)
    assert model.training
    with pytest.raises(BadInputError):
        GaussianityMonitor(_probe(50), every=0)
    with pytest.raises(BadInputError, match="not a tensor"):
        GaussianityMonitor(_probe(50), embed=lambda m, b: {"x": m(b)}).measure(model, 0)


def test_mapping_probe_is_batched_per_key() -> None:
    class Tok(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(50, OUT)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            h = self.emb(input_ids) * attention_mask[..., None]
            return h.sum(1) / attention_mask.sum(1, keepdim=True)

    g = torch.Generator().manual_seed(0)
    probe = {
        "input_ids": torch.randint(0, 50, (120, 7), generator=g),
        "attention_mask": torch.ones(120, 7),
    }
    res = GaussianityMonitor(probe, batch_size=50, uniformity=False).measure(Tok(), 5)
    assert (res.n, res.d, res.step) == (120, OUT, 5)
    assert "uniformity" not in res.metrics


# ---- Hugging Face Trainer (offline, no hub) ---------------------------------------------------
class _ContrastiveModule(torch.nn.Module):
    """A Trainer-compatible module: forward(x) returns the InfoNCE loss of two noisy views."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _encoder()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": infonce_loss(*(self.net(v) for v in _pair(x)), 0.1)}


@pytest.mark.slow
def test_hf_trainer_callback_logs_through_trainer(tmp_path) -> None:
    pytest.importorskip("accelerate")
    from transformers import Trainer, TrainingArguments

    from infogauss_cli.pipelines.monitor.hf import GaussianityCallback

    data = [{"x": row} for row in _probe(32 * STEPS)]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=STEPS,
        per_device_train_batch_size=32,
        learning_rate=1e-2,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    model = _ContrastiveModule()
    trainer = Trainer(model=model, args=args, train_dataset=data)
    mon = GaussianityMonitor(_probe(), every=EVERY, embed=lambda m, b: m.net(b), n=300)
    GaussianityCallback.attach(trainer, mon)
    trainer.train()
    rows = [h for h in trainer.state.log_history if "infogauss/ad_compliance" in h]
    assert [h["step"] for h in rows] == [0, 10, 20, 30]
    assert [r.step for r in mon.history] == [0, 10, 20, 30]
    assert model.training  # the Trainer's mode, untouched by the monitor


# ---- Lightning ----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The number of training batches")  # our interval
@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated")
def test_lightning_callback_logs_to_the_trainers_logger(tmp_path) -> None:
    L = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.loggers import Logger

    from infogauss_cli.pipelines.monitor.lightning import GaussianityCallback

    class Memory(Logger):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[tuple[int, dict[str, float]]] = []

        @property
        def name(self) -> str:
            return "memory"

        @property
        def version(self) -> int:
            return 0

        def log_hyperparams(self, params, *args, **kwargs) -> None:
            pass

        def log_metrics(self, metrics, step=None) -> None:
            self.rows.append((step, dict(metrics)))

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = _encoder()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch, batch_idx):
            return infonce_loss(*(self.net(v) for v in _pair(batch[0])), 0.1)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(_probe(32 * STEPS)), batch_size=32
    )
    logger = Memory()
    mon = GaussianityMonitor(_probe(), every=EVERY, n=300)
    trainer = L.Trainer(
        max_steps=STEPS,
        accelerator="cpu",
        logger=logger,
        callbacks=[GaussianityCallback(mon)],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1000,
    )
    trainer.fit(Module(), loader)
    ours = [(s, m) for s, m in logger.rows if "infogauss/ad_compliance" in m]
    assert [s for s, _ in ours] == [0, 10, 20, 30]
    assert "infogauss/ad_compliance" in trainer.callback_metrics
    assert np.isfinite(ours[-1][1]["infogauss/norm_cv"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_monitor_on_cuda_matches_cpu() -> None:
    model = _encoder().train()
    cpu = GaussianityMonitor(_probe(), n=300, uniformity=False).embed_probe(model)
    model.cuda()
    mon = GaussianityMonitor(_probe(), n=300, uniformity=False)  # the probe stays on the CPU
    gpu = mon.embed_probe(model)
    assert model.training and next(model.parameters()).is_cuda
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-4)


def test_the_package_root_exports_the_monitor() -> None:
    import infogauss_cli

    assert infogauss_cli.GaussianityMonitor is GaussianityMonitor
