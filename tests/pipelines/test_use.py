"""pipelines/use.py: matrix rows (ids, labels, --n), in-sample detection, the OOD metrics and the
cosine baseline against independent computations, the whiten check."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.spatial.distance import cosine
from scipy.stats import mannwhitneyu

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import Protocol, Request
from infogauss_cli.diagnostics.fit import fit
from infogauss_cli.extract.store import save_embeddings
from infogauss_cli.pipelines import use


@pytest.fixture
def emb(tmp_path):
    x = np.random.default_rng(3).standard_normal((200, 6)) @ np.diag([3, 2, 1, 1, 0.5, 0.2])
    save_embeddings(tmp_path / "e.npy", x.astype(np.float32), [f"img{i}.jpg" for i in range(200)])
    return tmp_path / "e.npy"


def test_a_safetensors_matrix_from_extract_keeps_its_ids(emb, tmp_path):
    ids = [f"img{i}.jpg" for i in range(200)]
    save_embeddings(tmp_path / "e.safetensors", np.load(emb), ids)
    rows = use.matrix_rows(tmp_path / "e.safetensors", Protocol(), None, None, None)
    assert rows.ids == tuple(ids)


def fitted(rows: use.Rows, view: str = "raw"):
    return fit(rows.x, labels=rows.labels, view=view, provenance=rows.provenance | {"view": view})


def test_matrix_rows_ids_subset_and_in_sample(emb):
    rows = use.matrix_rows(emb, Protocol(), None, None, None)
    assert rows.ids[:2] == ("img0.jpg", "img1.jpg") and rows.provenance["backend"] == "file"
    g = fitted(rows)
    assert use.check_fit(g, rows.provenance) is True  # the fit's own rows
    sub = use.matrix_rows(emb, Protocol(n=50, seed=1), None, None, None)
    keep = sorted(np.random.default_rng(1).choice(200, 50, replace=False))
    assert sub.ids == tuple(f"img{i}.jpg" for i in keep)
    assert use.check_fit(g, sub.provenance) is False  # same file, other rows: new samples
    x = np.load(emb)
    np.savez(emb.with_suffix(".npz"), a=x, b=x[::-1])  # one file, two matrices of the same n
    a, b = (use.matrix_rows(emb.with_suffix(".npz"), Protocol(), k, None, None) for k in "ab")
    assert use.check_fit(fitted(a), a.provenance) is True
    assert use.check_fit(fitted(a), b.provenance) is False  # another array: new samples


def test_labels_file_and_column(emb, tmp_path):
    (tmp_path / "l.txt").write_text("\n".join("ab"[i % 2] for i in range(200)) + "\n\n")
    rows = use.matrix_rows(emb, Protocol(n=30), None, tmp_path / "l.txt", None)
    assert rows.labels == tuple("ab"[int(i[3:-4]) % 2] for i in rows.ids)
    with pytest.raises(BadInputError, match=r"199 labels, but e\.npy has 200 rows"):
        (tmp_path / "s.txt").write_text("a\n" * 199)
        use.matrix_rows(emb, Protocol(), None, tmp_path / "s.txt", None)
    x = np.load(emb)
    table = pa.table({"u": x[:, 0], "kind": ["p", "q"] * 100, "v": x[:, 1]})
    pq.write_table(table, tmp_path / "t.parquet")
    rows = use.matrix_rows(tmp_path / "t.parquet", Protocol(), None, None, "kind")
    assert np.array_equal(rows.x, x[:, :2].astype(np.float64)) and rows.labels[:2] == ("p", "q")
    with pytest.raises(BadInputError, match=r"column 'nope' of t\.parquet"):
        use.matrix_rows(tmp_path / "t.parquet", Protocol(), None, None, "nope")


def test_ood_metrics_and_cosine_baseline(emb, tmp_path):
    rows = use.matrix_rows(emb, Protocol(), None, None, None)
    shifted = rows.x[:80] * 1.5 + 1.0
    np.save(tmp_path / "o.npy", shifted)
    other = use.matrix_rows(tmp_path / "o.npy", Protocol(), None, None, None)
    g = fitted(rows)
    result = use.score(g, rows, ood=other)
    d_in, d_out = g.mahalanobis(rows.x), g.mahalanobis(shifted)
    u = mannwhitneyu(d_out, d_in).statistic  # U: pairs ranked right
    assert result.ood["auroc"] == pytest.approx(u / (80 * 200), abs=1e-12)
    t = max(v for v in d_out if (d_out >= v).mean() >= 0.95)  # 95% of OOD caught
    assert result.ood["fpr95"] == pytest.approx((d_in >= t).mean())
    cos_in = [cosine(r.astype(np.float64), g.mean) for r in rows.x]
    assert np.allclose(use.cosine_distance(g, rows.x), cos_in, rtol=0, atol=1e-12)
    assert 0 <= result.ood["auroc_cosine"] <= 1 and result.ood["n_ood"] == 80


def test_whiten_check_rows(emb):
    rows = use.matrix_rows(emb, Protocol(), None, None, None)
    g = fitted(rows)
    assert np.allclose(np.cov(g.whiten(rows.x), rowvar=False), np.eye(6), atol=1e-9)
    before, after = use.whiten_check(g, rows, Request())
    assert (before.model, after.model) == ("e.npy", "e.npy whitened")
    assert after.protocol["view"] == "raw" and after.verdict is not None
