"""``netrosetta serve IMPL BEHAVIOUR`` and ``netrosetta fetch IMPL URL...``: the console script follows
the same launch contracts as ``python -m impl_IMPL`` (conformance/SPEC.md, section L and "Launching a
client"), including an unknown implementation."""

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


@pytest.mark.parametrize("argv", [["nosuch", "http://127.0.0.1:1/"], ["raw"],
                                  ["raw", "--concurrency", "0", "x"]],
                         ids=["unknown-impl", "no-url", "bad-concurrency"])
def test_fetch_bad_command_line_is_one_line_and_exit_2(argv: list[str]) -> None:
    run = subprocess.run([netrosetta(), "fetch", *argv], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and run.stdout == "", (run.returncode, run.stdout, run.stderr)
    assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr


def test_fetch_raw_from_a_raw_urlecho() -> None:
    """The README's example: `netrosetta fetch raw URL...` against a URL echo."""
    server = launch(Variant("serve-raw", "raw", (netrosetta(), "serve", "raw")), "urlecho", args=("--quiet",))
    try:
        urls = [f"http://127.0.0.1:{server.port}/a", f"http://127.0.0.1:{server.port}/bb"]
        run = subprocess.run([netrosetta(), "fetch", "raw", *urls], cwd=REPO, capture_output=True, text=True,
                             timeout=30)
    finally:
        server.stop(signal.SIGTERM)
    assert (run.returncode, run.stdout) == (0, f"200 2 {urls[0]}\n200 3 {urls[1]}\n"), run
