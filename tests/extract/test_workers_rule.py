"""Who loads CPU image batches: with no ``--workers``, threads of this process between forward
passes (no worker processes); whole batches grouped per pause; the same bits either way."""

from __future__ import annotations

import numpy as np


def test_cpu_images_default_to_loading_threads_and_workers_change_no_bits(tmp_path):
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions
    from tests.support.encoders import image_items, make_image_encoder, write_images

    write_images(tmp_path / "imgs", 12)
    items = image_items(tmp_path / "imgs")
    o = EngineOptions(batch_size=4, device="cpu")
    auto = extract(make_image_encoder(), items, o)
    fixed = extract(
        make_image_encoder(),
        items,
        EngineOptions(device="cpu", batch_size=4, workers=1),
    )
    assert auto.workers == 0 and fixed.workers == 1
    assert auto.ids == fixed.ids
    np.testing.assert_array_equal(auto.embeddings, fixed.embeddings)  # workers change no bits


def test_a_stream_of_images_uses_the_same_loader(tmp_path):
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.extract.plan import EngineOptions
    from tests.support.encoders import image_items, make_image_encoder, write_images

    write_images(tmp_path / "imgs", 12)
    items = image_items(tmp_path / "imgs")
    o = EngineOptions(batch_size=4, device="cpu", chunk_items=8)
    stream = extract(make_image_encoder(), iter(items), o)
    listed = extract(make_image_encoder(), items, o)
    assert stream.workers == listed.workers == 0
    assert stream.ids == listed.ids
    np.testing.assert_array_equal(stream.embeddings, listed.embeddings)


def test_load_groups_hold_whole_batches():
    from infogauss_cli.extract.loader import load_groups

    batches = [[0, 1, 2], [3, 4], [5], [6, 7, 8, 9], [10]]
    groups = list(load_groups(batches, lambda: 4))
    assert groups == [[[0, 1, 2], [3, 4]], [[5], [6, 7, 8, 9]], [[10]]]
    assert list(load_groups(iter(batches), lambda: 0)) == [[b] for b in batches]
    assert list(load_groups([], lambda: 4)) == []
