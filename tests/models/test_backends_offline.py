"""Hub weights on a machine without network fail within seconds, with one message that names the
model, the file/repo it needed, why the hub cannot be used, and how to use local weights.

Two ways to be offline: HF_HUB_OFFLINE=1 (set for the whole test session), and an unreachable
endpoint (HF_ENDPOINT at a closed port on 127.0.0.1, in a subprocess without HF_HUB_OFFLINE).
No test touches a real host.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from infogauss_cli.core.errors import RunError
from infogauss_cli.core.netcheck import unreachable_reason
from infogauss_cli.models.backends import hub
from infogauss_cli.models.catalogue import build_encoder, load_zoo

REPO = Path(__file__).resolve().parents[2]
CASES = [  # (model, tower, what the message must name)
    ("resnet34", "image", "timm/resnet34.tv_in1k"),
    ("clip-vit-l14", "text", "timm/vit_large_patch14_clip_224.openai"),
    ("hf-clip-vit-l14", "image", "openai/clip-vit-large-patch14"),
]


def assert_offline_message(message: str, model: str, needed: str) -> None:
    assert message.startswith(f"cannot load {model}:"), message
    assert needed in message
    assert "weights: PATH" in message and "--zoo" in message
    assert f"infogauss zoo show {model.partition('@')[0]} --yaml" in message
    assert "\n" not in message


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path / "hf"


@pytest.mark.parametrize(("model", "tower", "needed"), CASES)
def test_hf_hub_offline_fails_at_once_with_one_message(empty_hf_cache, model, tower, needed):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    entry = load_zoo().resolve(model)
    start = time.monotonic()
    with pytest.raises(RunError) as info:
        build_encoder(entry, tower)
    assert time.monotonic() - start < 10
    assert_offline_message(str(info.value), model, needed)
    assert "HF_HUB_OFFLINE is set" in str(info.value)


def test_minilm_without_its_package_falls_back_to_the_hub_and_says_so(empty_hf_cache, monkeypatch):
    import infogauss_cli.models.weights as zoo_mod

    monkeypatch.setattr(zoo_mod, "package_path", lambda spec: None)
    with pytest.raises(RunError) as info:
        build_encoder(load_zoo().resolve("minilm-l6"), "text")
    assert_offline_message(str(info.value), "minilm-l6", "sentence-transformers/all-MiniLM-L6-v2")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SNIPPET = """
import importlib, json, sys, time
import torch
from infogauss_cli.models.catalogue import load_zoo
from infogauss_cli.models.catalogue import build_encoder
from infogauss_cli.core.errors import RunError
entry = load_zoo().resolve(sys.argv[1])
# the clock measures the network failure, not importing the library
importlib.import_module({"hf": "transformers"}.get(entry.backend, entry.backend))
start = time.monotonic()
try:
    build_encoder(entry, sys.argv[2])
    result = {"error": None}
except RunError as exc:
    result = {"error": str(exc), "type": type(exc).__name__}
result["seconds"] = time.monotonic() - start
print(json.dumps(result))
"""


def _online_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf-home"), PYTHONPATH=str(REPO))
    env.pop("HF_HUB_CACHE", None)
    return env


@pytest.mark.slow
@pytest.mark.parametrize(("model", "tower", "needed"), CASES)
def test_unreachable_endpoint_fails_within_seconds(tmp_path, model, tower, needed):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    proc = subprocess.run(
        [sys.executable, "-c", SNIPPET, model, tower],
        env=_online_env(tmp_path, endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["type"] == "RunError", result
    assert result["seconds"] < 10, result
    assert_offline_message(result["error"], model, needed)
    assert f"the hub ({endpoint}) is unreachable" in result["error"]


@pytest.mark.slow
def test_cli_extract_fails_fast_with_exit_3(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "imgs" / "a.png")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    args = [
        "extract",
        "resnet34",
        "--data",
        f"images:{tmp_path / 'imgs'}",
        "--out",
        str(tmp_path / "e.npy"),
    ]
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "infogauss_cli", *args, "--cache-dir", str(tmp_path / "cache")],
        env=_online_env(tmp_path, endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - start  # includes importing torch and timm
    assert proc.returncode == 3, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot load resnet34:"), proc.stderr
    assert "timm/resnet34.tv_in1k" in lines[0] and "unreachable" in lines[0]
    assert elapsed < 30


def test_probe_gives_up_on_a_silent_server():
    """A server that accepts connections but never answers: the probe times out, no hang."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    conns = []
    accepter = threading.Thread(target=lambda: conns.append(server.accept()), daemon=True)
    accepter.start()
    try:
        start = time.monotonic()
        why = unreachable_reason(f"http://127.0.0.1:{server.getsockname()[1]}", 0.5)
        assert why is not None and time.monotonic() - start < 10  # 0.5 s, loose for load
    finally:
        for conn, _ in conns:
            conn.close()
        server.close()


def test_probe_treats_any_http_answer_as_reachable():
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        assert unreachable_reason(f"http://127.0.0.1:{server.server_address[1]}", 2) is None
    finally:
        thread.join(5)
        server.server_close()
    assert unreachable_reason(f"http://127.0.0.1:{_closed_port()}", 2) is not None


def test_library_errors_are_translated():
    from huggingface_hub.errors import LocalEntryNotFoundError

    def failing():
        try:
            raise LocalEntryNotFoundError("no network")
        except LocalEntryNotFoundError as exc:
            raise RuntimeError("Failed to download weights for tag 'openai'") from exc

    with pytest.raises(RunError) as info, hub.translate_hub_errors("clip-vit-l14", "the weights"):
        failing()
    assert_offline_message(str(info.value), "clip-vit-l14", "the weights")
    with pytest.raises(ValueError), hub.translate_hub_errors("m", "x"):
        raise ValueError("unrelated errors pass through")
