"""Print and write a report, then exit with its code (shared by every auditing command), and
`infogauss schema`: the JSON Schema of that report (docs/report.md)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from infogauss_cli.cli import options as o
from infogauss_cli.cli.errors import stdout_named, terminal
from infogauss_cli.core.atomic import atomic_write_text, is_stdout
from infogauss_cli.core.errors import io_failure
from infogauss_cli.core.options import Outputs
from infogauss_cli.core.preflight import rescue_path
from infogauss_cli.core.safe_text import printable
from infogauss_cli.judge.model import Report, Row
from infogauss_cli.report.cells import render_markdown
from infogauss_cli.report.html import render_html
from infogauss_cli.report.json_report import dumps, schema_text

if TYPE_CHECKING:
    from infogauss_cli.judge.verdict import GateResult
    from infogauss_cli.report.html import Section


def publish(rows: Sequence[Row], out: Outputs, html_sections: Sequence[Section] = ()) -> int:
    """Table on the terminal and the files asked for; returns the report's exit code."""
    report = Report(tuple(rows), command=("infogauss", *sys.argv[1:]))
    with stdout_named():
        if out.quiet:
            for line in failure_lines(report.rows):
                print(line, file=sys.stderr)
        else:
            from infogauss_cli.report.table import TerminalReport

            terminal(out.to_stdout).print(TerminalReport(report.rows))
        if out.json_out:
            write_report("--json", out.json_out, dumps(report) + "\n")
        if out.markdown:
            write_report("--markdown", out.markdown, render_markdown(report.rows))
        if out.html:
            html = render_html(report.rows, command=report.command, sections=html_sections)
            write_report("--html", out.html, html)
    if out.plots:
        from infogauss_cli.report.plots.charts import write_plots

        keep_on_failure("--plots", out.plots, lambda p: write_plots(report.rows, p))
    return report.exit_code


def write_report(option: str, target: str | Path, text: str) -> None:
    """``text`` to stdout (``-``, ``/dev/stdout``) or atomically to the file ``target``."""
    if is_stdout(target):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    keep_on_failure(option, target, lambda p: atomic_write_text(p, text))


def failure_lines(rows: Sequence[Row]) -> list[str]:
    """What ``--quiet`` still says: a line per row that failed to run and per failed gate."""
    lines = []
    for row in rows:
        who = printable(row.model + (f"/{row.tower}" if row.tower else ""))
        if row.error:
            lines.append(f"error: {who}: {printable(row.error)}")
        view = row.protocol.get("view")
        where = f"{who} ({view})" if view else who
        for gate in row.gates:
            if not gate.passed:
                lines.append(f"infogauss: gate {gate.name} failed for {where}: {_gate_text(gate)}")
    return lines


def _gate_text(gate: GateResult) -> str:
    value = f"{gate.value:.4g}" if isinstance(gate.value, float) else gate.value
    if gate.name == "require":
        text = f"required {gate.threshold}, got {value}"
    elif gate.name.startswith("max-drop:") and value is not None:
        metric = gate.name.partition(":")[2]
        text = f"{metric} dropped by {value} from the baseline, more than {gate.threshold}"
    else:
        text = f"got {value}, threshold {gate.threshold}"
    return f"{text}: {gate.note}" if gate.note else text


def keep_on_failure(option: str, path: str | Path, write: Callable[[Path], object]) -> None:
    """``write(path)``; when that fails, write to a rescue place and raise the error naming both."""
    try:
        write(Path(path))
        return
    except OSError as exc:
        failure = exc
    fix = "no other writable place was found: free space and rerun"
    if (rescue := rescue_path(Path(path))) is not None:
        with contextlib.suppress(OSError):
            write(rescue)
            fix = f"the output was written to {rescue} instead"
    raise io_failure(failure, path, f"write {option} to", fix=fix) from None


Schema = o.choices("Schema", ("report", "score", "fit"))
KIND_HELP = "report, score (score --json) or fit (the fit's sidecar)"


@o.command(o.shared(Schema, Schema.report, "--kind", o.OPT, help=KIND_HELP))  # type: ignore[attr-defined]
def schema_cmd(**params: object) -> None:
    """Print the JSON Schema (2020-12) that every [bold]--json[/] report validates against.

    Example: [bold]infogauss schema > report.v1.json[/]
    """
    typer.echo(schema_text(params["kind"].value), nl=False)  # type: ignore[attr-defined]
