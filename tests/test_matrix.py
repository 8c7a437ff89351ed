"""``netrosetta conformance``: the command line, SPEC.md parsing, rendering, and real runs of the suite."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from netrosetta import matrix, version
from netrosetta_conformance.clients import wait_until

REPO = Path(__file__).resolve().parent.parent
# A real run of a few clauses: seconds on a quiet machine; bounded, generously, for a loaded one.
RUN_TIMEOUT = 240
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 30)


# -- command line ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, says", [
    (["--impl", "nope"], "--impl: unknown nope"),
    (["--impl", "raw,nope"], "--impl: unknown nope"),
    (["--impl", ","], "--impl: no implementation named"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--impl", "raw", "--server-cmd", "./my-server"], "exclude each other"),
    (["--server-cmd", " "], "--server-cmd: empty command"),
    (["--impl"], "expected one argument"),
])
def test_bad_command_line_is_one_line_and_status_2(argv, says, capsys, tmp_path):
    status = matrix.main([*argv, "--out", str(tmp_path)] if argv != ["--impl"] else argv)
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("netrosetta conformance: error: ") and says in err, err


def test_help_is_status_0(capsys):
    assert matrix.main(["--help"]) == 0
    assert "--server-cmd" in capsys.readouterr().out


def test_arguments_after_double_dash_go_to_pytest(tmp_path):
    args, extra = matrix.parse_args(["--impl", "raw", "--", "-k", "E3", "--impl", "x"])
    assert args.impl == "raw" and extra == ["-k", "E3", "--impl", "x"]
    command = matrix.pytest_command(args, extra, tmp_path / "cells.json", tmp_path)
    assert command[:4] == [sys.executable, "-m", "pytest", str(matrix.SUITE)]
    assert command[-4:] == ["-k", "E3", "--impl", "x"]
    assert ["--matrix-json", str(tmp_path / "cells.json")] == command[command.index("--matrix-json"):][:2]


# -- SPEC.md and rendering -----------------------------------------------------------------------

SPEC_SAMPLE = """\
# spec
- **L1** Once listening, print READY.
  An explanation that is not a clause.
- **E3** When the client shuts down its sending side, send what is owed | then close.
* **U7.3** A star bullet.
- **U10** After U7.3 in SPEC order.
- not a clause
- **bad** lower case
"""


def test_clause_titles_read_the_format_of_spec_md():
    titles = matrix.clause_titles(SPEC_SAMPLE)
    assert list(titles) == ["L1", "E3", "U7.3", "U10"]
    assert titles["L1"] == "Once listening, print READY."
    assert titles["U7.3"] == "A star bullet."


def test_the_real_spec_has_titles_for_the_clauses_under_test():
    titles = matrix.clause_titles(matrix.SPEC.read_text())
    assert titles["E3"].startswith("When the client shuts down its sending side")


def test_every_clause_of_spec_md_has_a_test_and_every_test_a_clause():
    """The matrix's rows come from SPEC.md and its cells from test names: the two must agree."""
    tested = set()
    for path in (REPO / "conformance").glob("test_*.py"):
        for match in re.finditer(r"^(?:async )?def test_([A-Z]\d+(?:_\d+)*)_", path.read_text(), re.M):
            tested.add(match.group(1).replace("_", "."))
    specified = set(matrix.clause_titles(matrix.SPEC.read_text()))
    assert not specified - tested, f"clauses in SPEC.md without a test: {sorted(specified - tested)}"
    assert not tested - specified, f"tests for clauses not in SPEC.md: {sorted(tested - specified)}"


def test_rows_follow_spec_order_then_unknown_clauses_and_columns_follow_variants():
    cells = [{"clause": c, "variant": v, "status": "pass", "test": "t"}
             for c, v in [("U10", "raw"), ("E3", "tornado"), ("Z2", "raw"), ("Z10", "custom"), ("L1", "raw")]]
    clauses, variants = matrix.build_matrix(cells, matrix.clause_titles(SPEC_SAMPLE))
    assert [c["id"] for c in clauses] == ["L1", "E3", "U10", "Z2", "Z10"]
    assert [c["title"] for c in clauses][-1] == ""
    assert [v["id"] for v in variants] == ["raw", "tornado", "custom"]
    assert variants[1]["impl"] == "tornado"


