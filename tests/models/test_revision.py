"""Pinned hub revisions (issue 16 item 4): the zoo's ``revision:``, ``--revision``, the hub
calls, the cache key and the JSON's ``protocol.revision``. Offline: a fake snapshot folder laid
out as huggingface_hub's cache lays it out."""

from __future__ import annotations

import json

import pytest

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.catalogue import Zoo, parse_entry, parse_zoo, with_revision
from tests.support.cli import invoke

SHA_MAIN, SHA_V2 = "a" * 40, "b" * 40


def hf_entry(**source):
    return {
        "id": "tiny-bert",
        "backend": "transformers",
        "source": {"name": "org/tiny", "pooling": "mean", **source},
        "towers": ["text"],
        "objective": "infonce",
        "embedding": "mean",
        "dim": 32,
    }


def fake_hub_cache(root):
    """``models--org--tiny`` with two snapshots: main -> SHA_MAIN, tag v2 -> SHA_V2."""
    repo = root / "models--org--tiny"
    for ref, sha in (("main", SHA_MAIN), ("v2", SHA_V2)):
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(sha)
        snap = repo / "snapshots" / sha
        snap.mkdir(parents=True)
        (snap / "config.json").write_text("{}")
        (snap / "model.safetensors").write_bytes(sha.encode())
    return root


# ---- the schema --------------------------------------------------------------------------------
def test_revision_is_a_source_field_of_every_backend():
    assert parse_entry(hf_entry(revision="v2")).source.revision == "v2"
    assert parse_entry(hf_entry()).source.revision is None
    timm = {**hf_entry(), "backend": "timm", "towers": ["image"], "objective": "supervised"}
    timm["source"] = {"name": "resnet18.a1_in1k", "revision": SHA_V2}
    assert parse_entry(timm).source.revision == SHA_V2


@pytest.mark.parametrize("bad", ["", "a b", 3])
def test_a_bad_revision_is_an_error_with_its_path(bad):
    with pytest.raises(BadInputError) as info:
        parse_zoo({"schema_version": 1, "models": [hf_entry(revision=bad)]})
    assert "models[0].source.revision" in str(info.value)


# ---- --revision --------------------------------------------------------------------------------
def test_the_option_overrides_the_entry_and_refuses_what_it_cannot_pin(tmp_path):
    entry = parse_entry(hf_entry(revision="v1"))
    (pinned,) = with_revision([entry], "v2")
    assert pinned.source.revision == "v2" and entry.source.revision == "v1"
    assert with_revision([entry], None) == [entry]
    with pytest.raises(BadInputError, match="one hub model, got 2"):
        with_revision([entry, entry.random_twin()], "v2")
    local = parse_entry(hf_entry(weights=str(tmp_path)))
    with pytest.raises(BadInputError, match="local weights"):
        with_revision([local], "v2")


def test_cli_refuses_revision_with_several_models():
    r = invoke("compare", "minilm-l6", "effnet-lite0", "--revision", "v2")
    assert r.exit_code == 2 and "--revision pins one hub model, got 2" in r.stderr


# ---- the hub calls and the cache key -----------------------------------------------------------
def test_the_revision_reaches_the_hub_and_changes_the_cache_key(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from infogauss_cli.models.backends import hub
    from infogauss_cli.models.backends import transformers as hf
    from infogauss_cli.models.backends.common import base_fingerprint

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(fake_hub_cache(tmp_path)))
    calls = []
    real = hub.hub_snapshot

    def spy(*args, **kw):
        calls.append(kw.get("revision"))
        return real(*args, **kw)

    monkeypatch.setattr(hub, "hub_snapshot", spy)
    entry = parse_entry(hf_entry())
    main_folder, main_id = hf.model_folder(entry)
    v2_folder, v2_id = hf.model_folder(with_revision([entry], "v2")[0])
    assert calls == [None, "v2"]
    assert main_folder.name == SHA_MAIN and v2_folder.name == SHA_V2
    assert (main_id, v2_id) == (f"hf:org/tiny@{SHA_MAIN}", f"hf:org/tiny@{SHA_V2}")
    keys = {json.dumps(base_fingerprint(entry, "text", w)) for w in (main_id, v2_id)}
    assert len(keys) == 2  # the weights identity is part of the encoder's fingerprint
    pinned = hf.model_folder(with_revision([entry], SHA_V2)[0])[1]
    assert pinned == v2_id  # a commit hash and the tag naming it share the cache


def test_identity_falls_back_to_the_requested_revision(tmp_path):
    from infogauss_cli.models.backends import hub

    assert hub.hub_identity("o/r", tmp_path, "v2") == "hf:o/r@v2"
    assert hub.hub_identity("o/r", tmp_path / "snapshots" / SHA_V2, "v2") == f"hf:o/r@{SHA_V2}"


# ---- the JSON ----------------------------------------------------------------------------------
def test_protocol_revision_in_the_json(tmp_path, monkeypatch):
    import infogauss_cli.models.catalogue as backends
    import infogauss_cli.models.catalogue as zoo
    from tests.support.encoders import make_text_encoder

    (tmp_path / "s.txt").write_text("\n".join(f"sentence number {i}" for i in range(40)))
    registry = Zoo(entries=(parse_entry(hf_entry(revision="v1")),), path="fake")
    monkeypatch.setattr(zoo, "load_zoo", lambda path=None: registry)
    seen = []

    def build_encoder(entry, tower):
        seen.append(entry.source.revision)
        return make_text_encoder()

    monkeypatch.setattr(backends, "build_encoder", build_encoder)
    monkeypatch.setattr(backends, "fail_fast", lambda entry: None)  # hub weights stand in too
    common = ("--data", f"text:{tmp_path / 's.txt'}", "--no-cache", "--json", "-", "-q")
    rows = [
        json.loads(invoke("audit", "tiny-bert", *common, *extra).stdout)["rows"][0]
        for extra in ((), ("--revision", "v2"))
    ]
    assert seen == ["v1", "v2"]
    assert [r["protocol"]["revision"] for r in rows] == ["v1", "v2"]
