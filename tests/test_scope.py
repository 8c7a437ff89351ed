"""Say what you serve: --behaviour, --not-applicable for runtime clauses, /proc clauses without /proc."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import netrosetta_conformance
from netrosetta.matrix import SPEC, clause_titles
from netrosetta_conformance.harness import connect_variant
from netrosetta_conformance.scope import RUNTIME, Scope, parse_clauses

SUITE = Path(netrosetta_conformance.__file__).parent
RUN_TIMEOUT = 120


def suite(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the suite from a scratch directory; return the run and its cells by clause."""
    cells_path = tmp_path / "cells.json"
    command = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider",
               "--matrix-json", str(cells_path), *args]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    cells = json.loads(cells_path.read_text())["cells"] if cells_path.exists() else []
    return run, {cell["clause"]: cell for cell in cells}


def logging_raw(log: Path) -> str:
    """A --server-cmd that serves through impl_raw and notes each behaviour it is started for."""
    script = f'echo "$1" >> {shlex.quote(str(log))}; exec "$0" -m impl_raw "$@"'
    return shlex.join(["sh", "-c", script, sys.executable])


# -- the rules, without a server ---------------------------------------------------------------

def test_scope_reasons():
    everything = Scope(proc=True)
    assert everything.reason("E1", "echo", {}) is None
    only_echo = Scope(behaviours=frozenset({"echo"}), proc=True)
    assert only_echo.reason("M1", "multiport", {}) == "n/a: multiport is not tested (--behaviour echo)"
    assert Scope(not_applicable=frozenset({"L9"})).reason("L9", "echo", {"proc": ()}).startswith(
        "n/a: declared not applicable to this server's runtime")
    assert Scope(proc=False).reason("E9", "echo", {"proc": ()}) == \
        "n/a: reads the server's /proc entries, and this system has no /proc"
    assert Scope(proc=False).reason("E1", "echo", {}) is None
    assert Scope().reason("U1.5", "urlecho", {"full_only": ("waits a minute",)}) == \
        "n/a: runs under --full only: waits a minute"
    assert Scope(full=True).reason("U1.5", "urlecho", {"full_only": ("waits a minute",)}) is None
    connected = Scope(connect=connect_variant(["echo=127.0.0.1:9"], []), proc=True)
    assert connected.reason("E1", "echo", {}) is None
    assert connected.reason("E9", "echo", {"proc": ()}, ["fresh_server"]) == \
        "n/a: under --connect: starts servers of its own"
    assert connected.reason("L7", "echo", {"process": ("runs it with bad arguments",)}) == \
        "n/a: under --connect: runs it with bad arguments"
    assert connected.reason("U18.1", "urlecho", {"server_args": ("--header-timeout", "1")}) == \
        "n/a: under --connect: needs the server started with --header-timeout 1"


def test_only_runtime_clauses_may_be_declared_not_applicable():
    assert parse_clauses("L9, M2") == {"L9", "M2"}
    with pytest.raises(ValueError, match="E1 not a runtime clause"):
        parse_clauses("L9,E1")


def test_spec_tags_match_the_suite():
    """SPEC.md's *[runtime]* and *[/proc]* tags, the RUNTIME table and the tests' proc markers agree."""
    spec = SPEC.read_text()
    tagged = {kind: {m.group(1) for m in re.finditer(rf"^- \*\*(\S+)\*\* .*\*\[[^]]*{kind}[^]]*\]\*$", spec,
                                                        re.M)} for kind in ("runtime", "/proc")}
    assert tagged["runtime"] == set(RUNTIME)
    marked = set()
    for path in SUITE.glob("test_*.py"):
        for match in re.finditer(r"@pytest\.mark\.proc\n(?:@[^\n]*\n)*def test_([A-Z]\d+(?:_\d+)*)_",
                                 path.read_text()):
            marked.add(match.group(1).replace("_", "."))
    assert tagged["/proc"] == marked
    assert set(clause_titles(spec)) >= marked


# -- real runs ---------------------------------------------------------------------------------

@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_behaviour_restricts_the_run_and_the_pre_flight(tmp_path):
    log = tmp_path / "started.log"
    run, cells = suite(tmp_path, "-n", "0", "--server-cmd", logging_raw(log), "--behaviour", "echo",
                       "-k", "test_E1_ or test_M1_ or test_U1_1 or test_L2_ or test_L9_")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert cells["E1"]["status"] == "pass" and cells["L9"]["status"] == "pass"
    for clause in ("M1", "U1.1", "L2"):
        assert cells[clause]["status"] == "n/a", cells[clause]
        assert "--behaviour echo" in cells[clause]["reason"]
    assert set(log.read_text().split()) == {"echo"}, "launched for a behaviour not under test"


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_a_runtime_clause_declared_not_applicable(tmp_path):
    run, cells = suite(tmp_path, "-n", "0", "--server-cmd", shlex.join([sys.executable, "-m", "impl_raw"]),
                       "--not-applicable", "L9", "-k", "test_L9_ or test_L1_")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert cells["L1"]["status"] == "pass"
    assert cells["L9"]["status"] == "n/a" and "runtime" in cells["L9"]["reason"], cells["L9"]


@pytest.mark.parametrize("args, says", [
    (["--server-cmd", "x", "--not-applicable", "E1"], "E1 not a runtime clause"),
    (["--impl", "raw", "--not-applicable", "L9"], "--not-applicable is for a server of your own"),
    (["--behaviour", "echo,nope"], "--behaviour: unknown nope"),
    (["--ready-timeout", "0"], "--ready-timeout must be positive"),
])
def test_bad_options_are_usage_errors(tmp_path, args, says):
    run, _ = suite(tmp_path, "-n", "0", *args)
    assert run.returncode == 4 and says in run.stderr, (run.returncode, run.stderr[-2000:])
