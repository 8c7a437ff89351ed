"""The pre-flight: before any test, each server command is launched once per behaviour under test.

A server that cannot start would otherwise fail every test of its behaviour, each after its own wait
for READY. Here it is found in one launch: if the command exits or prints no READY line within
``--ready-timeout``, the run stops with one message (the command, its exit status, the last lines
of its stderr). A server that exits with status 2 for a behaviour (a usage error: the launch
contract's answer to a behaviour it does not serve) makes that behaviour's tests n/a instead.

Under pytest-xdist every worker collects the same tests and so needs the same verdicts; each
(variant, behaviour) is launched by whichever worker takes its lock first, and the others read the
verdict it wrote. The controller, which collects nothing, reads the same directory to stop the run.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

from netrosetta_conformance import harness
from netrosetta_conformance.harness import Server, ServerError, Variant

STDERR_LINES = 15


class VerdictStore:
    """One JSON verdict per (variant, behaviour) in a directory shared by the run's processes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def settle(self, key: str, run: Callable[[], dict]) -> dict:
        """The verdict for ``key``: read if another process has written it, else ``run()`` and write it.

        The lock is held while ``run`` launches the server (bounded by --ready-timeout), so two
        processes never launch the same pre-flight.
        """
        verdict_path = self.directory / f"{key}.json"
        with open(self.directory / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if verdict_path.exists():
                return json.loads(verdict_path.read_text())
            verdict = run()
            partial = verdict_path.with_suffix(".partial")
            partial.write_text(json.dumps(verdict))
            os.replace(partial, verdict_path)
            return verdict

    def fatal(self) -> dict | None:
        """The first verdict (in key order) that stops the run, if any."""
        for path in sorted(self.directory.glob("*.json")):
            verdict = json.loads(path.read_text())
            if verdict["status"] == "fatal":
                return verdict
        return None


def key_of(variant: Variant, behaviour: str) -> str:
    return f"{variant.id}--{behaviour}"


def check(variant: Variant, behaviour: str) -> tuple[dict, Server | None]:
    """Launch ``variant`` for ``behaviour`` as the tests will; return its verdict, and the server if
    it started (the caller keeps it for the tests)."""
    ports = 3 if behaviour == "multiport" else 1
    verdict = {"variant": variant.id, "behaviour": behaviour, "status": "ok"}
    try:
        return verdict, harness.launch(variant, behaviour, ports)
    except ServerError as error:
        failed = error
    if variant.connect:
        verdict.update(status="fatal", message=f"The server under test does not answer for `{behaviour}`, "
                                               f"so no test ran.\n  outcome:   {failed}")
        return verdict, None
    argv = harness.server_argv(variant, behaviour, ports)
    text = str(failed)
    outcome = text.split("\ncommand: ", 1)[0]
    stderr = text.split("\nstderr:\n", 1)[1] if "\nstderr:\n" in text else ""
    if failed.status == 2:
        first = next((line.strip() for line in stderr.splitlines() if line.strip()), "no message")
        verdict.update(status="n/a", reason=f"n/a: the server exits with status 2 for `{behaviour}` "
                                            f"(it does not serve {behaviour}): {first[:200]}")
        return verdict, None
    if failed.status is None and "no READY line" in outcome:
        outcome = outcome.removesuffix(" (got so far: b'')")
        outcome = outcome.replace("no READY line", "no READY line on stdout")
        outcome += " (--ready-timeout); it was killed with its process group"
    tail = stderr.rstrip("\n").splitlines()[-STDERR_LINES:]
    lines = [
        f"The server under test did not start for `{behaviour}`, so no test ran.",
        f"  command:   {shlex.join(argv)}",
        f"  directory: {os.getcwd()}",
        f"  outcome:   {outcome}",
        f"  stderr (last {STDERR_LINES} lines):" if tail else "  stderr:    (nothing)",
        *(f"    {line}" for line in tail),
    ]
    verdict.update(status="fatal", message="\n".join(lines))
    return verdict, None
