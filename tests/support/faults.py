"""Shared test helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import yaml

from tests.support.cli import invoke, run_cli


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ") and "Traceback" not in output, output
    assert "unexpected" not in lines[0], output
    return lines[0]


def _extract(imgs, *args):
    """``infogauss extract tiny-cnn --data images:IMGS ARGS`` (the fake zoo's model)."""
    return invoke("extract", "tiny-cnn", "--data", f"images:{imgs}", *args)


REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zoo_file(tmp_path: Path, weights: str) -> Path:
    entry = {
        "id": "m",
        "backend": "timm",
        "source": {"name": "test_resnet", "weights": weights},
        "towers": ["image"],
        "objective": "supervised",
        "embedding": "pooled",
        "dim": 64,
    }
    path = tmp_path / "zoo.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "models": [entry]}))
    return path


def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env.update(
        HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}",  # every hub call goes to loopback
        HF_HOME=str(tmp_path / "hf"),
        PYTHONPATH=str(REPO),
        NO_PROXY="*",
    )
    env.pop("HTTPS_PROXY", None)
    env.pop("HTTP_PROXY", None)
    return env


def _run(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = run_cli(*args, env=env, timeout=300)
    return proc, time.monotonic() - start


def _extract_offline(model: str, data: str, tmp_path) -> tuple[subprocess.CompletedProcess, float]:
    args = ["extract", model, "--data", data, "--no-cache", "--out", str(tmp_path / "x.npy")]
    return _run(args, _offline_env(tmp_path))
