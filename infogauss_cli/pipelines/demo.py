"""``infogauss demo``: the paper's comparison, offline, in a couple of minutes on a CPU.

Real material only where it exists offline: the synthetic experiment (quick preset: the
Gaussian mixture and sparse binary inputs at initialisation and after InfoNCE training, and
the supervised contrast), and real packaged weights on real data that ships with Python and
scikit-image: ``minilm-l6`` (contrastive, sentence-transformers) against its random-init twin
on the sentences of ``pydoc-topics``, and ``effnet-lite0`` (supervised ImageNet) against its
twin on ``skimage-samples``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.judge.model import Row

SYNTHETIC_SETTINGS = ("gmm", "binary", "supervised")
MODEL_ROWS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("minilm-l6", "minilm-l6@random"), "pydoc-topics"),
    (("effnet-lite0", "effnet-lite0@random"), "skimage-samples"),
)
GPU_COMMAND = "infogauss compare clip-vit-l14 dino resnet34 densenet --download --html report.html"


def demo_rows(
    *,
    models: bool = True,
    keep_arrays: bool = False,
    progress: Callable[[str], None] | None = None,
    console: Any = None,
) -> list[Row]:
    """The demo's rows: synthetic (quick preset), then each of :data:`MODEL_ROWS` on its
    data (a model that cannot load gives an error row; the others still run)."""
    from infogauss_cli.core.options import DataOptions, DiagnoseOptions, Request
    from infogauss_cli.pipelines.audit import audit_models
    from infogauss_cli.pipelines.synthetic.experiment import preset, synthetic_rows

    options = DiagnoseOptions(keep_arrays=keep_arrays)
    cfg = preset("quick", settings=SYNTHETIC_SETTINGS)
    rows = synthetic_rows(cfg, options=options, progress=progress)
    for refs, data in MODEL_ROWS if models else ():
        if progress:
            progress(f"{' vs '.join(refs)} on {data}")
        try:
            rows += audit_models(refs, Request(data=DataOptions(data=data), diagnose=options))
        except BadInputError as exc:  # e.g. scikit-image missing: the other rows still count
            rows += [Row(model=ref, data={"source": data}, error=str(exc)) for ref in refs]
    return rows
