"""Clauses L (the launch contract) of SPEC.md: READY, stdout and stderr, signals, exit statuses, limits.

Command lines are built from the variant's own command (``variant.command`` and ``variant.extra``),
so these tests hold for every implementation, loop and model, and for ``--server-cmd``.
"""

import re
import signal
import socket
import subprocess
import sys

import pytest

from netrosetta_conformance import harness
from netrosetta_conformance.clients import MIB, Stream, fill, pump, reset
from netrosetta_conformance.harness import (
    STOP_TIMEOUT,
    Server,
    ServerError,
    end_group,
    failure,
    parse_ready,
    read_ready,
    recv_until_eof,
    server_argv,
    start_process,
)

pytestmark = pytest.mark.behaviour("echo")

READY_LINE = re.compile(r"READY 127\.0\.0\.1:(\d+)")


def argv_for(variant, behaviour: str, *args: str) -> list[str]:
    """The variant's command for ``behaviour`` with exactly these arguments (no --port 0 added)."""
    return [*variant.command, behaviour, *variant.extra, *args]


def run_to_exit(argv: list[str]) -> tuple[int | None, bytes, str]:
    """Run a command that should exit by itself (within --ready-timeout): (status or None if it did
    not, stdout, stderr)."""
    proc, stderr_file = start_process(argv)
    try:
        proc.wait(harness.READY_TIMEOUT)
    except subprocess.TimeoutExpired:
        status = None
    else:
        status = proc.returncode
    stdout = proc.stdout.read() if status is not None else b""
    end_group(proc)
    stderr_file.seek(0)
    return status, stdout, stderr_file.read().decode("utf-8", "replace")


@pytest.fixture
def spawn(variant):
    """Start ``argv`` as a server of this test's own; returns (Server, READY line). Killed after the test."""
    started: list[Server] = []

    def start(argv: list[str], behaviour: str = "echo") -> tuple[Server, str]:
        proc, stderr_file = start_process(argv)
        server = Server(variant, behaviour, argv, proc, stderr_file)
        started.append(server)
        try:
            line = read_ready(proc)
        except ServerError as error:
            server.kill()
            raise ServerError(f"{error}\ncommand: {' '.join(argv)}\n"
                              f"stderr:\n{server.stderr_text()}") from None
        server.addresses = parse_ready(line)
        return server, line

    yield start
    for server in started:
        server.kill()


def skip_unless_served(variant, behaviour: str) -> None:
    why = variant.missing(behaviour)
    if why:
        pytest.skip(why)


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out and released: free, barring a race with another process."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def echo_works(server: Server, index: int = 0) -> bool:
    with server.connect(index) as sock:
        got, _ = pump(sock, [b"ping\n"], expect=5)
    return got == b"ping\n"


def busy_server(fresh_server) -> tuple[Server, socket.socket, socket.socket]:
    """A server with one client that has been served and one pushing data it never reads."""
    server = fresh_server()
    idle = server.connect()
    pump(idle, [b"hello"], expect=5)
    pushing = server.connect()
    fill(pushing, Stream(), 4 * MIB, idle=0.3)
    return server, idle, pushing


# -- L1-L4: what the server prints ------------------------------------------------------------

@pytest.mark.smoke
def test_L1_ready_line(spawn, variant):
    """Once listening, the server's first line on stdout is exactly `READY 127.0.0.1:PORT`, with the
    real port bound (never 0), and that port accepts connections."""
    argv = server_argv(variant, "echo")
    server, line = spawn(argv)
    match = READY_LINE.fullmatch(line)
    assert match and 0 < int(match.group(1)) < 65536, failure(
        "L1 the first stdout line is exactly 'READY 127.0.0.1:PORT'", " ".join(argv),
        "READY 127.0.0.1:<real port>", line)
    assert echo_works(server), failure("L1 the port in READY accepts connections", b"ping\n", b"ping\n",
                                       "no echo")


@pytest.mark.behaviour("multiport")
def test_L2_ready_lists_ports_in_order(spawn, variant):
    """With `--ports P1,P2,...` the READY line lists one address per listener, in the order given,
    each with its real port."""
    skip_unless_served(variant, "multiport")
    for attempt in range(3):
        ports = sorted(free_ports(3), reverse=True)
        argv = argv_for(variant, "multiport", "--ports", ",".join(map(str, ports)))
        try:
            _, line = spawn(argv, "multiport")
            break
        except ServerError as error:
            # A port we just found free may be taken by another process before the server binds it.
            if attempt == 2 or "status 1 " not in str(error):
                raise
    expect = "READY " + " ".join(f"127.0.0.1:{port}" for port in ports)
    assert line == expect, failure("L2 READY lists the listeners in the order given", " ".join(argv),
                                   expect, line)
    server, line = spawn(server_argv(variant, "multiport", ports=3), "multiport")
    words = line.split(" ")
    real = all(READY_LINE.fullmatch(f"READY {word}") for word in words[1:]) and 0 not in server.ports
    assert len(words) == 4 and real and len(set(server.ports)) == 3, failure(
        "L2 one address per listener, each with its real port", "--ports 0,0,0",
        "READY 127.0.0.1:P1 127.0.0.1:P2 127.0.0.1:P3 (three distinct real ports)", line)


def some_traffic(server: Server) -> None:
    """A served client, a client that pushes without reading and then resets, another served client."""
    assert echo_works(server)
    with server.connect() as pushing:
        fill(pushing, Stream(), 4 * MIB, idle=0.3)
        reset(pushing)
    assert echo_works(server)


def test_L3_stdout_only_ready(fresh_server):
    """Nothing but the READY line ever goes to stdout; logs go to stderr."""
    server = fresh_server()
    some_traffic(server)
    server.stop()
    rest = server.proc.stdout.read()
    assert rest == b"", failure("L3 nothing but READY on stdout", "traffic, a reset client, SIGTERM",
                                "nothing after the READY line", rest)


