"""Black-box plumbing for the suite: launch a server command, read READY, talk through sockets, stop it.

Nothing here imports an implementation. A server is a subprocess that follows the launch contract
(SPEC.md, section L); all we know of it is its command line, its READY line, its sockets, its exit
status, its stderr and its /proc entries.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from netrosetta.registry import BEHAVIOURS, variants

REPO = Path(__file__).resolve().parent.parent

# Bounded waits. Generous, because the machine is shared and noisy; a healthy server is far faster.
READY_TIMEOUT = 20.0
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

    def missing(self, behaviour: str) -> str | None:
        """Why this variant cannot serve ``behaviour``, or None if it can."""
        if behaviour not in self.behaviours:
            return f"n/a: {self.id} does not serve {behaviour}"
        if self.package and not (REPO / self.package / f"{behaviour}.py").exists():
            return f"missing: {self.package}/{behaviour}.py is not written yet"
        return None


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
    import shlex

    behaviours = (SERVER_BEHAVIOURS if command else ()) + (CLIENT_BEHAVIOURS if client_command else ())
    return Variant("custom", "custom", tuple(shlex.split(command)), behaviours=behaviours,
                   client=tuple(shlex.split(client_command)) if client_command else None, proxy=proxy)


class ServerError(AssertionError):
    """The server did not follow the launch contract."""


@dataclass
class Server:
    """A running server process, as the suite sees it from outside."""

    variant: Variant
    behaviour: str
    argv: list[str]
    proc: subprocess.Popen
    stderr_file: object
    addresses: list[tuple[str, int]] = field(default_factory=list)
    # For a proxy variant, one proxy per address: clients connect there (endpoint()).
    proxies: list = field(default_factory=list)

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
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def describe(self) -> str:
        """Who this is, for failure messages."""
        return f"{self.variant.id} {' '.join(self.argv)}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def endpoint(self, index: int = 0) -> tuple[str, int]:
        """Where a client connects to reach the index-th address: it, or its proxy."""
        return self.proxies[index].address if self.proxies else self.addresses[index]

    def connect(self, index: int = 0, timeout: float = IO_TIMEOUT) -> socket.socket:
        host, port = self.endpoint(index)
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    # -- /proc readings: the suite started the process, so it may look at it ------------------

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def _status(self, key: str) -> str:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
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
        for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return soft, hard
        raise KeyError("Max open files")

    # -- stopping --------------------------------------------------------------------------

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> tuple[int | None, str]:
        """Send ``sig`` and wait; return (exit status or None if it did not exit in time, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None, self.stderr_text()
        self.close_proxies()
        return self.proc.returncode, self.stderr_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
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

    ``max_files`` sets the child's open-file limit, soft and hard alike, before it runs: a server may
    raise its soft limit to the hard one (L10), so only the hard limit really holds it.
    """
    stderr_file = tempfile.TemporaryFile()
    # No PYTHONUNBUFFERED: a Python server must flush its READY line itself (SPEC L1).
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))

    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=stderr_file, cwd=REPO, env=env,
                            preexec_fn=limit_files if max_files is not None else None)
    return proc, stderr_file


def read_ready(proc: subprocess.Popen, timeout: float = READY_TIMEOUT) -> str:
    """Wait (bounded) for the first stdout line; return it without its newline.

    Raises ServerError if the process exits or stays silent first.
    """
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
            proc.wait(timeout)
            raise ServerError(f"server exited with status {proc.returncode} before READY "
                              f"(stdout: {buffer!r})")
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
    """Start a server and wait for READY; on failure the error carries the server's stderr."""
    argv = server_argv(variant, behaviour, ports, args)
    proc, stderr_file = start_process(argv, max_files)
    server = Server(variant, behaviour, argv, proc, stderr_file)
    try:
        server.addresses = parse_ready(read_ready(proc))
    except ServerError as error:
        server.kill()
        raise ServerError(f"{error}\ncommand: {' '.join(argv)}\nstderr:\n{server.stderr_text()}") from None
    if variant.proxy:
        from conformance.proxy import Proxy

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
