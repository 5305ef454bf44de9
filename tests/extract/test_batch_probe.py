"""The one-time upward batch-size probe of the runner and its out-of-memory back-off, on CPU
with fakes: a module that raises ``torch.cuda.OutOfMemoryError`` above a batch size and an
injected peak-memory fraction (issue 13, item 2)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


class FakeGpuModule(torch.nn.Module):
    """A linear map that runs out of memory above ``limit`` rows; records the sizes it saw."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(6, 3)
        self.limit, self.seen = limit, []

    def forward(self, x):
        self.seen.append(x.shape[0])
        if x.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("fake: out of memory")
        return self.lin(x)


def _runner(limit: int, batch_size: int, probe_max: int | None, memory=lambda d: 0.5):
    from infogauss_cli.extract.runner import Runner, RunnerOptions
    from infogauss_cli.models.registry import Encoder

    module = FakeGpuModule(limit)
    enc = Encoder(
        "fake", "image", 3, module, None, None, lambda m, b: m(b["x"]), {"fake": "1"}, False
    )
    said: list[str] = []
    runner = Runner(
        enc,
        "cpu",
        "fp32",
        batch_size,
        said.append,
        RunnerOptions(probe_max=probe_max, memory=memory),
    )
    return runner, module, said


def _run(runner, batches):
    x = torch.randn(sum(batches), 6, generator=torch.Generator().manual_seed(1))
    outs, start = [], 0
    with torch.inference_mode():
        for n in batches:
            outs.append(runner({"x": x[start : start + n]}, n))
            start += n
        ref = runner.module.lin(x)
    return torch.cat(outs), ref


def test_probe_doubles_up_to_the_ceiling():
    runner, module, said = _runner(limit=10**6, batch_size=8, probe_max=32)
    out, ref = _run(runner, [32, 32, 32])
    assert runner.batch_size == 32 and runner.probe_max is None
    assert module.seen[:3] == [16, 16, 32]  # 16 (fits), then 16 more rows, then 32
    assert not said
    torch.testing.assert_close(out, ref)


def test_probe_stops_at_the_size_before_an_out_of_memory_error():
    runner, module, said = _runner(limit=20, batch_size=8, probe_max=64)
    out, ref = _run(runner, [64, 64, 10])
    assert runner.batch_size == 16 and runner.probe_max is None
    assert 32 in module.seen and max(s for s in module.seen if s <= 20) == 16
    assert any("out of memory" in m and "keeping 16" in m for m in said)
    torch.testing.assert_close(out, ref)  # every row computed once, in order


def test_probe_keeps_headroom():
    # peak memory: 3% per row -> 16 rows 48% (kept), 32 rows 96% (over 90%: not kept)
    runner, module, said = _runner(10**6, 8, 64, memory=lambda d: 0.03 * module.seen[-1])
    out, ref = _run(runner, [64, 64])
    assert runner.batch_size == 16
    assert any("peak memory 96%" in m for m in said)
    torch.testing.assert_close(out, ref)


def test_probe_needs_the_rows_and_never_exceeds_the_batch():
    runner, module, _ = _runner(limit=10**6, batch_size=8, probe_max=32)
    _run(runner, [12, 12])  # fewer rows than 16: no probe yet
    assert runner.batch_size == 8 and runner.probe_max == 32
    assert max(module.seen) <= 12


def test_back_off_still_halves_after_the_probe():
    runner, module, said = _runner(limit=10**6, batch_size=8, probe_max=32)
    _run(runner, [32, 32])
    assert runner.batch_size == 32
    module.limit = 12  # later inputs need more memory
    out, ref = _run(runner, [32, 32])
    assert runner.batch_size == 8
    assert sum("backing off" in m for m in said) == 2  # 32 -> 16 -> 8
    torch.testing.assert_close(out, ref)


def test_no_probe_without_probe_max():
    runner, module, _ = _runner(limit=10**6, batch_size=8, probe_max=None)
    _run(runner, [16, 16])
    assert set(module.seen) == {8} and runner.batch_size == 8


def test_probe_ceiling():
    from infogauss_cli.extract.runner import probe_ceiling

    assert probe_ceiling(256, 512) == 512  # the chunk bounds it
    assert probe_ceiling(64, 2048) == 256  # 4x the default
    assert probe_ceiling(1024, 512) == 1024  # never below the default


def test_peak_memory_fraction_is_zero_on_cpu():
    from infogauss_cli.extract.runner import peak_memory_fraction

    assert peak_memory_fraction("cpu") == 0.0
