"""torch.distributed for torchrun ranks: they meet through one ``all_gather_object`` per step;
rank 0 assembles. ``$INFOGAUSS_DIST_TIMEOUT`` (s, default 6 h) bounds a meeting,
``$INFOGAUSS_SHARED_FS_WAIT`` (s, default 60) the wait for files written on other nodes."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from infogauss_cli.core.atomic import atomic_write_bytes
from infogauss_cli.core.errors import BadInputError, InfogaussError, RunError, first_line
from infogauss_cli.core.options import parse_shard
from infogauss_cli.extract.plan import SHARED_HINT, Shard

T = TypeVar("T")
FINAL = "final"
TIMEOUT_ENV = "INFOGAUSS_DIST_TIMEOUT"
FS_WAIT_ENV = "INFOGAUSS_SHARED_FS_WAIT"

_state: dict[str, Any] = {"finished": False, "checked": set()}


class Stopped(BaseException):
    """Another rank ended with ``code`` inside a step (BaseException: no handler swallows it)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    try:
        return int(text) if text else default
    except ValueError:
        raise BadInputError(f"${name}={text!r} is not an integer") from None


def torchrun_env() -> tuple[int, int, int] | None:
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return None
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise BadInputError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return rank, world, local


def is_main() -> bool:
    try:
        env = torchrun_env()
    except BadInputError:  # reported where the roles are read
        return True
    return env is None or env[0] == 0


def current_shard(shard: str | None = None) -> Shard:
    """``--shard K/N``, else torchrun's environment, else a single process."""
    env = torchrun_env()
    if shard:
        k, n = parse_shard(shard)
        if env is not None:
            raise BadInputError(
                f"--shard {shard} splits the work without torch.distributed; under torchrun "
                f"(WORLD_SIZE={env[1]}) the ranks split it already: drop --shard"
            )
        return Shard(k - 1, n, 0, "job")
    return Shard() if env is None else Shard(*env, mode="torchrun")


def _group() -> Any:
    import datetime

    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        env = torchrun_env()
        if env is None:
            raise RunError("internal: a rank meeting outside torchrun")
        backend = "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(env[2])
            backend = "cpu:gloo,cuda:nccl"
        timeout = datetime.timedelta(seconds=_env_int(TIMEOUT_ENV, 6 * 3600))
        dist.init_process_group(backend, timeout=timeout)
    return dist


@dataclass(frozen=True)
class Message:
    """One rank's word at a meeting: step ``tag``, exit ``code`` (0: fine), a message, data."""

    tag: str
    code: int = 0
    message: str = ""
    data: Any = None


def exchange(tag: str, code: int = 0, message: str = "", data: object = None) -> list[Message]:
    """Every rank's :class:`Message`, in rank order; another rank's final one raises Stopped."""
    try:
        dist = _group()
        out: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(out, Message(tag, code, message, data))
    except RunError:
        raise
    except Exception as exc:  # a rank stuck past the timeout, or gone
        _state["lost"] = True
        text = f"{type(exc).__name__} {exc}".lower()
        if "timeout" in text or "timed out" in text:
            raise RunError(
                f"the ranks did not all reach step {tag!r} within "
                f"{_env_int(TIMEOUT_ENV, 6 * 3600)} s ({TIMEOUT_ENV}): a rank is stuck or "
                "stopped; rerun to resume from the cache"
            ) from exc
        raise RunError(
            f"the ranks lost contact at step {tag!r} ({type(exc).__name__}); rerun to resume"
        ) from exc
    if tag != FINAL and any(m.tag == FINAL for m in out):
        _state["finished"] = True
        with contextlib.suppress(Exception):  # shutting down anyway
            dist.destroy_process_group()
        raise Stopped(agreed_code(out))
    if any(m.tag != tag for m in out):
        tags = ", ".join(f"rank {r}: {m.tag}" for r, m in enumerate(out))
        raise RunError(f"the ranks lost step ({tags}); rerun to resume from the cache")
    return out


def meet(tag: str, error: BaseException | None = None, data: object = None) -> list[Message]:
    """Every rank's :class:`Message` at step ``tag``: this rank's ``error`` is told, then
    raised; another rank's failure is raised here."""
    if error is not None:
        known = isinstance(error, InfogaussError)
        why = str(error) if known else f"unexpected {type(error).__name__}: {first_line(error)}"
        exchange(tag, error.exit_code if known else 3, why)
        raise error
    messages = exchange(tag, data=data)
    for rank, m in enumerate(messages):
        if m.code:
            cls = BadInputError if m.code == 2 else RunError
            raise cls(m.message if rank == 0 else f"rank {rank}: {m.message}")
    return messages