def test_L4_quiet(fresh_server):
    """With `--quiet` the server writes nothing to stderr while serving and stopping."""
    server = fresh_server("--quiet")
    some_traffic(server)
    status, stderr = server.stop()
    assert (status, stderr) == (0, ""), failure("L4 --quiet: nothing on stderr",
                                                "traffic, a reset client, SIGTERM", (0, ""), (status, stderr))


# -- L5-L6: stopping -----------------------------------------------------------------------------

def check_stops(fresh_server, sig: int, clause: str) -> None:
    server, idle, pushing = busy_server(fresh_server)
    try:
        status, stderr = server.stop(sig)
        assert status == 0 and "Traceback" not in stderr, failure(
            f"{clause} exit status 0 within {STOP_TIMEOUT:.0f}s of {signal.Signals(sig).name}, no traceback",
            f"{signal.Signals(sig).name} with an idle and a pushing client",
            "status 0, no traceback", f"status {status} (None: still running), stderr: {stderr[-1500:]!r}")
        _, closed = recv_until_eof(idle)
        assert closed, failure(f"{clause} connections are closed", signal.Signals(sig).name,
                               "EOF on a client's connection", "the connection stayed open")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    finally:
        idle.close()
        pushing.close()


@pytest.mark.smoke
def test_L5_sigterm(fresh_server):
    """On SIGTERM the server stops accepting, closes its connections and exits with status 0 within 2
    seconds, with no traceback."""
    check_stops(fresh_server, signal.SIGTERM, "L5")


def test_L6_sigint(fresh_server):
    """On SIGINT the server stops accepting, closes its connections and exits with status 0 within 2
    seconds, with no traceback."""
    check_stops(fresh_server, signal.SIGINT, "L6")


# -- L7-L8: refusing to start ---------------------------------------------------------------

BAD_COMMAND_LINES = [
    ("unknown behaviour", ("no-such-behaviour", "--port", "0")),
    ("port not a number", ("echo", "--port", "eighty")),
    ("port out of range", ("echo", "--port", "70000")),
    ("negative port", ("echo", "--port", "-1")),
    ("unknown option", ("echo", "--port", "0", "--no-such-option")),
    ("--port given to multiport", ("multiport", "--port", "0")),
    ("bad --ports list", ("multiport", "--ports", "1,x")),
]


@pytest.mark.process("runs the server command with bad arguments")
@pytest.mark.parametrize("case", [args for _, args in BAD_COMMAND_LINES],
                         ids=[label.replace(" ", "-") for label, _ in BAD_COMMAND_LINES])
def test_L7_bad_command_line(variant, case):
    """A bad command line prints one line on stderr, nothing on stdout, and exits with status 2, with
    no traceback."""
    behaviour, *args = case
    argv = argv_for(variant, behaviour, *args)
    status, stdout, stderr = run_to_exit(argv)
    lines = stderr.splitlines()
    assert status == 2 and stdout == b"" and len(lines) == 1 and "Traceback" not in stderr, failure(
        "L7 bad command line: one line on stderr, exit 2, no traceback", " ".join(argv),
        "status 2, one line on stderr, nothing on stdout",
        f"status {status}, stdout {stdout!r}, stderr {stderr[-1500:]!r}")


@pytest.mark.process("runs the server on an address already in use")
def test_L8_address_in_use(variant):
    """An address already in use prints one line on stderr naming that address (`127.0.0.1:PORT`) and
    exits with status 1, with no traceback."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        argv = argv_for(variant, "echo", "--port", str(port))
        status, stdout, stderr = run_to_exit(argv)
    lines = stderr.splitlines()
    assert (status == 1 and stdout == b"" and len(lines) == 1 and f"127.0.0.1:{port}" in lines[0]
            and "Traceback" not in stderr), failure(
        "L8 address in use: one line naming it, exit 1", f"{' '.join(argv)} (port already listening)",
        f"status 1, one line on stderr containing 127.0.0.1:{port}",
        f"status {status}, stdout {stdout!r}, stderr {stderr[-1500:]!r}")


# -- L9-L10: the process ------------------------------------------------------------------

@pytest.mark.proc
def test_L9_one_thread(server):
    """An event-loop server serves all its connections and ports from one thread (`Threads: 1` in
    /proc/PID/status while clients are connected)."""
    socks = [server.connect() for _ in range(10)]
    try:
        for sock in socks:
            sock.sendall(b"hello")
        got, _ = pump(socks[0], [], expect=5)
        threads = server.threads()
    finally:
        for sock in socks:
            sock.close()
    assert (got, threads) == (b"hello", 1), failure("L9 one thread serves every connection",
                                                    "10 connected clients, one served", "Threads: 1",
                                                    f"Threads: {threads} (echo: {got!r})")


# Lower the soft limit, then exec the server: it must raise it back to the hard limit itself.
LOWER_THEN_EXEC = (
    "import os, resource, sys\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (min(int(sys.argv[1]), hard), hard))\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


@pytest.mark.proc
def test_L10_fd_limit_raised(spawn, variant):
    """At start the server raises its open-file soft limit to the hard limit (/proc/PID/limits), so
    1,000 clients fit."""
    argv = [sys.executable, "-c", LOWER_THEN_EXEC, "256", *server_argv(variant, "echo")]
    server, _ = spawn(argv)
    soft, hard = server.nofile_limits()
    assert soft == hard, failure("L10 open-file soft limit raised to the hard limit",
                                 "started with soft limit 256", f"soft = hard = {hard}",
                                 f"soft {soft}, hard {hard}")
