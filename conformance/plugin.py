"""The conformance suite's pytest plugin: which servers to run, and the fixtures that launch them.

Registered through the ``pytest11`` entry point of the installed package, so its options work
wherever the suite runs: ``pytest conformance`` in a checkout, ``pytest --pyargs
netrosetta_conformance`` anywhere, ``netrosetta conformance``. Its hooks do nothing for tests that
are not clause tests.

Every clause test takes a ``variant`` (a column of the matrix: an implementation with its loop or
model) and a ``server`` (that variant running the test module's behaviour). Before any test, the
pre-flight (preflight.py) launches each (variant, behaviour) once, and stops the run at once if one
cannot start. Servers are shared by the tests of one worker, keyed by (variant, behaviour,
arguments), and checked after each test: a server that died under a test fails that test with its
stderr, and the next test gets a new one.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from netrosetta.registry import BEHAVIOURS
from netrosetta_conformance import harness, preflight, scope
from netrosetta_conformance.divergences import divergence_for, exemption_for
from netrosetta_conformance.harness import VARIANTS, Server, Variant, custom_variant, launch

CLAUSE = re.compile(r"^test_([A-Z]\d+(?:_\d+)*)_")


def clause_of(name: str) -> str | None:
    """``test_U7_3_too_long[raw]`` -> ``U7.3``."""
    match = CLAUSE.match(name)
    return match.group(1).replace("_", ".") if match else None


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # The pre-flight's hooks (launch each variant and behaviour once before any test) live in a
    # module of their own.
    if not pluginmanager.is_registered(preflight):
        pluginmanager.register(preflight, "netrosetta_conformance.preflight")
    group = parser.getgroup("netrosetta conformance")
    group.addoption("--impl", default="",
                    help="implementations or variants to test, comma-separated (raw, twisted, "
                         "tornado, raw-select, ...); default: all")
    group.addoption("--server-cmd", default="",
                    help="test another server instead: a command that follows the launch contract; "
                         "the suite appends BEHAVIOUR --port 0 [...]")
    group.addoption("--client-cmd", default="",
                    help="test another client: a command that follows the client launch contract; "
                         "the suite appends fetch [options] URL...")
    group.addoption("--via-proxy", action="store_true",
                    help="with --server-cmd: reach the server through the re-cutting proxy "
                         "(conformance/proxy.py), as the *-proxy columns do")
    group.addoption("--full", action="store_true",
                    help="run every clause under every variant (default: smoke subset for extra loops)")
    group.addoption("--matrix-json", default="",
                    help="write the clause x variant results to this JSON file")
    group.addoption("--ready-timeout", type=float, default=harness.READY_TIMEOUT, metavar="SECONDS",
                    help=f"how long a server may take to print READY, and a --client-cmd to fetch "
                         f"the pre-flight's one URL (default {harness.READY_TIMEOUT:g}); the "
                         "pre-flight stops the run if it takes longer")
    group.addoption("--behaviour", "--behavior", default="", metavar="NAMES",
                    help=f"the behaviours to test, comma-separated ({', '.join(BEHAVIOURS)}); the "
                         "others show as n/a; default: all")
    group.addoption("--connect", action="append", default=[], metavar="[BEHAVIOUR=]HOST:PORT",
                    help="test a server that is already running, instead of starting one: "
                         "echo=127.0.0.1:9000 (repeat the option, or separate with commas; repeat a "
                         "behaviour for several ports). Clauses that need to start, signal or "
                         "measure the process show as n/a")
    group.addoption("--not-applicable", default="", metavar="CLAUSES",
                    help=f"with --server-cmd: runtime clauses ({', '.join(scope.RUNTIME)}) that do not "
                         "apply to your server's runtime, comma-separated; they show as n/a")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "behaviour(name): the behaviour a test module checks")
    config.addinivalue_line("markers", "server_args(*args): extra command-line arguments")
    config.addinivalue_line("markers", "house_rule: netrosetta's own choice where the RFC allows several "
                                       "(checked for our implementations, shown for any other server)")
    config.addinivalue_line("markers", "smoke: the subset of clauses run under every non-default --loop")
    config.addinivalue_line("markers", "proc: reads the server's /proc entries (n/a without /proc)")
    config.addinivalue_line("markers", "process(why): needs the server's process, not just its sockets")
    config.addinivalue_line("markers", "full_only(why): too slow for every run: n/a unless --full")
    timeout = config.getoption("ready_timeout")
    if timeout <= 0:
        raise pytest.UsageError(f"--ready-timeout must be positive, not {timeout:g}")
    harness.READY_TIMEOUT = timeout
    _SCOPE[:] = [scope.from_options(config)]


_SCOPE: list[scope.Scope] = []


def selected_variants(config: pytest.Config) -> list[tuple[Variant, bool]]:
    """(variant, run every clause?) for this session's options."""
    if _SCOPE[0].connect is not None:
        return [(_SCOPE[0].connect, True)]
    if config.getoption("server_cmd") or config.getoption("client_cmd"):
        return [(custom_variant(config.getoption("server_cmd"), config.getoption("client_cmd"),
                                config.getoption("via_proxy")), True)]
    wanted = [name for name in config.getoption("impl").split(",") if name]
    known = {v.id for v in VARIANTS} | {v.impl for v in VARIANTS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise pytest.UsageError(f"--impl: unknown {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    full = config.getoption("full")
    chosen = []
    for variant in VARIANTS:
        if wanted and variant.id not in wanted and variant.impl not in wanted:
            continue
        named = variant.id in wanted
        chosen.append((variant, full or variant.default or named))
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" not in metafunc.fixturenames or not scope.in_suite(metafunc.definition.path):
        return
    smoke = metafunc.definition.get_closest_marker("smoke") is not None
    # The launch contract is about the process, which no proxy changes: its clauses skip those.
    launch_clause = (clause_of(metafunc.definition.name) or "").startswith("L")
    params = []
    for variant, every_clause in selected_variants(metafunc.config):
        if variant.proxy and launch_clause:
            continue
        if every_clause or smoke:
            params.append(pytest.param(variant, id=variant.id))
    metafunc.parametrize("variant", params)


# An outside server is free to choose otherwise where the RFC allows it: a house rule is shown for it.
HOUSE_RULE = "house rule: netrosetta's own choice where RFC 9112 allows others; not required of other servers"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests this run does not apply to are skipped as n/a, with their reason (scope.py); documented
    divergences become strict xfails, so they show as such and can't pass unnoticed; house rules
    become non-strict xfails for an outside server, so they show without failing; exemptions are
    skipped, shown as n/a with their reason."""
    for item in items:
        variant = scope.variant_of(item)
        clause = clause_of(item.name)
        if not isinstance(variant, Variant) or not clause:
            continue
        exempt = exemption_for(clause, variant)
        if exempt:
            item.add_marker(pytest.mark.skip(reason=f"n/a: exempt: {exempt}"))
            continue
        behaviour = scope.behaviour_of(item)
        marks: dict[str, tuple] = {}
        for mark in item.iter_markers():  # the closest first
            marks.setdefault(mark.name, mark.args)
        why = _SCOPE[0].reason(clause, behaviour, marks, item.fixturenames) if behaviour else None
        if why:
            item.add_marker(pytest.mark.skip(reason=why))
            continue
        reason = divergence_for(clause, variant)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"divergence: {reason}", strict=True))
        elif variant.impl == "custom" and item.get_closest_marker("house_rule"):
            item.add_marker(pytest.mark.xfail(reason=HOUSE_RULE, strict=False))


def _behaviour(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("behaviour")
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid}: test module has no behaviour marker")
    return marker.args[0]


@pytest.fixture(autouse=True)
def _not_applicable(request: pytest.FixtureRequest) -> None:
    """A test of a behaviour the variant does not have is n/a (a --client-cmd has no echo server)."""
    variant = getattr(request.node, "callspec", None) and request.node.callspec.params.get("variant")
    marker = request.node.get_closest_marker("behaviour")
    if variant and marker and marker.args[0] not in variant.behaviours:
        pytest.skip(variant.missing(marker.args[0]) or f"n/a: {variant.id} does not serve {marker.args[0]}")


_SERVERS: dict[tuple, Server] = {}


@pytest.fixture
def server(request: pytest.FixtureRequest, variant: Variant) -> Server:
    """The variant serving this module's behaviour, shared across tests and checked after each."""
    behaviour = _behaviour(request)
    why = variant.missing(behaviour)
    if why:
        pytest.skip(why)
    marker = request.node.get_closest_marker("server_args")
    args = tuple(marker.args) if marker else ()
    ports = 3 if behaviour == "multiport" else 1
    key = (variant.id, behaviour, args)
    running = _SERVERS.get(key) or preflight.SERVERS.pop(key, None)
    if running is None or not running.alive():
        running = launch(variant, behaviour, ports, args)
    _SERVERS[key] = running
    yield running
    if not running.alive():
        del _SERVERS[key]
        pytest.fail(f"the server died during this test (status {running.proc.returncode});"
                    f"\ncommand: {running.describe()}\nstderr:\n{running.stderr_text()[-3000:]}")


@pytest.fixture
def fresh_server(request: pytest.FixtureRequest, variant: Variant):
    """A factory for servers of this test's own, stopped (SIGKILL if need be) after the test."""
    behaviour = _behaviour(request)
    why = variant.missing(behaviour)
    if why:
        pytest.skip(why)
    started: list[Server] = []

    def start(*args: str, ports: int = 1) -> Server:
        started.append(launch(variant, behaviour, ports, args))
        return started[-1]

    yield start
    for each in started:
        each.kill()


def pytest_sessionfinish(session: pytest.Session) -> None:
    for each in _SERVERS.values():
        each.stop()
    _SERVERS.clear()


_INTERRUPTED: list[bool] = []


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo) -> None:
    """Ctrl-C (also pytest.exit, which we tell apart): the results are partial, and say so."""
    if excinfo.errisinstance(KeyboardInterrupt):
        _INTERRUPTED.append(True)


# -- the matrix: one cell per (clause, variant), recorded on the controller ---------------------

def pytest_itemcollected(item: pytest.Item) -> None:
    """Label each clause test with its variant; the label rides on its reports, also across xdist."""
    variant = scope.variant_of(item)
    if variant and clause_of(item.name):
        item.user_properties.append(("variant", variant.id))


REQUIREMENT = re.compile(r"^\s*requirement:\s*(.*?)\s*$", re.M)
GOT = re.compile(r"^\s*got:\s*(.*?)\s*$", re.M)


def one_line(message: str) -> str | None:
    """``requirement — got: ...`` from a failure() message (requirement / sent / expected / got)."""
    requirement, got = REQUIREMENT.search(message), GOT.search(message)
    if not requirement or not got:
        return None
    return f"{requirement.group(1)} — got: {got.group(1)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing clause test's short summary line (``FAILED id - ...``) ends with its requirement and
    what was got, instead of the exception's bare first line (``AssertionError:``)."""
    report = yield
    crash = getattr(report.longrepr, "reprcrash", None)
    if report.failed and call.excinfo is not None and crash is not None and scope.in_suite(item.path):
        line = one_line(str(call.excinfo.value))
        if line:
            crash.message = line
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    clause = clause_of(report.nodeid.rsplit("::", 1)[-1])
    # The test id may hold other parameters too (test_L7_bad_command_line[raw-unknown option]).
    variant = dict(report.user_properties).get("variant")
    if not clause or not variant:
        return
    if report.when != "call" and not (report.failed or report.skipped):
        return
    house_rule = getattr(report, "wasxfail", "").startswith("house rule")
    if report.passed:
        # A strict xfail that passed is a divergence that no longer holds; a house rule may pass.
        status = "fail" if hasattr(report, "wasxfail") and not house_rule else "pass"
    elif report.skipped and hasattr(report, "wasxfail"):
        status = "divergence"
    elif report.skipped:
        # (path, line, "Skipped: reason"); a list once xdist has carried it from a worker.
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, (tuple, list)) else ""
        reason = reason.removeprefix("Skipped: ")
        status = "n/a" if "n/a:" in reason else "missing"
    else:
        status = "fail"
    cell = {"status": status, "test": report.nodeid}
    _TESTS.setdefault((clause, variant), set()).add(report.nodeid)
    if status == "divergence":
        cell["reason"] = report.wasxfail.removeprefix("divergence: ")
        if house_rule:
            cell["message"] = _failure_message(report)  # what the outside server chose instead
    if status in ("n/a", "missing") and reason:
        cell["reason"] = reason.removeprefix(f"{status}: ")
    if status == "fail":
        cell["message"] = _failure_message(report)
        summary = one_line(cell["message"])
        if summary:
            cell["summary"] = summary
    results = _results_store()
    previous = results.get((clause, variant))
    # A clause with several tests fails if any of them does; n/a or missing only if none ran.
    if previous and _RANK[previous["status"]] >= _RANK[status]:
        return
    results[(clause, variant)] = cell