def test_markdown_has_the_table_the_divergences_and_the_failure_messages():
    cells = [
        {"clause": "E3", "variant": "raw", "status": "pass", "test": "t::a[raw]"},
        {"clause": "E3", "variant": "raw-iterative", "status": "fail", "test": "t::a[raw-iterative]",
         "message": "requirement: E3\n```nested fence```"},
        {"clause": "U7.3", "variant": "raw-iterative", "status": "divergence", "test": "t::b[raw-iterative]",
         "reason": "blocking by design"},
        {"clause": "U7.3", "variant": "raw", "status": "missing", "test": "t::b[raw]", "reason": "not yet"},
    ]
    clauses, variants = matrix.build_matrix(cells, matrix.clause_titles(SPEC_SAMPLE))
    text = matrix.render_markdown({
        "argv": ["--impl", "raw", "--server-cmd", "a b"], "generated": "now", "pytest_status": 1,
        "clauses": clauses, "variants": variants, "cells": cells,
        "counts": {"pass": 1, "fail": 1, "divergence": 1, "missing": 1, "n/a": 0}})
    lines = text.splitlines()
    assert "`netrosetta conformance --impl raw --server-cmd 'a b'`" in lines[2]
    assert "| clause | requirement | raw | raw-iterative |" in lines
    assert "| E3 | When the client shuts down its sending side, send what is owed \\| then close. " \
           "| pass | **FAIL** |" in lines
    assert "| U7.3 | A star bullet. | missing | divergence |" in lines
    assert "- **U7.3** × `raw-iterative`: blocking by design" in lines
    assert "- `raw`: not yet" in text.split("## Missing", 1)[1].split("## Failures")[0]
    failures = text.split("## Failures", 1)[1]
    assert "### E3 × raw-iterative" in failures and "`t::a[raw-iterative]`" in failures
    assert "````\nrequirement: E3\n```nested fence```\n````" in failures


# -- real runs ------------------------------------------------------------------------------------

def conformance(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    """Run ``netrosetta conformance ARGV --out tmp_path``; return the run, matrix.json, matrix.md."""
    command = [sys.executable, "-m", "netrosetta.cli", "conformance", "--out", str(tmp_path), *argv]
    # Wide enough that pytest's one-line summaries are not cut.
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                         env=dict(os.environ, COLUMNS="250"))
    data = json.loads((tmp_path / "matrix.json").read_text()) if (tmp_path / "matrix.json").exists() else {}
    text = (tmp_path / "matrix.md").read_text() if (tmp_path / "matrix.md").exists() else ""
    return run, data, text


