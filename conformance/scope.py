"""What a run tests, and why a test is not applicable (n/a) to it.

A test is n/a, and shows as such in the matrix with its reason, when:

- its behaviour is not among ``--behaviour`` (L clauses go through echo, L2 through multiport);
- it is a runtime clause (RUNTIME below: SPEC.md says so beside each) that ``--not-applicable``
  declares so for a server of another runtime;
- it reads the server's /proc entries (marker ``proc``) and this system has no /proc;
- it runs under ``--full`` only (marker ``full_only``: it waits for minutes) and this run is not one;
- under ``--connect`` (a server the suite did not start), it needs the process: it launches,
  signals or measures a server of its own (marker ``process``, or the ``fresh_server`` and ``spawn``
  fixtures), reads /proc, or needs the server started with particular flags (``server_args``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netrosetta.registry import BEHAVIOURS
from netrosetta_conformance.harness import Variant, connect_variant

SUITE = Path(__file__).resolve().parent

# Clauses about the runtime rather than the protocol: a custom server may declare them n/a.
RUNTIME: dict[str, str] = {
    "L9": "counts the server's threads: an event loop in Python has one, a runtime with threads of "
          "its own (Node.js, the JVM, Go) more",
    "M2": "counts the server's threads: an event loop in Python has one, a runtime with threads of "
          "its own (Node.js, the JVM, Go) more",
    "L12": "asks for a log line when the server runs out of descriptors: a runtime that pauses its "
           "accepts by itself (Node.js's libuv) says nothing the server could log",
}
# The reason a --full-only test gives in any other run (the self-test knows it by this prefix).
FULL_ONLY = "n/a: runs under --full only"
# Fixtures that start servers of the test's own: such tests need the process, not just sockets.
PROCESS_FIXTURES = ("fresh_server", "spawn")


def has_proc() -> bool:
    return Path("/proc/self/status").exists()


def in_suite(path: Path) -> bool:
    """Is this test file one of the suite's own? The plugin leaves every other test alone."""
    return Path(path).resolve().parent == SUITE


def variant_of(item: pytest.Item) -> Variant | None:
    """The matrix column a suite test runs for (None for any other test)."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("variant") if callspec and in_suite(item.path) else None


def behaviour_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("behaviour")
    return marker.args[0] if marker else None


@dataclass(frozen=True)
class Scope:
    """This run's choices: the behaviours under test, the clauses declared n/a, --connect."""

    behaviours: frozenset[str] | None = None  # None: every behaviour
    not_applicable: frozenset[str] = frozenset()
    connect: Variant | None = None  # --connect: the running server, as the matrix's one column
    proc: bool = field(default_factory=has_proc)
    full: bool = False  # --full: every clause, the slow ones too

    def reason(self, clause: str | None, behaviour: str, marks: dict[str, tuple],
               fixtures: Iterable[str] = ()) -> str | None:
        """Why a test is n/a in this run (``n/a: ...``), or None if it runs.

        ``marks`` maps the test's marker names to their arguments.
        """
        if self.behaviours is not None and behaviour not in self.behaviours:
            return f"n/a: {behaviour} is not tested (--behaviour {','.join(sorted(self.behaviours))})"
        if clause in self.not_applicable and clause in RUNTIME:
            return f"n/a: declared not applicable to this server's runtime (--not-applicable): " \
                   f"{clause} {RUNTIME[clause]}"
        if "proc" in marks and not self.proc:
            return "n/a: reads the server's /proc entries, and this system has no /proc"
        if "full_only" in marks and not self.full:
            return f"{FULL_ONLY}: {marks['full_only'][0]}"
        if self.connect is not None:
            if "process" in marks or any(name in fixtures for name in PROCESS_FIXTURES):
                why = marks.get("process") or ("starts servers of its own",)
                return f"n/a: under --connect: {why[0]}"
            if "proc" in marks:
                return "n/a: under --connect: reads the server's /proc entries"
            if "server_args" in marks:
                return f"n/a: under --connect: needs the server started with {' '.join(marks['server_args'])}"
        return None


def parse_clauses(text: str) -> frozenset[str]:
    """``--not-applicable L9,M2`` -> {"L9", "M2"}; ValueError names any clause that is not a runtime one."""
    clauses = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(clauses - set(RUNTIME))
    if unknown:
        raise ValueError(f"--not-applicable: {', '.join(unknown)} not a runtime clause (only "
                         f"{', '.join(RUNTIME)} may be declared not applicable; see SPEC.md)")
    return clauses


def from_options(config: pytest.Config) -> Scope:
    """This run's Scope, from the plugin's options; pytest.UsageError (one line) for a bad one."""
    names = [name.strip() for name in config.getoption("behaviour").split(",") if name.strip()]
    unknown = [name for name in names if name not in BEHAVIOURS]
    if unknown:
        raise pytest.UsageError(f"--behaviour: unknown {', '.join(unknown)} (known: {', '.join(BEHAVIOURS)})")
    try:
        declared = parse_clauses(config.getoption("not_applicable"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    specs = config.getoption("connect")
    if declared and not (config.getoption("server_cmd") or specs):
        raise pytest.UsageError("--not-applicable is for a server of your own (--server-cmd or --connect): "
                                "netrosetta's implementations are held to every clause")
    connect = None
    if specs:
        if config.getoption("server_cmd") or config.getoption("impl"):
            raise pytest.UsageError("--connect tests a running server: it excludes --server-cmd and --impl")
        try:
            connect = connect_variant(specs, names)
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
    return Scope(behaviours=frozenset(names) if names else None, not_applicable=declared, connect=connect,
                 full=bool(config.getoption("full")))
