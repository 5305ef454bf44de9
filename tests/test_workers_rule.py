"""CPU image workers chosen from measured rates (issue 13, item 3): the rule with injected rates,
the calibrated loader with a fake clock, and the engine end to end."""

from __future__ import annotations

import pytest

from infogauss_cli.extract.workers import CalibratedLoader, workers_for_rates


@pytest.mark.parametrize(
    ("decode_s", "forward_s", "cpus", "want"),
    [
        (0.004, 0.018, 4, 1),  # efficientnet_lite0 on 4 cores: decode 22% of the forward
        (0.004, 0.018, 2, 0),  # ... on 2 cores: no spare core, serial
        (0.004, 0.986, 4, 0),  # ViT-L/14 on CPU: decode 0.4%: serial
        (0.004, 0.018, 1, 0),  # one core: nothing to overlap
        (0.004, 0.003, 16, 2),  # a fast model on 16 cores: 1.33 x 1.5 -> 2
        (0.010, 0.001, 16, 8),  # decode-bound: at most half the cores
        (0.010, 0.001, 4, 2),  # 4 cores: at most 2
        (0.0, 0.01, 8, 0),
        (0.01, 0.0, 8, 0),
    ],
)
def test_workers_for_rates(decode_s, forward_s, cpus, want):
    assert workers_for_rates(decode_s, forward_s, cpus) == want


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _fake_loader(clock: FakeClock, decode_s: float):
    made: list[tuple[int, int]] = []

    def make(batches, workers):
        batches = list(batches)
        made.append((len(batches), workers))

        def gen():
            for b in batches:
                clock.t += decode_s * len(b) if workers == 0 else 0.0
                yield b

        return gen()

    return made, make


@pytest.mark.parametrize(("forward_s", "want"), [(0.018, 1), (1.0, 0)])
def test_calibrated_loader_times_the_first_batch(forward_s, want):
    clock = FakeClock()
    made, make = _fake_loader(clock, decode_s=0.004)
    batches = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader = CalibratedLoader(make, batches, cpus=4, clock=clock)
    seen = []
    for b in loader:
        seen.append(b)
        clock.t += forward_s * len(b)  # the forward pass
    assert seen == batches  # every batch, in order
    assert made == [(1, 0), (2, want)]  # the first batch serially, then the rest
    assert loader.workers == want
    assert loader.rates == pytest.approx((0.004, forward_s))


def test_calibrated_loader_one_batch_has_no_second_loader():
    clock = FakeClock()
    made, make = _fake_loader(clock, 0.01)
    loader = CalibratedLoader(make, [[0, 1]], cpus=4, clock=clock)
    assert list(loader) == [[0, 1]] and made == [(1, 0)] and loader.workers == 0


def test_engine_calibrates_cpu_image_workers(tmp_path):
    from infogauss_cli.extract import EngineOptions, extract
    from tests.test_extract import image_items, make_image_encoder, write_images

    write_images(tmp_path / "imgs", 12)
    items = image_items(tmp_path / "imgs")
    o = EngineOptions(batch_size=4, device="cpu")
    auto = extract(make_image_encoder(), items, o)
    fixed = extract(
        make_image_encoder(),
        items,
        EngineOptions(device="cpu", batch_size=4, workers=0),
    )
    assert auto.workers in (0, 1) and fixed.workers == 0
    assert auto.ids == fixed.ids
    import numpy as np

    np.testing.assert_array_equal(auto.embeddings, fixed.embeddings)  # workers change no bits


def test_calibrated_loader_over_a_stream_of_batches():
    clock = FakeClock()
    made, make = _fake_loader(clock, decode_s=0.004)
    batches = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader = CalibratedLoader(make, iter(batches), cpus=16, clock=clock)  # no length
    seen = []
    for b in loader:
        seen.append(b)
        clock.t += 0.003 * len(b)
    assert seen == batches and made == [(1, 0), (2, 2)]  # 0.004 / 0.003 x 1.5 -> 2 workers


def test_engine_calibrates_the_workers_of_a_stream_of_images(tmp_path, monkeypatch):
    import numpy as np

    from infogauss_cli.extract import EngineOptions, extract
    from tests.test_extract import image_items, make_image_encoder, write_images

    write_images(tmp_path / "imgs", 12)
    items = image_items(tmp_path / "imgs")
    monkeypatch.setattr("infogauss_cli.extract.workers.workers_for_rates", lambda *a: 1)
    monkeypatch.setattr("os.cpu_count", lambda: 4)  # under 3 cores nothing is calibrated
    o = EngineOptions(batch_size=4, device="cpu", chunk_items=8)
    stream = extract(make_image_encoder(), iter(items), o)
    listed = extract(make_image_encoder(), items, o)
    assert stream.workers == listed.workers == 1  # the rule's choice, for a stream too
    assert stream.ids == listed.ids
    np.testing.assert_array_equal(stream.embeddings, listed.embeddings)


def test_under_three_cores_nothing_is_measured():
    made = []

    def make(batches, workers):
        made.append((list(batches), workers))
        return made[-1][0]

    batches = [[0, 1], [2, 3], [4]]
    loader = CalibratedLoader(make, batches, cpus=2, clock=FakeClock())
    assert list(loader) == batches
    assert made == [(batches, 0)]  # one loader over every batch
    assert loader.workers == 0 and loader.rates is None


def test_load_groups_hold_whole_batches():
    from infogauss_cli.extract.workers import load_groups

    batches = [[0, 1, 2], [3, 4], [5], [6, 7, 8, 9], [10]]
    groups = list(load_groups(batches, lambda: 4))
    assert groups == [[[0, 1, 2], [3, 4]], [[5], [6, 7, 8, 9]], [[10]]]
    assert list(load_groups(iter(batches), lambda: 0)) == [[b] for b in batches]
    assert list(load_groups([], lambda: 4)) == []