def test_a_passing_run_writes_json_and_markdown_and_exits_0(tmp_path):
    run, data, text = conformance(tmp_path, "--impl", "raw", "--", "-k", "test_E1_", "-n", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert data["schema"] == matrix.SCHEMA and data["status"] == 0 and data["pytest_status"] == 0
    assert data["spec_version"] == version.spec_version() and f"SPEC.md {data['spec_version']}" in text
    assert data["clauses"] == [{"id": "E1", "title": matrix.clause_titles(matrix.SPEC.read_text())["E1"]}]
    assert [v["id"] for v in data["variants"]][:3] == ["raw", "raw-threaded", "raw-iterative"]
    assert {(c["clause"], c["status"]) for c in data["cells"]} == {("E1", "pass")}
    assert len(data["cells"]) == len(data["variants"]) and data["counts"]["pass"] == len(data["cells"])
    assert "| E1 | Every byte received" in text and "| pass | pass | pass |" in text
    assert "conformance matrix" in run.stdout and "matrix.json" in run.stdout


def test_a_failing_clause_exits_non_zero_with_its_message(tmp_path):
    script = REPO / "tests" / "broken" / "echo_drops_half_close.py"
    run, data, text = conformance(tmp_path, "--server-cmd", shlex.join([sys.executable, str(script)]),
                                  "--", "-k", "test_E1_ or test_E3_", "-n", "0")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert data["status"] == 1 and data["variants"] == [{"id": "custom", "impl": "custom"}]
    status = {c["clause"]: c["status"] for c in data["cells"]}
    assert status == {"E1": "pass", "E3": "fail"}
    failed = next(c for c in data["cells"] if c["clause"] == "E3")
    assert "requirement" in failed["message"]
    assert "| E3 | When the client shuts down" in text and "**FAIL**" in text
    assert "### E3 × custom" in text and "requirement" in text.split("## Failures", 1)[1]
    # One line each, ending with the requirement and what was got: pytest's summary and ours.
    summary = ("E3 half-close: send back everything owed, then close — got: '0 bytes (equal=False), "
               "closed=True'")
    assert failed["summary"] == summary
    assert f"FAIL E3 × custom: {summary}" in run.stdout
    assert f"test_echo.py::test_E3_half_close[custom] - {summary}" in run.stdout, run.stdout[-3000:]
    assert "The matrix counts 2 cells (clause × variant), pytest 2 tests" in run.stdout
    # Short tracebacks: the failing line of the test, not the suite's plumbing around it.
    assert "def test_E3_half_close" not in run.stdout

    # --lf: the cache sits with the matrix, so the next run reruns just the failure.
    run, data, _ = conformance(tmp_path, "--server-cmd", shlex.join([sys.executable, str(script)]),
                               "--", "-k", "test_E1_ or test_E3_", "-n", "0", "--lf")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert {c["clause"]: c["status"] for c in data["cells"]} == {"E3": "fail"}


def test_an_interrupted_run_keeps_the_previous_matrix(tmp_path):
    previous = {name: f"the previous {name}\n" for name in ("matrix.json", "matrix.md")}
    for name, text in previous.items():
        (tmp_path / name).write_text(text)
    started = tmp_path / "started"
    # The server notes that the run has begun, then serves: Ctrl-C then lands mid-run.
    script = f'touch {shlex.quote(str(started))}; exec "$0" -m impl_raw "$@"'
    command = [sys.executable, "-m", "netrosetta.cli", "conformance", "--out", str(tmp_path),
               "--server-cmd", shlex.join(["sh", "-c", script, sys.executable]), "--", "-n", "2"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert wait_until(started.exists, timeout=60), "the run never started a server"
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    assert f"netrosetta conformance: interrupted; kept the previous {tmp_path / 'matrix.md'}" in err
    assert {name: (tmp_path / name).read_text() for name in previous} == previous
    assert not list(tmp_path.glob(".*.partial"))


def test_pytest_failing_without_results_exits_non_zero(tmp_path):
    run, data, _ = conformance(tmp_path, "--impl", "raw", "--", "--no-such-pytest-option")
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert "pytest exited with status 4" in run.stderr and "Traceback" not in run.stderr


def test_divergences_and_not_applicable_cells_carry_their_reasons(tmp_path):
    run, data, text = conformance(tmp_path, "--impl", "raw-threaded,raw-iterative",
                                  "--", "-k", "test_L9_ or test_M1_", "-n", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    cells = {(c["clause"], c["variant"]): c for c in data["cells"]}
    diverged = cells[("L9", "raw-threaded")]
    assert diverged["status"] == "divergence" and "thread" in diverged["reason"]
    for variant in ("raw-threaded", "raw-iterative"):
        assert cells[("M1", variant)]["status"] == "n/a"
        assert "does not serve multiport" in cells[("M1", variant)]["reason"]
    assert f"- **L9** × `raw-threaded`: {diverged['reason']}" in text
    assert "| M1 |" in text and "| n/a | n/a |" in text


def test_a_clause_with_several_parameters_is_one_cell_per_variant(tmp_path):
    run, data, _ = conformance(tmp_path, "--impl", "raw-threaded", "--", "-k", "test_L7_", "-n", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert data["variants"] == [{"id": "raw-threaded", "impl": "raw"}]
    cells = [(c["clause"], c["variant"], c["status"]) for c in data["cells"]]
    assert cells == [("L7", "raw-threaded", "pass")]
