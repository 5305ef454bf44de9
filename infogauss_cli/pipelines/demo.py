"""``infogauss demo``: the paper's comparison offline on a CPU: the synthetic experiment and
packaged weights on data that ships with Python and scikit-image, against random-init twins."""

from __future__ import annotations

from infogauss_cli.core.errors import BadInputError
from infogauss_cli.core.options import DataOptions, DiagnoseOptions, Request
from infogauss_cli.core.progress import note
from infogauss_cli.judge.model import Row
from infogauss_cli.pipelines.audit import audit_models
from infogauss_cli.pipelines.synthetic.experiment import synthetic_rows
from infogauss_cli.pipelines.synthetic.train import preset

SYNTHETIC_SETTINGS = ("gmm", "binary", "supervised")
MODEL_ROWS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("minilm-l6", "minilm-l6@random"), "pydoc-topics"),
    (("effnet-lite0", "effnet-lite0@random"), "skimage-samples"),
)
GPU_COMMAND = "infogauss compare clip-vit-l14 dino resnet34 densenet --download --html report.html"


def demo_rows(*, models: bool = True, keep_arrays: bool = False) -> list[Row]:
    """Synthetic rows, then :data:`MODEL_ROWS` (a model that cannot load gives error rows)."""
    options = DiagnoseOptions(keep_arrays=keep_arrays)
    rows = synthetic_rows(preset("quick", settings=SYNTHETIC_SETTINGS), Request(diagnose=options))
    for refs, data in MODEL_ROWS if models else ():
        note(f"[dim]{' vs '.join(refs)} on {data}[/]")
        try:
            rows += audit_models(refs, Request(data=DataOptions(data=data), diagnose=options))
        except BadInputError as exc:  # e.g. scikit-image missing: the other rows still count
            rows += [Row(model=ref, data={"source": data}, error=str(exc)) for ref in refs]
    return rows
