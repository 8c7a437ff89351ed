"""The pre-flight: before any test, each server command is launched once per behaviour under test.

A server that cannot start would otherwise fail every test of its behaviour, each after its own wait
for READY. Here it is found in one launch: if the command exits or prints no READY line within
``--ready-timeout``, the run stops with one message (the command, its exit status, the last lines
of its stderr). A server that exits with status 2 for a behaviour (a usage error: the launch
contract's answer to a behaviour it does not serve) makes that behaviour's tests n/a instead.

A client from elsewhere (``--client-cmd``) gets the same care: before the fetch tests it is run once
to fetch one URL from a small local server. If it does not finish within ``--ready-timeout`` (it is
then killed with its process group), prints nothing on stdout, or exits with a status the client
contract does not have (0 every URL fetched, 1 some URL failed), the run stops with one message;
status 2 makes fetch n/a. Our own clients are not pre-flown: they are known to start, and a run
is not handed to the tests as a server is, so it would only cost time.

Under pytest-xdist every worker collects the same tests and so needs the same verdicts; each
(variant, behaviour) is launched by whichever worker takes its lock first, and the others read the
verdict it wrote. The controller, which collects nothing, reads the same directory to stop the run.

This module is a pytest plugin too (plugin.py registers it): its hooks are the pre-flight's.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from netrosetta_conformance import harness, scripted
from netrosetta_conformance.harness import CLIENT_BEHAVIOURS, Server, ServerError, Variant
from netrosetta_conformance.scope import behaviour_of, in_suite, variant_of

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


def check_client(variant: Variant, behaviour: str) -> dict:
    """Run ``variant``'s client once against a local server, for one URL; return its verdict."""
    verdict = {"variant": variant.id, "behaviour": behaviour, "status": "ok"}
    server = scripted.ScriptedServer()
    try:
        url = server.url("/netrosetta-preflight")
        run = scripted.run_client(variant, [url], timeout=harness.READY_TIMEOUT)
    finally:
        server.close()
    if run.status in (0, 1) and run.stdout.strip():
        return verdict  # it ran; whether its line is right is for the tests to say
    stderr = run.stderr.rstrip("\n")
    if run.status == 2:
        first = next((line.strip() for line in stderr.splitlines() if line.strip()), "no message")
        verdict.update(status="n/a", reason=f"n/a: the client exits with status 2 for `{behaviour}` "
                                            f"(it does not do {behaviour}): {first[:200]}")
        return verdict
    if run.status is None:
        outcome = (f"did not finish within {harness.READY_TIMEOUT:g} s (--ready-timeout); it was killed "
                   "with its process group")
    elif run.status < 0:
        outcome = f"killed by signal {-run.status} before it printed a line"
    elif run.status in (0, 1):
        outcome = f"exited with status {run.status} and printed nothing on stdout"
    else:
        outcome = f"exited with status {run.status} (the client contract has 0, 1 and 2)"
    tail = stderr.splitlines()[-STDERR_LINES:]
    lines = [
        f"The client under test did not fetch one URL from a local server for `{behaviour}`, so no "
        "test ran.",
        f"  command:   {shlex.join(run.argv)}",
        f"  directory: {os.getcwd()}",
        f"  outcome:   {outcome}",
        f"  stdout:    {run.stdout.strip()[-200:]!r}" if run.stdout.strip() else "  stdout:    (nothing)",
        f"  stderr (last {STDERR_LINES} lines):" if tail else "  stderr:    (nothing)",
        *(f"    {line}" for line in tail),
    ]
    verdict.update(status="fatal", message="\n".join(lines))
    return verdict


# -- the hooks ---------------------------------------------------------------------------------

# Servers the pre-flight started in this process, keyed as plugin.py's (variant, behaviour, args):
# the first test that needs one takes it over.
SERVERS: dict[tuple, Server] = {}
# The message that stopped the run, for the matrix's JSON.
STOPPED: list[str] = []
_STORE: list[VerdictStore] = []  # this process's handle on the run's verdict directory


def _store(config: pytest.Config) -> VerdictStore:
    """The verdict directory: made by the controller (or the only process), handed to xdist workers."""
    if not _STORE:
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            directory = Path(workerinput["netrosetta_preflight"])
        else:
            directory = Path(tempfile.mkdtemp(prefix="netrosetta-preflight-"))
            config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
        _STORE.append(VerdictStore(directory))
    return _STORE[0]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist, on the controller: tell each worker where the pre-flight verdicts go."""
    node.workerinput["netrosetta_preflight"] = str(_store(node.config).directory)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Launch each (variant, behaviour) the collected tests need, once; n/a the behaviours a server
    refuses with status 2; stop the run (one message) if a server cannot start.

    tryfirst: under xdist the worker reports its collection to the controller in this same hook,
    and the controller schedules no test before every worker has, so no test starts before this.
    """
    config = session.config
    if config.option.tbstyle == "auto" and session.items and all(in_suite(i.path) for i in session.items):
        # The failure message (requirement / sent / expected / got) says it all; the long
        # traceback of the suite's plumbing around it only hides it.
        config.option.tbstyle = "short"
    if config.option.collectonly:
        return
    pairs: dict[str, tuple[Variant, str]] = {}
    for item in session.items:
        variant, behaviour = variant_of(item), behaviour_of(item)
        # A client (fetch) is launched per test, against the suite's scripted servers: only one
        # from elsewhere (--client-cmd) is pre-flown.
        if (variant is not None and behaviour is not None and not variant.missing(behaviour)
                and (behaviour not in CLIENT_BEHAVIOURS or variant.impl == "custom")
                and item.get_closest_marker("skip") is None):
            pairs.setdefault(key_of(variant, behaviour), (variant, behaviour))
    if not pairs:
        return
    store = _store(config)
    # Workers start at different pairs, so that they launch different servers side by side.
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    start = int(worker.removeprefix("gw") or 0) % len(pairs)
    keys = list(pairs)[start:] + list(pairs)[:start]
    verdicts = {}
    for key in keys:
        variant, behaviour = pairs[key]

        def run(variant: Variant = variant, behaviour: str = behaviour) -> dict:
            if behaviour in CLIENT_BEHAVIOURS:
                return check_client(variant, behaviour)
            verdict, server = check(variant, behaviour)
            if server is not None:
                SERVERS[(variant.id, behaviour, ())] = server
            return verdict

        verdicts[key] = store.settle(key, run)
        if verdicts[key]["status"] == "fatal":
            break
    for item in session.items:
        variant, behaviour = variant_of(item), behaviour_of(item)
        verdict = verdicts.get(key_of(variant, behaviour)) if variant and behaviour else None
        if verdict and verdict["status"] == "n/a":
            item.add_marker(pytest.mark.skip(reason=verdict["reason"]))
    if not hasattr(config, "workerinput"):
        _stop_if_fatal(config, store)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    """xdist, on the controller: a worker has finished its pre-flight; stop if it found a dead server."""
    _stop_if_fatal(node.config, _store(node.config))


def _stop_if_fatal(config: pytest.Config, store: VerdictStore) -> None:
    verdict = store.fatal()
    if verdict is None:
        return
    STOPPED.append(verdict["message"])
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "netrosetta pre-flight", red=True, bold=True)
        reporter.write_line(verdict["message"])
    else:
        sys.stderr.write(verdict["message"] + "\n")
    pytest.exit("stopped before any test by the pre-flight (see above)",
                returncode=pytest.ExitCode.TESTS_FAILED)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Pre-flight servers no test took over, and any client a test left running."""
    for server in SERVERS.values():
        server.stop()
    SERVERS.clear()
    scripted.stop_clients()
