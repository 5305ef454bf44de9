"""A backend and a streaming source added from outside the package, one registration line
each, and `audit` run through them."""

from __future__ import annotations

import json

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.data.sources import unregister_source
from infogauss_cli.extract.plan import EngineOptions
from infogauss_cli.models import registry
from tests.support import toy_plugins
from tests.support.cli import invoke

ZOO = """\
schema_version: 1
models:
  - id: toy-text
    backend: toy
    source: {name: toy, scale: 0.5}
    towers: [text]
    objective: other
    embedding: a random linear map of seeded Gaussian features
    dim: 8
"""


@pytest.fixture
def plugins(tmp_path):
    toy_plugins.register()
    zoo = tmp_path / "zoo.yaml"
    zoo.write_text(ZOO)
    yield zoo
    registry._REGISTRY.pop("toy", None)
    unregister_source("toy")


def test_audit_through_a_toy_backend_and_a_streaming_source(plugins, tmp_path):
    r = invoke(
        "audit", "toy-text", "--zoo", plugins, "--data", "toy:120", "--json", tmp_path / "r.json"
    )
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "r.json").read_text())
    (row,) = report["rows"]
    assert row["model"] == "toy-text" and row["backend"] == "toy" and row["tower"] == "text"
    assert row["data"]["items"] == 120 and row["protocol"]["d"] == 8
    # Gaussian features through a linear map: Gaussian coordinates
    assert row["metrics"]["ad_compliance"] >= 0.5


def test_a_streamed_subset_reads_the_stream_once(plugins):
    from infogauss_cli.data.sources import parse_data_spec
    from infogauss_cli.extract.model import select_items

    stream = parse_data_spec("toy:50").items("text")
    chosen = select_items(stream, 10, seed=3)
    assert len(chosen) == 10 and stream.reads == 1
    assert [it.id for it in chosen] == sorted((it.id for it in chosen), key=lambda s: int(s[4:]))
    # the same subset as from a list
    assert chosen == select_items(list(stream), 10, seed=3)


def test_the_toy_entries_validate_against_the_registered_schema(plugins):
    from infogauss_cli.models.catalogue import load_zoo, parse_entry

    entry = load_zoo(plugins).resolve("toy-text")
    assert isinstance(entry.source, toy_plugins.ToySource) and entry.source.scale == 0.5
    bad = {**load_zoo(plugins).entries[0].model_dump(), "towers": ["image"]}
    with pytest.raises(BadInputError, match="toy models have one tower: use towers: \\[text\\]"):
        parse_entry(bad)
    with pytest.raises(BadInputError, match=r"source\.nope: unknown key"):
        parse_entry({**bad, "towers": ["text"], "source": {"name": "t", "nope": 1}})
    r = invoke("zoo", "validate", plugins)
    assert r.exit_code == 0, r.output


def test_unregistered_they_are_unknown(tmp_path):
    zoo = tmp_path / "zoo.yaml"
    zoo.write_text(ZOO)
    r = invoke("audit", "toy-text", "--zoo", zoo, "--data", "toy:10")
    assert r.exit_code == 2 and "unknown backend 'toy'" in r.output
    from infogauss_cli.data.sources import parse_data_spec

    with pytest.raises(BadInputError, match="supported forms"):
        parse_data_spec("toy:10")


def _shout(item):
    from infogauss_cli.data.sources.base import ItemLoadError

    if item.id == "s3":
        raise ItemLoadError(item.id, "unreadable on purpose")
    return item.text.upper()


def test_the_engine_takes_a_generator_and_the_sources_loader(plugins):
    from infogauss_cli.data.sources.base import Item
    from infogauss_cli.extract.engine import extract
    from infogauss_cli.models.catalogue import load_zoo

    encoder = toy_plugins.build(load_zoo(plugins).resolve("toy-text"), "text")
    items = [Item(id=f"s{i}", text=f"text {i}") for i in range(30)]
    plain = extract(encoder, (it for it in items), EngineOptions(device="cpu", workers=0))
    assert plain.n == 30 and plain.ids == tuple(it.id for it in items)
    shouted = extract(encoder, items, EngineOptions(device="cpu", workers=0), loader=_shout)
    assert shouted.skipped == (("s3", "unreadable on purpose"),) and shouted.n == 29
    assert (shouted.embeddings[0] != plain.embeddings[0]).any()  # the loader's output was used


def test_the_engine_does_not_import_the_image_source():
    import subprocess
    import sys

    code = (
        "import sys, infogauss_cli.extract.engine, infogauss_cli.extract.loader; "
        "print('infogauss_cli.data.sources.images' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
