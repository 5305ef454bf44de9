"""Entry point for the torchrun tests (tests/extract/test_torchrun.py), run by torchrun per rank.

``torchrun ... tests/support/torchrun_entry.py own-cache ARGS...``: the infogauss CLI with a cache
folder of its own per rank (``$INFOGAUSS_CACHE/rankR``), as on nodes that do not share one.
``torchrun ... tests/support/torchrun_entry.py step-failure|early-exit|slow-rank``: the ranks'
meeting protocol with a failure on rank 1 inside a step, before any step, or rank 1 slower than
``INFOGAUSS_DIST_TIMEOUT``.
"""

from __future__ import annotations

import os
import sys


def _scenario(name: str) -> int:
    import typer

    from infogauss_cli.cli.errors import handle_errors
    from infogauss_cli.core.errors import BadInputError, RunError
    from infogauss_cli.extract.distributed import agree

    rank = int(os.environ["RANK"])

    @handle_errors
    def command() -> None:
        if name == "early-exit" and rank == 1:
            raise BadInputError("only rank 1 fails, before any step")

        def step() -> int:
            if name == "step-failure" and rank == 1:
                raise RunError("boom on rank 1")
            if name == "slow-rank" and rank == 1:
                import time

                time.sleep(float(os.environ.get("INFOGAUSS_TEST_SLEEP", "8")))
            return rank

        agree("step-1", step)
        agree("step-2", lambda: rank)

    try:
        command()
        code = 0
    except typer.Exit as exc:
        code = exc.exit_code
    print(f"rank={rank} code={code}", flush=True)
    return code


def main() -> int:
    what, args = sys.argv[1], sys.argv[2:]
    if what != "own-cache":
        return _scenario(what)
    os.environ["INFOGAUSS_CACHE"] = os.path.join(
        os.environ["INFOGAUSS_CACHE"], f"rank{os.environ['RANK']}"
    )
    from infogauss_cli.cli.main import app

    sys.argv = ["infogauss", *args]
    app()
    return 0


if __name__ == "__main__":
    sys.exit(main())
