"""The suite's self-test: each deliberately broken server fails exactly the clauses it breaks.

Every row of BROKEN names a script in tests/broken/, the behaviour it serves, and the set of clause
ids its one flaw breaks. The row runs that behaviour's test files, conformance/test_<behaviour>*.py,
against the script through ``--server-cmd`` (``--client-cmd`` for a client behaviour, fetch) with
``--matrix-json``, and compares the clauses that failed with the expected set. Too few means the
suite misses the flaw; too many means the broken server is broken beyond its flaw, or a test checks
more than its own clause.

A broken fetch client subclasses ``tests/broken/_fetch.py``'s FetchClient (asyncio streams and
h11, correct everywhere) and changes one thing; the suite runs
``python tests/broken/<name>.py fetch [options] URL...``.

To add a row (for instance one of the broken URL-echo servers):

1. Write ``tests/broken/<name>.py``: stdlib only, following the launch contract (the suite runs
   ``python tests/broken/<name>.py BEHAVIOUR --port 0 [options]``). ``tests/broken/_contract.py``
   has the plumbing: ``parse_args`` (takes a hook to add options such as ``--header-timeout``),
   ``listen``, ``ready``, ``stop_on_signals``, ``serve_asyncio``. Keep the server correct except for
   its one flaw, and mark that spot with a ``# THE FLAW:`` comment.
2. Add ``Broken("<name>.py", "<behaviour>", {"U8.2", ...})`` to BROKEN below (``workers=N`` if
   its failing tests each sit out a long bounded wait: the inner run then uses N xdist workers).
3. Run ``.venv/bin/pytest tests/test_selftest.py -k <name> -q``; on a mismatch the message lists
   the unexpected clauses with their failure messages. A row with ``focused=True`` runs only its own
   clauses there and in `make test`; add ``--full`` to run its whole section (with
   ``-p netrosetta_conformance.plugin`` when this file runs alone, as that option is the suite's).

Rows run in parallel under the outer ``-n``; each inner run is one pytest process on one behaviour.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from netrosetta.matrix import SPEC, clause_titles
from netrosetta.registry import BEHAVIOURS
from netrosetta_conformance.scope import FULL_ONLY as FULL_ONLY_REASON

REPO = Path(__file__).resolve().parent.parent
BROKEN_DIR = Path(__file__).resolve().parent / "broken"
# One inner suite run: seconds on a quiet machine, a minute or more on a loaded one; bounded, generously.
RUN_TIMEOUT = 360


@dataclass(frozen=True)
class Broken:
    """A broken server, the behaviour it serves, and the clauses it must fail (and no others)."""

    script: str
    behaviour: str
    fails: frozenset[str] | set[str]
    # xdist workers for the inner run (0: none). Worth it only where failing tests sit out their
    # bounded waits, as against a server that serves one client at a time.
    workers: int = 0
    # In `make test`, run only the clauses it must fail (that it fails them, and nothing else there);
    # under --full, its whole section, like the others. For the rows of issue 16's clauses, which
    # would otherwise cost the whole suite's budget several times over.
    focused: bool = False

    @property
    def id(self) -> str:
        return self.script.removesuffix(".py")


# Each behaviour's section of SPEC.md: every one of its clauses must have been checked. "launch" is
# the launch contract's section, run from conformance/test_launch.py against a server of every behaviour.
FULL_ONLY = FULL_ONLY_REASON.removeprefix("n/a: ")
SECTION = {"echo": "E", "multiport": "M", "urlecho": "U", "fetch": "F", "launch": "L"}

BROKEN = [
    # E10 too: what it still holds at half-close is dropped, however much that is.
    Broken("echo_drops_half_close.py", "echo", {"E3", "E10"}),
    # E11-E13 too: their sessions or connections run side by side, and all but one wait (as
    # raw-iterative's divergences).
    Broken("echo_one_at_a_time.py", "echo", {"E4", "E5", "E6", "E11", "E12", "E13"}, workers=3),
    Broken("echo_unbounded_buffer.py", "echo", {"E7"}),
    Broken("echo_aborts_at_eof.py", "echo", {"E10"}, focused=True),
    Broken("echo_drops_on_stall.py", "echo", {"E11"}, focused=True),
    Broken("echo_logs_resets.py", "echo", {"E12"}, focused=True),
    Broken("echo_on_select.py", "echo", {"E13"}, focused=True),
    Broken("multiport_wrong_port.py", "multiport", {"M4"}),
    # M8 too: an over-long unterminated tail at EOF is owed its ERROR answer, and is dropped as well.
    Broken("multiport_drops_tail.py", "multiport", {"M7", "M8"}),
    Broken("multiport_aborts_at_eof.py", "multiport", {"M14"}, focused=True),
    Broken("multiport_drops_on_stall.py", "multiport", {"M15"}, focused=True),
    Broken("multiport_leaks_on_reset.py", "multiport", {"M16"}, focused=True),
    Broken("urlecho_decodes_target.py", "urlecho", {"U1.1", "U3", "U11.1", "U11.2"}),
    # U6.3 too: it checks U15.3's rule with the field names in other cases.
    Broken("urlecho_smuggles.py", "urlecho", {"U15.3", "U6.3"}),
    Broken("urlecho_no_header_deadline.py", "urlecho", {"U18.1"}),
    Broken("urlecho_drops_on_stall.py", "urlecho", {"U19.5"}, focused=True),
    Broken("urlecho_logs_resets.py", "urlecho", {"U19.6"}, focused=True),
    Broken("urlecho_on_select.py", "urlecho", {"U19.7"}, focused=True),
    Broken("launch_late_signal_handlers.py", "launch", {"L11"}, focused=True),
    Broken("launch_spinning_acceptor.py", "launch", {"L12"}, focused=True),
    # Broken clients: the suite plays the servers (--client-cmd).
    Broken("fetch_ignores_cap.py", "fetch", {"F12", "F13"}, workers=2),
    Broken("fetch_no_retry.py", "fetch", {"F14", "F16.3"}, workers=2),
    Broken("fetch_keeps_body.py", "fetch", {"F19"}, workers=2),
]


def run_suite(broken: Broken, json_path: Path, only: set[str] | None = None
              ) -> tuple[subprocess.CompletedProcess, list]:
    """Run conformance/test_<behaviour>*.py (the tests of clauses ``only``, if given) against the
    broken server; return the run and its cells."""
    # A behaviour's clauses may be split over several files (test_urlecho_answer.py, ...).
    files = sorted(str(path.relative_to(REPO))
                   for path in (REPO / "conformance").glob(f"test_{broken.behaviour}*.py"))
    # A client (fetch) is given to the suite as --client-cmd, a server as --server-cmd.
    behaviour = BEHAVIOURS.get(broken.behaviour)  # None for "launch", whose servers are servers
    option = "--client-cmd" if behaviour and behaviour.is_client else "--server-cmd"
    if only:
        files += ["-k", " or ".join(f"test_{clause.replace('.', '_')}_" for clause in sorted(only))]
    command = [sys.executable, "-m", "pytest", *files, "-q",
               "-p", "no:cacheprovider", "-n", str(broken.workers), "--maxschedchunk", "1",
               option, shlex.join([sys.executable, str(BROKEN_DIR / broken.script)]),
               "--matrix-json", str(json_path)]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    cells = json.loads(json_path.read_text())["cells"] if json_path.exists() else []
    return run, cells


@pytest.mark.timeout(RUN_TIMEOUT + 30)
@pytest.mark.parametrize("broken", BROKEN, ids=lambda broken: broken.id)
def test_broken_server_fails_exactly_its_clauses(broken: Broken, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    """The suite finds each flaw, and blames no clause the flaw does not break."""
    script = BROKEN_DIR / broken.script
    assert script.exists(), f"no such broken server: {script}"
    focus = broken.focused and not request.config.getoption("full", False)
    run, cells = run_suite(broken, tmp_path / "cells.json", set(broken.fails) if focus else None)
    tail = (run.stdout + run.stderr)[-3000:]
    assert run.returncode in (0, 1), f"the suite itself did not run (status {run.returncode}):\n{tail}"
    assert cells, f"no clause results recorded:\n{tail}"
    assert all(cell["variant"] == "custom" for cell in cells)
    section = set(broken.fails) if focus else {
        clause for clause in clause_titles(SPEC.read_text()) if clause.startswith(SECTION[broken.behaviour])}
    checked = {cell["clause"] for cell in cells}
    assert checked == section, f"clauses of SPEC.md not checked: {sorted(section - checked)}"
    # A clause only --full runs (U1.5 waits a minute) is n/a here: the inner run is never --full.
    not_run = {cell["clause"]: cell["status"] for cell in cells if cell["status"] not in ("pass", "fail")
               and not cell.get("reason", "").startswith(FULL_ONLY)}
    assert not not_run, f"clauses neither passed nor failed: {not_run}"
    failed = {cell["clause"] for cell in cells if cell["status"] == "fail"}
    expected = set(broken.fails)
    unexpected = "".join(f"\n--- {cell['clause']} ({cell['test']}):\n{cell.get('message', '')[-1500:]}"
                         for cell in cells if cell["clause"] in failed - expected)
    assert failed == expected, (
        f"{broken.script} should fail exactly {sorted(expected)}; it failed {sorted(failed)}"
        f"\n  missed (passed although broken): {sorted(expected - failed)}"
        f"\n  unexpected failures: {sorted(failed - expected)}{unexpected}")
