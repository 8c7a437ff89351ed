"""--connect: the suite against a server it did not start, as Autobahn|Testsuite does. Clauses that
need only sockets run; those that start, signal or measure the process, or need it started with
particular flags, show as n/a with the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import netrosetta_conformance
from netrosetta_conformance.harness import VARIANTS, connect_variant, launch, parse_address

SUITE = Path(netrosetta_conformance.__file__).parent
RAW = next(v for v in VARIANTS if v.id == "raw")
RUN_TIMEOUT = 120


def suite(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    cells_path = tmp_path / "cells.json"
    command = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider", "-n", "0",
               "--matrix-json", str(cells_path), *args]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    cells = json.loads(cells_path.read_text())["cells"] if cells_path.exists() else []
    return run, {cell["clause"]: cell for cell in cells}


def test_addresses_and_specs():
    assert parse_address("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_address("[::1]:9000") == ("::1", 9000)
    for bad in ("9000", "host:", "host:0", "host:70000", ":9000"):
        with pytest.raises(ValueError):
            parse_address(bad)
    variant = connect_variant(["echo=h:1,multiport=h:2", "multiport=h:3"], [])
    assert dict(variant.connect) == {"echo": (("h", 1),), "multiport": (("h", 2), ("h", 3))}
    assert variant.missing("urlecho") == "n/a: no --connect address for urlecho"
    assert dict(connect_variant(["h:1"], ["urlecho"]).connect) == {"urlecho": (("h", 1),)}
    with pytest.raises(ValueError, match="name its behaviour"):
        connect_variant(["h:1"], [])


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_a_running_server_is_tested_through_its_sockets_only(tmp_path):
    echo, urlecho = launch(RAW, "echo"), launch(RAW, "urlecho")
    try:
        run, cells = suite(tmp_path, "--connect", f"echo=127.0.0.1:{echo.port}",
                           "--connect", f"urlecho=127.0.0.1:{urlecho.port}",
                           "-k", "test_E1_ or test_E9_ or test_L5_ or test_L7_ or test_U1_1 or test_U18_3 "
                                 "or test_M1_")
    finally:
        echo.stop()
        urlecho.stop()
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    status = {clause: (cell["status"], cell.get("reason", "")) for clause, cell in cells.items()}
    assert status == {
        "E1": ("pass", ""),
        "U1.1": ("pass", ""),
        "E9": ("n/a", "under --connect: starts servers of its own"),
        "L5": ("n/a", "under --connect: starts servers of its own"),
        "L7": ("n/a", "under --connect: runs the server command with bad arguments"),
        "U18.3": ("n/a", "under --connect: needs the server started with --header-timeout 1 "
                         "--body-timeout 1 --idle-timeout 3"),
        "M1": ("n/a", "no --connect address for multiport"),
    }, status
    assert {cell["variant"] for cell in cells.values()} == {"connect"}


def test_nothing_listening_stops_the_run_with_one_message(tmp_path):
    launched = launch(RAW, "echo")
    port = launched.port
    launched.stop()  # the port was just ours: now nothing listens there
    run, cells = suite(tmp_path, "--connect", f"127.0.0.1:{port}", "--behaviour", "echo")
    output = run.stdout + run.stderr
    assert run.returncode == 1 and cells == {}, output[-3000:]
    assert output.count(f"cannot connect to 127.0.0.1:{port}") == 1, output[-3000:]


@pytest.mark.parametrize("args, says", [
    (["--connect", "127.0.0.1:9"], "name its behaviour"),
    (["--connect", "echo=127.0.0.1:9", "--server-cmd", "x"], "excludes --server-cmd and --impl"),
    (["--connect", "echo=nowhere"], "not HOST:PORT"),
])
def test_bad_connect_options_are_usage_errors(tmp_path, args, says):
    run, _ = suite(tmp_path, *args)
    assert run.returncode == 4 and says in run.stderr, (run.returncode, run.stderr[-2000:])
