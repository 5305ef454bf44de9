"""Usage and config mistakes that used to end in "unexpected ...": one clear line, exit 2."""

from __future__ import annotations

from tests.support.cli import invoke
from tests.support.faults import one_error_line


def test_huge_shard_count_is_a_usage_error(tmp_path):
    r = invoke("extract", "minilm-l6", "--data", "text:x.txt", "--out", tmp_path / "o.npy",
               "--shard", "1/99999999999999999999")  # fmt: skip
    assert r.exit_code == 2
    assert "N can be at most" in one_error_line(r.output)


def test_non_utf8_zoo_file_is_bad_config(tmp_path):
    zoo = tmp_path / "zoo.yaml"
    zoo.write_bytes(b"schema_version: 1\nmodels:\n  - id: caf\xe9\n")
    r = invoke("zoo", "validate", zoo)
    assert r.exit_code == 2
    line = one_error_line(r.output)
    assert "line 3: not UTF-8" in line and "0xe9" in line
