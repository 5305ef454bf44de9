"""``infogauss check FILE`` rows carry ``provenance`` like audit rows: the sha256 of the matrix
file's bytes as ``data_fingerprint``, no weights."""

from __future__ import annotations

import hashlib
import json

from infogauss_cli.report.json_report import validate_report
from tests.support.cli import invoke


def test_check_rows_carry_the_file_sha256(matrix, tmp_path):
    out = tmp_path / "r.json"
    r = invoke("check", matrix, "--view", "both", "--json", out, "-q")
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    validate_report(doc)
    digest = hashlib.sha256(matrix.read_bytes()).hexdigest()
    assert len(doc["rows"]) == 2
    for row in doc["rows"]:
        assert row["provenance"] == {
            "weights_sha256": None,
            "weights": None,
            "data_fingerprint": digest,
        }
