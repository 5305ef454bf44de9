"""``infogauss fit`` and ``score``: rows with ids and provenance, their fit, their scores."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from infogauss_cli import __version__
from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Protocol, Request
from infogauss_cli.data.readers import SUPPORTED
from infogauss_cli.data.sources.base import Source
from infogauss_cli.diagnostics.fit import GaussianFit, ScoreResult, ood_metrics, score_rows
from infogauss_cli.diagnostics.validate import validate_matrix
from infogauss_cli.extract.model import extract_model, file_tower
from infogauss_cli.extract.plan import subset_indices
from infogauss_cli.extract.result import Extraction
from infogauss_cli.extract.store import ids_sidecar
from infogauss_cli.judge.model import Row
from infogauss_cli.judge.rows import checked_rows
from infogauss_cli.models.digest import identity_sha256, stream_sha256

SAME = ("model", "revision", "tower", "weights_sha256")  # a model's fit scores its tower only
IN_SAMPLE = ("model", "data_fingerprint", "ids_sha256")  # the fit's own rows
Labels = str | Path | None


@dataclass(frozen=True)
class Rows:
    """Rows with their ids, provenance, labels, and source (a model's rows)."""

    x: np.ndarray
    ids: tuple[str, ...]
    provenance: dict[str, Any]
    labels: tuple[str, ...] | None = None
    source: Source | None = None


def load_rows(
    target: str, request: Request, key: str | None = None, labels: Labels = None,
    label_column: str | None = None, fit: GaussianFit | None = None,
) -> Rows:  # fmt: skip
    """A matrix file's rows (a suffix ``check`` reads, or an existing file), else a model's
    tower's on ``request.data`` (``fit``: checked first)."""
    if Path(target).suffix.lower() in SUPPORTED.split(", ") or Path(target).is_file():
        return matrix_rows(Path(target), request.protocol, key, labels, label_column)
    if label_column is not None:
        raise BadInputError("--label-column reads a CSV or Parquet matrix; give a model --labels")
    _, entry, source, tower = file_tower(target, request)
    prov = {"model": entry.ref, "revision": entry.source.revision, "backend": entry.backend}
    prov |= {"tower": tower, "objective": entry.objective if entry.pretrained else "random-init"}
    if fit is not None:
        check_fit(fit, prov)  # before the extraction
    by_id = None
    if labels is not None:  # read before the extraction too: a wrong count fails fast
        every = [it.id for it in source.items(tower)]
        by_id = dict(zip(every, read_labels(labels, len(every), source.name), strict=True))
    ex = extract_model(entry, source, tower, request)
    assert isinstance(ex, Extraction)  # a single process: no shard
    prov |= {"data": source.name, "data_fingerprint": ex.data_fingerprint}
    prov |= {"weights_sha256": identity_sha256(ex.weights)}
    return _rows(validate_matrix(ex.embeddings), ex.ids, prov, by_id, source)


def matrix_rows(
    path: Path, protocol: Protocol, key: str | None, labels: Labels, label_column: str | None
) -> Rows:
    """A matrix file's rows (the seeded ``--n`` subset), ids (sidecar, else row numbers), labels."""
    from infogauss_cli.data.readers import read_matrix  # pyarrow, torch for some formats

    if labels is not None and label_column is not None:
        raise BadInputError("give --labels FILE or --label-column NAME, not both")
    x, names = label_split(path, label_column) if label_column else (read_matrix(path, key), None)
    n = (x := validate_matrix(x)).shape[0]
    ids = saved_ids(path, n) or [str(i) for i in range(n)]
    names = read_labels(labels, n, path.name) if labels is not None else names
    by_id = None if names is None else dict(zip(ids, names, strict=True))
    if (keep := subset_indices(n, protocol.n, protocol.seed)) is not None:
        x, ids = x[keep], [ids[i] for i in keep]
    prov = {"model": path.name + (f"[{key}]" if key else ""), "revision": None, "backend": "file"}
    prov |= {"tower": None, "data": f"file:{path}", "data_fingerprint": stream_sha256(path)}
    return _rows(x, ids, prov, by_id)


def _rows(
    x: np.ndarray, ids: Sequence[str], prov: dict[str, Any], by_id: Mapping[str, str] | None,
    source: Source | None = None,
) -> Rows:  # fmt: skip
    """The rows with their provenance completed, and the labels of their ids (``by_id``)."""
    ids = tuple(str(i) for i in ids)
    prov |= {"ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()}
    prov |= {"n": int(x.shape[0]), "d": int(x.shape[1]), "infogauss_version": __version__}
    return Rows(x, ids, prov, None if by_id is None else tuple(by_id[i] for i in ids), source)


def read_labels(path: str | Path, n: int, what: str) -> list[str]:
    """One label per line (trailing blank lines dropped); exactly ``n`` of them."""
    try:
        lines = Path(path).read_text(encoding="utf-8").rstrip("\r\n").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read --labels {path}: {exc}") from None
    if len(lines) != n:
        raise BadInputError(f"--labels {path} has {len(lines):,} labels, but {what} has {n:,} "
                            "rows: give one label per line, in row order")  # fmt: skip
    return [ln.strip() for ln in lines]


def label_split(path: Path, column: str) -> tuple[np.ndarray, list[str]]:
    """The numeric columns of a CSV/TSV/Parquet table, and its ``column`` of labels."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    try:
        suffix = path.suffix.lower()
        opts = pcsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
        table = pq.read_table(path) if suffix == ".parquet" else pcsv.read_csv(path, None, opts)
        names = [str(v) for v in table.column(column).to_pylist()]
        rest = table.drop_columns([column]).columns
        return np.column_stack([c.to_numpy().astype(np.float64) for c in rest]), names
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        raise BadInputError(f"cannot read column {column!r} of {path.name}: {exc}") from None


def saved_ids(path: Path, n: int) -> list[str] | None:
    """The ids ``extract`` saved (in a .safetensors header, else a ``.ids.json`` sidecar)."""
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), "np") as f:
                ids = json.loads((f.metadata() or {})["ids"])
        else:
            ids = json.loads(ids_sidecar(path).read_text())["ids"]
    except (OSError, ValueError, KeyError, TypeError):  # no usable ids: the row numbers serve
        return None
    ids = [str(i) for i in ids] if isinstance(ids, list) else []
    return ids if len(set(ids)) == len(ids) == n else None  # one id a row, each once


def check_fit(fit: GaussianFit, prov: Mapping[str, Any]) -> bool:
    """Refuse a fit of another model, revision, tower, weights or d (those ``prov`` knows: a
    matrix file's fit scores any rows of its d); True for the fit's own rows (in-sample)."""
    have, files = fit.provenance, "file" in (fit.provenance.get("backend"), prov["backend"])
    for key in [k for k in SAME if k in prov and not files]:
        if have.get(key) != prov[key]:
            raise BadInputError(f"--fit was fitted on {key} {have.get(key)!r}, these rows are "
                                f"from {key} {prov[key]!r}: fit this {key} first")  # fmt: skip
    if prov.get("d", fit.d) != fit.d:
        raise BadInputError(f"--fit has d = {fit.d}, {prov['model']} has d = {prov['d']}")
    return all(have.get(k) is not None and have.get(k) == prov.get(k) for k in IN_SAMPLE)


def score(fit: GaussianFit, rows: Rows, ood: Rows | None = None) -> ScoreResult:
    """Score ``rows``; ``ood``: AUROC and FPR95 of the distance and of the cosine baseline."""
    in_sample = check_fit(fit, rows.provenance)
    result = score_rows(fit, rows.x, rows.ids, labels=rows.labels, in_sample=in_sample)
    if ood is None:
        return result
    check_fit(fit, ood.provenance)
    auroc, fpr95 = ood_metrics(fit.mahalanobis(rows.x), fit.mahalanobis(ood.x))
    cos = ood_metrics(cosine_distance(fit, rows.x), cosine_distance(fit, ood.x))
    metrics = {"auroc": auroc, "fpr95": fpr95, "auroc_cosine": cos[0], "fpr95_cosine": cos[1]}
    return replace(result, ood=metrics | {"n_ood": float(ood.x.shape[0])})


def cosine_distance(fit: GaussianFit, x: np.ndarray) -> np.ndarray:
    """The baseline: 1 - cos(row, fit mean), rows in the fit's view."""
    z, m = fit.prepare(x), fit.mean
    norms = np.linalg.norm(z, axis=1) * np.linalg.norm(m)
    return 1.0 - (z @ m) / np.maximum(norms, np.finfo(float).tiny)


def whiten_check(fit: GaussianFit, rows: Rows, request: Request) -> list[Row]:
    """The diagnostics' rows of the fitted rows and of their ZCA-whitened rows."""
    prov = rows.provenance
    data = {"source": prov["data"], "items": prov["n"], "skipped": 0}
    who = {"model": str(prov["model"]), "tower": prov["tower"], "backend": prov["backend"]}
    info = Row(**who, data=data, provenance={"data_fingerprint": prov["data_fingerprint"]})
    proto, args = replace(request.protocol, view=fit.view), (request.diagnose, request.gates)
    white, info_w = fit.whiten(rows.x, "zca"), replace(info, model=f"{info.model} whitened")
    after = checked_rows(white, info_w, replace(proto, view="raw"), *args)
    return checked_rows(rows.x, info, proto, *args) + after


def thumbnails(rows: Rows, ids: Collection[str]) -> dict[str, object]:
    """What the HTML shows of a model's items ``ids``: the text, else the image file or image."""
    if rows.source is None:
        return {}
    pic = lambda it: it.text if it.text is not None else Path(it.path) if it.path else it.image  # noqa: E731
    return {it.id: pic(it) for it in rows.source.items(rows.provenance["tower"]) if it.id in ids}
