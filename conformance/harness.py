"""Black-box plumbing for the suite: launch a server command, read READY, talk through sockets, stop it.

Nothing here imports an implementation. A server is a subprocess that follows the launch contract
(SPEC.md, section L); all we know of it is its command line, its READY line, its sockets, its exit
status, its stderr and its /proc entries. Every server runs in a process group of its own, and the
whole group is ended with it, so a wrapper's children (``sh -c '...'``) never outlive a test.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import resource
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from netrosetta.registry import BEHAVIOURS, variants

# Bounded waits. Generous, because the machine is shared and noisy; a healthy server is far faster.
# The plugin sets READY_TIMEOUT from --ready-timeout; readers look it up when they wait.
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 2.0  # the contract: exit within 2 seconds of SIGTERM
IO_TIMEOUT = 10.0


@dataclass(frozen=True)
class Variant:
    """One way of launching one implementation: a column of the conformance matrix."""

    id: str
    impl: str
    command: tuple[str, ...]
    extra: tuple[str, ...] = ()
    # Default variants run every clause in `make test`; the others run the smoke subset.
    default: bool = True
    behaviours: tuple[str, ...] = ("echo", "multiport", "urlecho")
    # Our own implementations are looked up on disk so a missing one is reported, not failed.
    package: str | None = None
    # The command for client behaviours (fetch), if not ``command`` (``--client-cmd``).
    client: tuple[str, ...] | None = None

    @property
    def client_command(self) -> tuple[str, ...]:
        return self.command if self.client is None else self.client
    # Clients reach it through the re-cutting proxy (conformance/proxy.py): E, M and U clauses only.
    proxy: bool = False
    # --connect: a server the suite did not start, (behaviour, its addresses) for each behaviour.
    connect: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()

    def missing(self, behaviour: str) -> str | None:
        """Why this variant cannot serve ``behaviour``, or None if it can."""
        if self.connect and behaviour not in dict(self.connect):
            return f"n/a: no --connect address for {behaviour}"
        if behaviour not in self.behaviours:
            return f"n/a: {self.id} does not serve {behaviour}"
        if self.package and not _module_file(self.package, behaviour).exists():
            return f"missing: {self.package}/{behaviour}.py is not written yet"
        return None


def _module_file(package: str, module: str) -> Path:
    """Where ``package.module`` is or would be, without importing the package (checkout or installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return Path(package, f"{module}.py")
    return Path(next(iter(spec.submodule_search_locations)), f"{module}.py")


# Every column of the matrix, from the one list of implementations (netrosetta/registry.py). Other
# models run every clause (their concurrency failures are documented divergences, see
# divergences.py); extra loops run the smoke subset in `make test` and everything in `make test-full`.
VARIANTS: list[Variant] = [
    Variant(spec.id, spec.impl, (sys.executable, "-m", f"impl_{spec.impl}"), spec.extra,
            default=spec.default, behaviours=spec.behaviours, package=f"impl_{spec.impl}")
    for spec in variants()
]


SERVER_BEHAVIOURS = tuple(name for name, behaviour in BEHAVIOURS.items() if not behaviour.is_client)
CLIENT_BEHAVIOURS = tuple(name for name, behaviour in BEHAVIOURS.items() if behaviour.is_client)

# The same again through the re-cutting proxy, for each implementation's default variant: only the
# cuts of the byte stream and its timing change (conformance/proxy.py). Servers only.
VARIANTS += [
    Variant(f"{variant.id}-proxy", variant.impl, variant.command, variant.extra, default=False,
            behaviours=tuple(b for b in variant.behaviours if b in SERVER_BEHAVIOURS),
            package=variant.package, proxy=True)
    for variant in list(VARIANTS) if not variant.extra
]


def custom_variant(command: str, client_command: str = "", proxy: bool = False) -> Variant:
    """A server from anywhere (`--server-cmd`): the suite appends BEHAVIOUR --port 0 ...; and/or a
    client from anywhere (`--client-cmd`): the suite appends fetch [options] URL... One column."""
    behaviours = (SERVER_BEHAVIOURS if command else ()) + (CLIENT_BEHAVIOURS if client_command else ())
    return Variant("custom", "custom", tuple(shlex.split(command)), behaviours=behaviours,
                   client=tuple(shlex.split(client_command)) if client_command else None, proxy=proxy)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` -> (host, port); ValueError if it is not that."""
    host, sep, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host, int(port)


def connect_variant(specs: list[str], behaviours: list[str]) -> Variant:
    """A server already running (``--connect``): each spec is ``BEHAVIOUR=HOST:PORT`` (repeat one
    behaviour for several ports, as multiport has), comma-separated lists allowed; a bare
    ``HOST:PORT`` is for the one behaviour named by ``behaviours``. ValueError says what is wrong."""
    addresses: dict[str, list[tuple[str, int]]] = {}
    for spec in (part.strip() for text in specs for part in text.split(",") if part.strip()):
        behaviour, sep, address = spec.rpartition("=")
        if not sep:
            if len(behaviours) != 1:
                raise ValueError(f"--connect {spec}: name its behaviour (echo={spec}), or give "
                                 "--behaviour with exactly one behaviour")
            behaviour = behaviours[0]
        addresses.setdefault(behaviour, []).append(parse_address(address))
    if not addresses:
        raise ValueError("--connect: no address given")
    return Variant("connect", "connect", (), behaviours=tuple(addresses),
                   connect=tuple((name, tuple(each)) for name, each in addresses.items()))


def connect_to(variant: Variant, behaviour: str) -> Server:
    """The server ``--connect`` names for ``behaviour``; ServerError if nothing accepts there."""
    addresses = list(dict(variant.connect)[behaviour])
    for host, port in addresses:
        try:
            socket.create_connection((host, port), timeout=READY_TIMEOUT).close()
        except OSError as error:
            raise ServerError(f"cannot connect to {host}:{port} (--connect {behaviour}=...): "
                              f"{error.strerror or error}") from None
    return Server(variant, behaviour, [], None, None, addresses)


class ServerError(AssertionError):
    """The server did not follow the launch contract.

    ``status`` is its exit status when it exited before READY (None if it is still running, or
    stayed silent and was stopped).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Server:
    """A running server process, as the suite sees it from outside."""

    variant: Variant
    behaviour: str
    argv: list[str]
    proc: subprocess.Popen | None  # None: a server the suite did not start (--connect)
    stderr_file: object
    addresses: list[tuple[str, int]] = field(default_factory=list)
    # For a proxy variant, one proxy per address: clients connect there (endpoint()).
    proxies: list = field(default_factory=list)
    # When it was started (time.monotonic()); None for a server the suite did not start (--connect).
    started: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    @property
    def ports(self) -> list[int]:
        return [port for _, port in self.addresses]

    def stderr_text(self) -> str:
        if self.stderr_file is None:  # --connect: not ours to read
            return ""
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def describe(self) -> str:
        """Who this is, for failure messages."""
        if self.proc is None:
            return f"the server at {' '.join(f'{h}:{p}' for h, p in self.addresses)} (--connect)"
        return f"{self.variant.id} {' '.join(self.argv)}"

    def alive(self) -> bool:
        """Still running? (A --connect server is not ours to watch: assumed so.)"""
        return self.proc is None or self.proc.poll() is None

    def endpoint(self, index: int = 0) -> tuple[str, int]:
        """Where a client connects to reach the index-th address: it, or its proxy."""
        return self.proxies[index].address if self.proxies else self.addresses[index]

    def connect(self, index: int = 0, timeout: float = IO_TIMEOUT) -> socket.socket:
        host, port = self.endpoint(index)
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    # -- /proc readings: the suite started the process, so it may look at it ------------------

    def _proc(self, entry: str) -> Path:
        """/proc/PID/ENTRY. A test that reads it is n/a (skipped) where there is no /proc, or no
        process of ours (--connect); the plugin skips such tests (marker ``proc``) before they
        start, this is the backstop."""
        if self.proc is None or not Path("/proc/self/status").exists():
            import pytest

            pytest.skip("n/a: reads the server's /proc entries, which this run cannot see")
        return Path(f"/proc/{self.pid}/{entry}")

    def fd_count(self) -> int:
        return len(os.listdir(self._proc("fd")))

    def _status(self, key: str) -> str:
        for line in self._proc("status").read_text().splitlines():
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
        raise KeyError(key)

    def rss_bytes(self) -> int:
        return int(self._status("VmRSS").split()[0]) * 1024

    def threads(self) -> int:
        return int(self._status("Threads"))

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far, every thread included."""
        # /proc/PID/stat: the command name may hold spaces, so split after its closing parenthesis.
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def runnable_seconds(self) -> float | None:
        """Time the process's threads have spent on a core or waiting in the run queue for one
        (/proc/PID/task/*/schedstat), or None where the kernel does not keep it.

        Unlike CPU time, this shows a busy loop on a loaded machine too: a process that never
        sleeps is runnable all the time, whatever share of a core it gets.
        """
        total = 0
        try:
            for task in os.listdir(f"/proc/{self.pid}/task"):
                on_cpu, waiting, _ = Path(f"/proc/{self.pid}/task/{task}/schedstat").read_text().split()
                total += int(on_cpu) + int(waiting)
        except FileNotFoundError:
            return None  # no schedstat here (or a thread just ended: rare, and only loses a sample)
        return total / 1e9

    def stderr_size(self) -> int:
        """Bytes written to stderr so far (an offset for ``stderr_text()[offset:]``, as bytes)."""
        self.stderr_file.flush()
        return os.fstat(self.stderr_file.fileno()).st_size

    def stderr_since(self, offset: int) -> str:
        """What the server wrote to stderr after ``offset`` bytes."""
        self.stderr_file.flush()
        self.stderr_file.seek(offset)
        return self.stderr_file.read().decode("utf-8", "replace")

    def nofile_limits(self) -> tuple[str, str]:
        for line in self._proc("limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return soft, hard
        raise KeyError("Max open files")

    # -- stopping --------------------------------------------------------------------------

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> tuple[int | None, str]:
        """Send ``sig`` to the server's process group and wait for the server; return (its exit
        status, or None if it did not exit in time, and its stderr). Whatever is left of the group
        afterwards is killed. A --connect server is left alone."""
        if self.proc is None:
            return None, ""
        if self.proc.poll() is None:
            signal_group(self.proc, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None, self.stderr_text()
        end_group(self.proc)
        self.close_proxies()
        return self.proc.returncode, self.stderr_text()

    def kill(self) -> None:
        """SIGKILL the server and its whole process group (not a --connect server's)."""
        if self.proc is not None:
            end_group(self.proc)
        self.close_proxies()

    def close_proxies(self) -> None:
        for proxy in self.proxies:
            proxy.close()


def server_argv(variant: Variant, behaviour: str, ports: int = 1, args: tuple[str, ...] = ()) -> list[str]:
    """The command line the suite runs: the variant's command, BEHAVIOUR, ephemeral port(s), args."""
    port_args = ["--port", "0"] if behaviour != "multiport" else ["--ports", ",".join(["0"] * ports)]
    return [*variant.command, behaviour, *port_args, *variant.extra, *args]


def start_process(argv: list[str], max_files: int | None = None) -> tuple[subprocess.Popen, object]:
    """Start a server process with stdout piped (for READY) and stderr in a temporary file.

    As SPEC.md, section L says: in the suite's own working directory, with the suite's environment
    (less PYTHONUNBUFFERED: a Python server must flush its READY line itself, L1), stdin from
    /dev/null, in a new session (its own process group). ``max_files`` sets the child's open-file
    limit, soft and hard alike, before it runs: a server may raise its soft limit to the hard one
    (L10), so only the hard limit really holds it.
    """
    stderr_file = tempfile.TemporaryFile()
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)

    def before_exec() -> None:
        _die_with_parent()
        if max_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))

    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=stderr_file, env=env, start_new_session=True,
                                preexec_fn=before_exec)
    except OSError as error:  # no such program, not executable: the shell's status for it
        stderr_file.close()
        raise ServerError(f"cannot run {argv[0]!r}: {error.strerror}\ncommand: {shlex.join(argv)}",
                          status=127) from None
    _STARTED.add(proc)
    return proc, stderr_file


# Every server this process started, ended at exit if a test or an interrupted run left it behind.
_STARTED: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


@atexit.register
def _end_every_server() -> None:
    for proc in list(_STARTED):
        if proc.poll() is None:
            end_group(proc)


def _prctl() -> Callable[[int, int], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _prctl()
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it if the process that started it dies (a killed xdist
    worker), which no cleanup code of ours would see."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the process group the server leads (the server and anything it started)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def end_group(proc: subprocess.Popen) -> None:
    """SIGKILL the server's process group (a wrapper's children too) and reap the server."""
    signal_group(proc, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def read_ready(proc: subprocess.Popen, timeout: float | None = None) -> str:
    """Wait (bounded, by default READY_TIMEOUT) for the first stdout line; return it without its newline.

    Raises ServerError if the process exits or stays silent first.
    """
    timeout = READY_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    buffer = b""
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ServerError(f"no READY line within {timeout:.0f}s (got so far: {buffer!r})")
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()) + STOP_TIMEOUT)
            except subprocess.TimeoutExpired:  # closed its stdout but kept running
                raise ServerError(f"server closed its stdout without a READY line (got: {buffer!r})") \
                    from None
            raise ServerError(f"server exited with status {proc.returncode} before READY "
                              f"(stdout: {buffer!r})", status=proc.returncode)
        buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    if rest:
        raise ServerError(f"server printed more than one line at start: {buffer!r}")
    return line.decode("ascii", "replace")


def parse_ready(line: str) -> list[tuple[str, int]]:
    """``READY 127.0.0.1:PORT [...]`` -> [(host, port), ...]; ServerError if it is not that."""
    words = line.split(" ")
    if words[0] != "READY" or len(words) < 2:
        raise ServerError(f"first stdout line is not 'READY host:port ...': {line!r}")
    addresses = []
    for word in words[1:]:
        host, sep, port = word.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ServerError(f"bad address {word!r} in READY line {line!r}")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def launch(variant: Variant, behaviour: str, ports: int = 1, args: tuple[str, ...] = (),
           max_files: int | None = None) -> Server:
    """Start a server and wait for READY; on failure the error carries the server's stderr.
    Under --connect, the running server instead (``args`` must be empty: it was started as it was)."""
    if variant.connect:
        assert not args, "a --connect server cannot be given arguments: the plugin makes such tests n/a"
        return connect_to(variant, behaviour)
    argv = server_argv(variant, behaviour, ports, args)
    proc, stderr_file = start_process(argv, max_files)
    server = Server(variant, behaviour, argv, proc, stderr_file, started=time.monotonic())
    try:
        server.addresses = parse_ready(read_ready(proc))
    except ServerError as error:
        server.kill()
        raise ServerError(f"{error}\ncommand: {' '.join(argv)}\nstderr:\n{server.stderr_text()}",
                          status=error.status) from None
    except BaseException:  # Ctrl-C while waiting for READY: nobody else holds this server yet
        server.kill()
        raise
    if variant.proxy:
        from netrosetta_conformance.proxy import Proxy

        server.proxies = [Proxy(address, seed) for seed, address in enumerate(server.addresses)]
    return server


# -- socket helpers with bounded waits ---------------------------------------------------------

def recv_exactly(sock: socket.socket, size: int, timeout: float = IO_TIMEOUT) -> bytes:
    """Read exactly ``size`` bytes, or fewer if the peer closes or ``timeout`` passes in total."""
    deadline = time.monotonic() + timeout
    chunks, got = [], 0
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(size - got, 1 << 20))
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_until_eof(sock: socket.socket, timeout: float = IO_TIMEOUT) -> tuple[bytes, bool]:
    """Read until the peer closes; return (data, True if it closed within ``timeout``)."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), False
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            return b"".join(chunks), False
        except ConnectionResetError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def recv_until(sock: socket.socket, marker: bytes, timeout: float = IO_TIMEOUT) -> bytes:
    """Read until ``marker`` has arrived (or the peer closes, or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    data = b""
    while marker not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def failure(requirement: str, sent: object, expected: object, got: object) -> str:
    """The suite's failure message: requirement / sent / expected / got."""

    def short(value: object) -> str:
        text = repr(value)
        return text if len(text) <= 300 else text[:300] + f"... ({len(text)} chars)"

    return (f"\n  requirement: {requirement}\n  sent:        {short(sent)}"
            f"\n  expected:    {short(expected)}\n  got:         {short(got)}")