def agree(tag: str, step: Callable[[], T]) -> T:
    """Run ``step``, then meet: if it failed on any rank, every rank raises."""
    try:  # Ctrl-C or SIGTERM passes: torchrun stops the other ranks when this one exits
        value, error = step(), None
    except Exception as exc:
        value, error = None, exc
    meet(tag, error)
    return value  # type: ignore[return-value]


def wait_for(paths: list[Path]) -> list[Path]:
    """The ``paths`` still missing after ``$INFOGAUSS_SHARED_FS_WAIT`` s (network mounts)."""
    deadline = time.monotonic() + _env_int(FS_WAIT_ENV, 60)
    missing, delay = [p for p in paths if not p.exists()], 0.05
    while missing and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(2.0, delay * 2)
        missing = [p for p in missing if not p.exists()]
    return missing


def check_folder(shard: Shard, root: Path) -> None:
    """Once per folder: every rank sees every other rank's marker in ``root/.ranks``, else a
    :class:`BadInputError` on every rank naming the ranks and hosts."""
    if str(root) in _state["checked"]:
        return
    host = socket.gethostname()
    token = exchange("cache-token", data=uuid.uuid4().hex)[0].data
    ranks = root / ".ranks"
    mine = ranks / f"{token}.{shard.rank}"

    def write() -> None:
        try:
            atomic_write_bytes(mine, host.encode(), parents=True)
        except OSError as exc:
            raise BadInputError(f"cannot write to the cache folder {root}: {exc}") from None

    agree("cache-marker", write)
    others = [ranks / f"{token}.{r}" for r in range(shard.world) if r != shard.rank]
    gone = sorted(int(p.suffix[1:]) for p in wait_for(others))
    seen = exchange("cache-seen", data=(host, gone, str(root)))
    mine.unlink(missing_ok=True)
    problems = [(r, m.data) for r, m in enumerate(seen) if m.data[1]]
    if problems:  # the same message on every rank: rank 0 alone prints it
        rank, (where, gone, folder) = problems[0]
        hosts = sorted({seen[g].data[0] for g in gone})
        folders = sorted({m.data[2] for m in seen})
        also = f" (the ranks use different folders: {', '.join(folders)})" if folders[1:] else ""
        raise BadInputError(
            f"rank {rank} on {where} cannot see the files of rank(s) "
            f"{', '.join(map(str, gone))} (on {', '.join(hosts)}) in {folder}{also}: "
            f"{SHARED_HINT}"
        )
    _state["checked"].add(str(root))


def agreed_code(messages: list[Message]) -> int:
    """The finished ranks' exit code: rank 0's error, else the largest."""
    final = [(r, m.code) for r, m in enumerate(messages) if m.tag == FINAL]
    if final and final[0][0] == 0 and final[0][1]:
        return final[0][1]
    return max((c for _, c in final), default=0)


def use_hard_exit() -> None:
    """The entry point ends the process through :func:`leave` once the ranks agree (destroying a
    gloo group while a peer exits can abort with -6 instead of the agreed code)."""
    _state["hard_exit"] = True


def leave(code: int) -> None:
    if _state.get("leave"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def finish(code: int, message: str = "") -> tuple[int, bool]:
    """Under torchrun, agree on the exit code: (code, whether this rank prints its ``message``:
    rank 0 always, another rank when it is not rank 0's)."""
    try:
        env = torchrun_env() if not _state["finished"] else None
    except BadInputError:
        env = None
    if env is None:
        return code, True
    _state["finished"] = True
    # contact lost, or torchrun stopping the ranks: meeting a rank that is gone waits out a timeout
    if _state.get("lost") or message.startswith("terminated (SIGTERM)"):
        return code, env[0] == 0
    try:
        dist = _group()
        messages = exchange(FINAL, code, message)
    except Exception:  # no meeting: every rank speaks for itself
        return code, True
    if _state.get("hard_exit"):
        _state["leave"] = True  # the entry point ends the process: see leave()
    else:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
    rank, first = env[0], messages[0]
    said = first.message if first.tag == FINAL else ""  # what rank 0 prints
    speaks = rank == 0 or said not in (message, f"rank {rank}: {message}")
    return agreed_code(messages), bool(message) and speaks
