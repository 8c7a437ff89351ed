"""``netrosetta serve IMPL BEHAVIOUR``: the console script follows the same launch contract as
``python -m impl_IMPL`` (conformance/SPEC.md, section L), including an unknown implementation."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from netrosetta_conformance.clients import pump
from netrosetta_conformance.harness import Variant, launch

REPO = Path(__file__).resolve().parent.parent


def netrosetta() -> str:
    script = Path(sys.executable).parent / "netrosetta"
    if not script.exists():
        found = shutil.which("netrosetta")
        if found is None:
            pytest.skip("the netrosetta console script is not installed")
        return found
    return str(script)


@pytest.mark.parametrize("argv", [["nosuch", "echo"], [], ["raw", "nosuch"], ["raw", "echo", "--port", "x"]],
                         ids=["unknown-impl", "no-impl", "unknown-behaviour", "bad-port"])
def test_bad_command_line_is_one_line_and_exit_2(argv: list[str]) -> None:
    run = subprocess.run([netrosetta(), "serve", *argv], cwd=REPO, capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr


def test_serve_raw_echo_ready_and_sigterm() -> None:
    server = launch(Variant("serve-raw", "raw", (netrosetta(), "serve", "raw")), "echo")
    try:
        with server.connect() as sock:
            got, _ = pump(sock, [b"via the console script\n"], expect=23)
        assert got == b"via the console script\n"
    finally:
        status, stderr = server.stop(signal.SIGTERM)
    assert status == 0 and "Traceback" not in stderr, (status, stderr)
