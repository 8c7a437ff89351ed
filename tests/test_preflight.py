"""The suite fails fast and cleans up: the pre-flight stops a run whose server cannot start, in
seconds and with one message; every server runs in a process group of its own, ended with it."""

from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netrosetta_conformance
from netrosetta_conformance.clients import wait_until

SUITE = str(Path(netrosetta_conformance.__file__).parent)
RUN_TIMEOUT = 120
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 30)


def suite(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the suite with pytest from a scratch directory; return the run and its wall time."""
    command = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", *args]
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    return run, time.monotonic() - started


def processes_with(marker: str) -> list[str]:
    """Command lines of the running processes whose arguments contain ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker.encode() in argv:
                found.append(b" ".join(argv).decode(errors="replace"))
    return found


def unique_sleep() -> str:
    """A sleep duration no other process on the machine is using, to find our sleeps by."""
    return f"{random.randint(500, 900)}.{random.randint(1000, 9999)}"


def test_a_server_that_never_says_ready_stops_the_run_in_seconds_and_leaves_nothing(tmp_path):
    seconds = unique_sleep()
    # A wrapper with a child in the background and one in the foreground: both are in the group.
    command = f"sh -c 'sleep {seconds} & sleep {seconds}'"
    run, elapsed = suite(tmp_path, "-n", "2", "--server-cmd", command, "--ready-timeout", "3",
                         "--matrix-json", str(tmp_path / "cells.json"))
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert elapsed < 30, f"took {elapsed:.0f}s"
    assert output.count("did not start") == 1 and output.count("no READY line") == 1, output[-3000:]
    assert f"command:   sh -c 'sleep {seconds} & sleep {seconds}' echo --port 0" in output, output[-3000:]
    assert "passed" not in output and "failed" not in output and "Traceback" not in output, output[-3000:]
    assert wait_until(lambda: not processes_with(seconds), timeout=5), processes_with(seconds)
    document = json.loads((tmp_path / "cells.json").read_text())
    assert document["cells"] == [] and "no READY line" in document["stopped"]


def test_a_server_that_exits_at_once_is_reported_once(tmp_path):
    command = "sh -c 'echo cannot start: no config >&2; exit 1'"
    # Without xdist (the test above has it): the same one message.
    run, elapsed = suite(tmp_path, "-n", "0", "--server-cmd", command)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert output.count("exited with status 1 before READY") == 1, output[-3000:]
    assert output.count("\n    cannot start: no config\n") == 1, output[-3000:]
    assert "Traceback" not in output and len(output.splitlines()) < 25, output


def test_status_2_for_a_behaviour_makes_it_not_applicable(tmp_path):
    # Serves echo (raw's), refuses the other behaviours as the launch contract says: status 2.
    script = ('case "$1" in echo) exec "$0" -m impl_raw "$@";; '
              '*) echo "unknown behaviour $1" >&2; exit 2;; esac')
    command = shlex.join(["sh", "-c", script, sys.executable])
    run, _ = suite(tmp_path, "-n", "0", "--server-cmd", command, "-k", "test_E1_ or test_M1_ or test_U1_1",
                   "--matrix-json", str(tmp_path / "cells.json"))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    cells = {cell["clause"]: cell for cell in json.loads((tmp_path / "cells.json").read_text())["cells"]}
    assert cells["E1"]["status"] == "pass"
    for clause, behaviour in (("M1", "multiport"), ("U1.1", "urlecho")):
        assert cells[clause]["status"] == "n/a", cells[clause]
        assert f"exits with status 2 for `{behaviour}`" in cells[clause]["reason"]
        assert f"unknown behaviour {behaviour}" in cells[clause]["reason"]


def test_a_wrappers_children_are_ended_with_the_server(tmp_path):
    seconds = unique_sleep()
    # The wrapper leaves a child behind and execs the real server: the group still holds the child.
    script = f'sleep {seconds} & exec "$0" -m impl_raw "$@"'
    command = shlex.join(["sh", "-c", script, sys.executable])
    run, _ = suite(tmp_path, "-n", "0", "--server-cmd", command, "-k", "test_E1_ or test_L5_")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "2 passed" in run.stdout, run.stdout[-3000:]
    assert wait_until(lambda: not processes_with(seconds), timeout=5), processes_with(seconds)


def test_the_server_runs_in_the_directory_the_suite_was_started_in(tmp_path):
    # A relative script path, as a user would type it in their project's directory.
    (tmp_path / "serve.sh").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m impl_raw "$@"\n')
    os.chmod(tmp_path / "serve.sh", 0o755)
    run, _ = suite(tmp_path, "-n", "0", "--server-cmd", "./serve.sh", "-k", "test_E1_")
    assert run.returncode == 0 and "1 passed" in run.stdout, (run.stdout + run.stderr)[-3000:]


# -- clients (--client-cmd): the same pre-flight, the same process groups --------------------------

BROKEN = Path(__file__).resolve().parent / "broken"


def broken_client(name: str, seconds: str | None = None) -> str:
    """The command of a broken client under tests/broken/, behind a wrapper that leaves a background
    child (a grandchild of the suite) when ``seconds`` is given."""
    argv = [sys.executable, str(BROKEN / name)]
    if seconds is None:
        return shlex.join(argv)
    return shlex.join(["sh", "-c", f'sleep {seconds} & exec "$0" "$@"', *argv])


def test_a_client_that_never_finishes_stops_the_run_in_seconds_and_leaves_nothing(tmp_path):
    seconds = unique_sleep()
    command = broken_client("fetch_never_finishes.py", seconds)
    run, elapsed = suite(tmp_path, "-n", "2", "--client-cmd", command, "--behaviour", "fetch",
                         "--ready-timeout", "3", "--matrix-json", str(tmp_path / "cells.json"))
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert elapsed < 30, f"took {elapsed:.0f}s"
    assert output.count("did not fetch one URL") == 1, output[-3000:]
    killed = "did not finish within 3 s (--ready-timeout); it was killed with its process group"
    assert output.count(killed) == 1, output[-3000:]
    assert "fetch_never_finishes.py fetch http://127.0.0.1:" in output, output[-3000:]
    assert "fetching 1 URL(s)" in output, output[-3000:]  # the last lines of its stderr
    assert "passed" not in output and "failed" not in output and "Traceback" not in output, output[-3000:]
    assert wait_until(lambda: not processes_with(seconds), timeout=5), processes_with(seconds)
    assert "did not fetch one URL" in json.loads((tmp_path / "cells.json").read_text())["stopped"]


def test_a_client_that_exits_at_once_is_reported_once(tmp_path):
    run, elapsed = suite(tmp_path, "-n", "0", "--client-cmd", broken_client("fetch_exits_at_once.py"))
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert output.count("exited with status 3 (the client contract has 0, 1 and 2)") == 1, output[-3000:]
    assert output.count("\n    fetch: cannot start: no configuration file\n") == 1, output[-3000:]
    assert "Traceback" not in output and len(output.splitlines()) < 25, output


def test_a_client_wrappers_children_are_ended_with_the_client(tmp_path):
    seconds = unique_sleep()
    script = f'sleep {seconds} & exec "$0" -m impl_raw "$@"'
    command = shlex.join(["sh", "-c", script, sys.executable])
    run, _ = suite(tmp_path, "-n", "0", "--client-cmd", command, "--behaviour", "fetch",
                   "-k", "test_F1_ or test_F2_", "--matrix-json", str(tmp_path / "cells.json"))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    cells = json.loads((tmp_path / "cells.json").read_text())["cells"]
    assert {cell["status"] for cell in cells if cell["clause"].startswith("F")} == {"pass"}, cells
    assert {cell["status"] for cell in cells if not cell["clause"].startswith("F")} <= {"n/a"}, cells
    assert wait_until(lambda: not processes_with(seconds), timeout=5), processes_with(seconds)
