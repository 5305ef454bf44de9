"""``infogauss check``: an embedding matrix stored in a file -> report rows."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from infogauss_cli.core.options import Request
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.rows import checked_rows
from infogauss_cli.models.digest import stream_sha256


def check_file(path: Path, request: Request, key: str | None, name: str | None) -> list[Row]:
    """``infogauss check``: the rows of a matrix in a file (data fingerprint: its sha256)."""
    from infogauss_cli.data.readers import read_matrix
    from infogauss_cli.diagnostics import validate_matrix

    t0 = time.perf_counter()
    x = validate_matrix(read_matrix(path, key))
    t1 = time.perf_counter()
    digest = stream_sha256(path)
    info = Row(
        model=name or path.name + (f"[{key}]" if key else ""),
        backend="file",
        data={"source": f"file:{path}", "items": int(x.shape[0]), "skipped": 0},
        protocol={"precision": str(np.asarray(x).dtype), "device": None},
        provenance={"weights_sha256": None, "weights": None, "data_fingerprint": digest},
        timing={"load_s": round(t1 - t0, 4), "fingerprint_s": round(time.perf_counter() - t1, 4)},
    )
    return checked_rows(x, info, request.protocol, request.diagnose, request.gates)
