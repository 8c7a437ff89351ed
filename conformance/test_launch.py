"""Clauses L (the launch contract) of SPEC.md: READY, stdout and stderr, signals, exit statuses, limits.

Command lines are built from the variant's own command (``variant.command`` and ``variant.extra``),
so these tests hold for every implementation, loop and model, and for ``--server-cmd``.
"""

import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from netrosetta_conformance import harness
from netrosetta_conformance.clients import MIB, Stream, fill, pump, raise_own_fd_limit, reset, wait_until
from netrosetta_conformance.harness import (
    IO_TIMEOUT,
    STOP_TIMEOUT,
    Server,
    ServerError,
    end_group,
    failure,
    launch,
    parse_ready,
    read_ready,
    recv_until,
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


# -- L5-L6, L11: stopping -----------------------------------------------------------------------

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


# Starts per variant: enough to hit a window of a few milliseconds now and then in `make test`,
# and most times in `make test-full`.
SIGNAL_ON_READY_RUNS, SIGNAL_ON_READY_RUNS_FULL = 10, 100


@pytest.mark.smoke
@pytest.mark.process("starts servers of its own")
def test_L11_signal_at_once_on_ready(variant, request):
    """A SIGTERM or SIGINT sent the moment the READY line is read stops the server just the same:
    status 0 within 2 seconds, with no traceback."""
    runs = SIGNAL_ON_READY_RUNS_FULL if request.config.getoption("full") else SIGNAL_ON_READY_RUNS
    chosen = {name.strip() for name in request.config.getoption("behaviour").split(",") if name.strip()}
    behaviours = [name for name in ("echo", "multiport", "urlecho")
                  if not variant.missing(name) and (not chosen or name in chosen)]
    for run in range(runs):
        # Every (behaviour, signal) pair comes round: the behaviours cycle, the signals alternate.
        behaviour, sig = behaviours[run % len(behaviours)], (signal.SIGTERM, signal.SIGINT)[run % 2]
        argv = server_argv(variant, behaviour, ports=3 if behaviour == "multiport" else 1)
        proc, stderr_file = start_process(argv)
        server = Server(variant, behaviour, argv, proc, stderr_file)
        try:
            read_ready(proc)
            status, stderr = server.stop(sig)
        except ServerError as error:
            status, stderr = f"no READY: {error}", server.stderr_text()
        finally:
            server.kill()
        assert status == 0 and "Traceback" not in stderr, failure(
            f"L11 {signal.Signals(sig).name} at once on READY: status 0 within {STOP_TIMEOUT:.0f}s, "
            "no traceback", f"{signal.Signals(sig).name} the moment READY was read (start {run + 1} of "
            f"{runs}): {' '.join(argv)}", "status 0, no traceback",
            f"status {status} (None: still running), stderr: {stderr[-1500:]!r}")


# -- L7-L8: refusing to start ---------------------------------------------------------------

BAD_COMMAND_LINES = [
    ("unknown behaviour", ("no-such-behaviour", "--port", "0")),
    ("port not a number", ("echo", "--port", "eighty")),
    ("port out of range", ("echo", "--port", "70000")),
    ("port one past the range", ("echo", "--port", "65536")),
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


# -- L12: out of descriptors ------------------------------------------------------------------

# The server's open-file limit, soft and hard: room for its own descriptors and a few dozen clients.
FILE_LIMIT = 64
KEEPERS = 4  # clients connected and served before the flood; they must stay served
FLOOD = 3 * FILE_LIMIT  # connections at once: far more than the server can hold
WINDOW = 3.0  # seconds out of descriptors, with a new client knocking every KNOCK seconds
KNOCK = 0.1
MAX_CPU = 0.5  # of one core, over the window
MAX_LOG_LINES = 4  # over the window: an episode's first line and a few, never one per turn or retry


def exchange(server: Server, sock: socket.socket, label: str) -> tuple[bool, bytes]:
    """One round trip in the server's behaviour on ``sock``: (answered correctly, what came back)."""
    if server.behaviour == "urlecho":
        target = f"/{label}".encode()
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: suite\r\n\r\n" % target)
        got = recv_until(sock, target)
        return got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"\r\n\r\n" + target), got
    message = label.encode() + b"\n"
    # multiport tags each answer with the server's port: the one this socket is connected to.
    expect = message if server.behaviour == "echo" else b"%d " % sock.getpeername()[1] + message
    got, _ = pump(sock, [message], expect=len(expect))
    return got == expect, got


@pytest.fixture
def limited_server(variant, request):
    """A factory of servers of this test's own under an open-file limit of FILE_LIMIT, killed after
    the test; with the behaviours to try: echo in `make test`, every one served under --full."""
    started: list[Server] = []

    def start(behaviour: str) -> Server:
        started.append(launch(variant, behaviour, 1, max_files=FILE_LIMIT))
        return started[-1]

    wanted = ("echo", "multiport", "urlecho") if request.config.getoption("full") else ("echo",)
    yield start, [behaviour for behaviour in wanted if not variant.missing(behaviour)]
    for server in started:
        server.kill()


def check_out_of_descriptors(server: Server) -> None:
    """The L12 scenario on one server launched under the limit."""
    sent = (f"{server.behaviour} under an open-file limit of {FILE_LIMIT}: {KEEPERS} clients served, "
            f"then {FLOOD} more at once and one every {KNOCK} s for {WINDOW:.0f} s")

    def requirement(what: str) -> str:
        return f"L12 out of descriptors: {what}"

    keepers = [server.connect() for _ in range(KEEPERS)]
    flood: list[socket.socket] = []
    try:
        for number, keeper in enumerate(keepers):
            ok, got = exchange(server, keeper, f"keeper-{number}-before")
            assert ok, failure(requirement("a client is served"), f"keeper {number}", "its answer", got)
        files_before = server.fd_count()
        log_start = server.stderr_size()
        flood = [server.connect() for _ in range(FLOOD)]
        full = wait_until(lambda: server.fd_count() >= FILE_LIMIT - 4, timeout=IO_TIMEOUT)
        assert full, failure(requirement("the server takes clients up to its limit"), sent,
                             f"about {FILE_LIMIT} open files", f"{server.fd_count()} open files")
        cpu_start, runnable_start = server.cpu_seconds(), server.runnable_seconds()
        window_start = time.monotonic()
        while time.monotonic() - window_start < WINDOW:
            flood.append(server.connect())  # a new client knocks: one more refusal or retry
            time.sleep(KNOCK)
        window = time.monotonic() - window_start
        cpu = (server.cpu_seconds() - cpu_start) / window
        runnable_end = server.runnable_seconds()
        # A loaded machine gives a busy loop only a slice of a core; it still never sleeps.
        runnable = (runnable_end - runnable_start) / window if runnable_end and runnable_start else 0.0
        log = server.stderr_since(log_start)
        assert cpu < MAX_CPU and runnable < MAX_CPU, failure(
            requirement("no spinning"), sent,
            f"under {MAX_CPU:.0%} of a core, and runnable under {MAX_CPU:.0%} of the time",
            f"{cpu:.0%} of a core, runnable (on a core or waiting for one) {runnable:.0%} of the time")
        # The keepers' own requests may be logged late (an access log): they are not the episode's.
        lines = [line for line in log.splitlines() if "/keeper-" not in line]
        assert 1 <= len(lines) <= MAX_LOG_LINES and "Traceback" not in log, failure(
            requirement("the episode is logged in a few lines, no traceback"), sent,
            f"1 to {MAX_LOG_LINES} lines on stderr", f"{len(lines)} lines, {len(log)} bytes: {log[:600]!r}")
        for number, keeper in enumerate(keepers):
            ok, got = exchange(server, keeper, f"keeper-{number}-during")
            assert ok, failure(requirement("the clients it has are still served"),
                               f"{sent}; then keeper {number}", "its answer", got)
        for sock in flood:
            sock.close()
        flood.clear()
        # Clients have left once the server has closed their sockets; a server that refuses by
        # closing (Twisted's EMFILE recovery) would refuse one that came before.
        left = wait_until(lambda: server.fd_count() <= files_before + 2, timeout=IO_TIMEOUT)
        assert left, failure(requirement("the sockets of clients that left are closed"),
                             f"{sent}; the flood leaves", f"about {files_before} open files",
                             f"{server.fd_count()} open files")
        with server.connect() as newcomer:
            ok, got = exchange(server, newcomer, "newcomer")
        assert ok, failure(requirement("once clients leave, new ones are served"),
                           f"{sent}; the flood leaves, a new client comes", "its answer", got)
        log = server.stderr_since(log_start)
        assert "Traceback" not in log, failure(requirement("no traceback"), sent, "no traceback on stderr",
                                               log[-1500:])
    finally:
        for sock in keepers + flood:
            sock.close()


@pytest.mark.proc
@pytest.mark.process("starts a server of its own with a low open-file limit")
def test_L12_out_of_descriptors(limited_server):
    """Out of descriptors (its open-file limit reached, soft and hard), the server keeps serving the
    clients it has, does not spin (under half a core over 3 s), logs a few lines for the whole
    episode, and once clients leave it accepts and serves new ones."""
    raise_own_fd_limit()
    start, behaviours = limited_server
    for behaviour in behaviours:
        check_out_of_descriptors(start(behaviour))
