"""The README's bring-your-own-server example, run as written: a Node.js echo server written from
SPEC.md (tests/node_echo/echo_server.js) passes the E and L clauses through --server-cmd, and, started
separately, through --connect."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netrosetta_conformance.harness import custom_variant, launch

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 300
pytestmark = [pytest.mark.timeout(RUN_TIMEOUT + 30),
              pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (make test "
                                                                      "installs Debian's nodejs)")]


def readme_command() -> list[str]:
    """The README's `netrosetta conformance --server-cmd "node ..."` line, as argv."""
    match = re.search(r"^netrosetta conformance (--server-cmd \"node [^\n]*echo_server\.js\"[^#\n]*)",
                      (REPO / "README.md").read_text(), re.M)
    assert match, "README.md no longer shows the Node echo example"
    return shlex.split(match.group(1))


def conformance(out: Path, *argv: str) -> tuple[subprocess.CompletedProcess, dict]:
    command = [sys.executable, "-m", "netrosetta.cli", "conformance", "--out", str(out), *argv]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    path = out / "matrix.json"
    cells = json.loads(path.read_text())["cells"] if path.exists() else []
    return run, {cell["clause"]: cell["status"] for cell in cells if cell["clause"][0] in "EL"}


def test_node_echo_passes_e_and_l_through_server_cmd(tmp_path):
    argv = readme_command()
    run, status = conformance(tmp_path, *argv, "--", "-n", "2")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert {clause for clause, s in status.items() if s == "n/a"} == {"L2", "L9", "L12"}, status
    assert {s for clause, s in status.items() if clause not in ("L2", "L9", "L12")} == {"pass"}, status
    assert len(status) == 25, sorted(status)  # E1-E13, L1-L12  # L1-L10, E1-E9


def test_node_echo_passes_through_connect(tmp_path):
    argv = readme_command()
    command = shlex.split(argv[argv.index("--server-cmd") + 1])
    server = launch(custom_variant(shlex.join(command)), "echo")  # started separately, as a user would
    try:
        run, status = conformance(tmp_path, "--connect", f"echo=127.0.0.1:{server.port}", "--", "-n", "2")
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # Sockets only: E1-E6 run; the clauses that start, signal or measure the process are n/a.
    sockets_only = {f"E{i}" for i in range(1, 7)} | {"E10", "E13"}
    assert {clause for clause, s in status.items() if s == "pass"} == sockets_only, status
    assert {s for clause, s in status.items() if clause not in sockets_only} == {"n/a"}, status
    assert len(status) == 25, sorted(status)  # E1-E13, L1-L12