_RANK = {"n/a": 0, "missing": 1, "pass": 2, "divergence": 3, "fail": 4}


def _failure_message(report: pytest.TestReport) -> str:
    """The error lines of the last traceback entry (requirement / sent / expected / got) and where."""
    text = report.longreprtext
    lines = text.splitlines()
    blocks: list[list[str]] = []
    for index, line in enumerate(lines):
        if line.startswith("E ") or line == "E":
            if not blocks or blocks[-1][-1] != index - 1:
                blocks.append([])
            blocks[-1].append(index)
    if not blocks:
        return text[-2000:]
    message = textwrap.dedent("\n".join(lines[i][1:] for i in blocks[-1])).strip()
    following = [line.strip() for line in lines[blocks[-1][-1] + 1:] if line.strip()]
    where = following[0] if following and re.match(r"^\S+:\d+: ", following[0]) else ""
    return (message[-1900:] + (f"\n({where})" if where else "")).strip()


_RESULTS: dict = {}
_TESTS: dict[tuple[str, str], set[str]] = {}  # (clause, variant) -> the tests that made its cell


def _results_store() -> dict:
    return _RESULTS


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.getoption("matrix_json", default="")
    if not path or hasattr(config, "workerinput"):
        return
    cells = [{"clause": clause, "variant": variant, **cell, "tests": len(_TESTS.get((clause, variant), ()))}
             for (clause, variant), cell in sorted(_RESULTS.items())]
    document: dict = {"cells": cells}
    if preflight.STOPPED:
        document["stopped"] = preflight.STOPPED[0]
    if _INTERRUPTED:
        document["interrupted"] = True
    Path(path).write_text(json.dumps(document, indent=2) + "\n")
