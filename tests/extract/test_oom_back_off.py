"""The runner's out-of-memory back-off, on CPU with a fake: a module that raises
``torch.cuda.OutOfMemoryError`` above a batch size."""

from __future__ import annotations

import pytest

from infogauss_cli.core.errors import RunError

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


def _runner(limit: int, batch_size: int):
    from infogauss_cli.extract.runner import Runner
    from infogauss_cli.models.registry import Encoder

    module = FakeGpuModule(limit)
    enc = Encoder(
        "fake", "image", 3, module, None, None, lambda m, b: m(b["x"]), {"fake": "1"}, False
    )
    said: list[str] = []
    return Runner(enc, "cpu", "fp32", batch_size, said.append), module, said


def _run(runner, batches):
    x = torch.randn(sum(batches), 6, generator=torch.Generator().manual_seed(1))
    outs, start = [], 0
    with torch.inference_mode():
        for n in batches:
            outs.append(runner({"x": x[start : start + n]}, n))
            start += n
        ref = runner.module.lin(x)
    return torch.cat(outs), ref


def test_back_off_halves_on_out_of_memory():
    runner, module, said = _runner(limit=10**6, batch_size=32)
    _run(runner, [32, 32])
    assert runner.batch_size == 32 and set(module.seen) == {32}
    module.limit = 12  # later inputs need more memory
    out, ref = _run(runner, [32, 32])
    assert runner.batch_size == 8
    assert sum("backing off" in m for m in said) == 2  # 32 -> 16 -> 8
    torch.testing.assert_close(out, ref)  # every row computed once, in order


def test_batch_size_one_out_of_memory_is_an_error():
    runner, _, _ = _runner(limit=0, batch_size=2)
    with pytest.raises(RunError, match="even with batch size 1"):
        _run(runner, [2])
