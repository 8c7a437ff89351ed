"""The suite's side of section F: scripted HTTP servers for the client to fetch from, and a client run.

A ``ScriptedServer`` listens on 127.0.0.1 (ephemeral port) on one asyncio loop that runs in a
background thread of the test process, shared by every server of that process. For each request it
reads, it calls the test's *script*, an ``async def script(exchange)`` that answers as the test
needs (any framing, a delay, a close, a reset, bytes that are not HTTP); by default it answers 200
with the request-target as the body. It records what it saw, from outside the client: every
connection, the requests on each (target, headers, when their first byte arrived, when their answer
was written), and how many connections and requests were open at once.

``run_client`` launches the client command (``python -m impl_X fetch ...`` or ``--client-cmd``),
waits for it to exit (bounded), and returns its exit status, stdout, stderr, wall time and peak
RSS (``wait4``'s ``ru_maxrss``: that of this one child). The client runs in a process group of its
own, and the whole group is killed when it exits or times out, so that a wrapper's children
(``sh -c 'helper & client ...'``) never outlive the run. Nothing here imports an implementation.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from netrosetta_conformance.harness import Variant

# The longest a client run may take before the suite kills it: every F test is shorter by far.
RUN_TIMEOUT = 60.0
MIB = 1024 * 1024


# -- the background loop --------------------------------------------------------------------------

class _Loop:
    """One asyncio loop in a daemon thread, started on first use, for every server of this process."""

    loop: asyncio.AbstractEventLoop | None = None
    lock = threading.Lock()

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls.lock:
            if cls.loop is None:
                cls.loop = asyncio.new_event_loop()
                threading.Thread(target=cls.loop.run_forever, name="scripted-servers", daemon=True).start()
            return cls.loop


def on_loop(coroutine: Awaitable, timeout: float = 30.0):
    """Run a coroutine on the servers' loop and wait (bounded) for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, _Loop.get()).result(timeout)


# -- what a server saw ------------------------------------------------------------------------------

@dataclass
class SeenRequest:
    """One request as the server read it."""

    connection: int  # the connection's number, from 0, in order of acceptance
    number: int  # its place on that connection, from 0: above 0, the connection was reused
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    head: bytes
    arrived: float  # monotonic time of its first byte
    answered: float | None = None  # when its answer was written in full (None: never)
    body: bytes = b""

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class SeenConnection:
    number: int
    requests: list[SeenRequest] = field(default_factory=list)
    opened: float = 0.0
    closed: float | None = None


class Exchange:
    """One request and the means to answer it; given to the script, on the servers' loop."""

    def __init__(self, server: ScriptedServer, connection: _Connection, request: SeenRequest) -> None:
        self.server = server
        self.connection = connection
        self.request = request

    @property
    def target(self) -> str:
        return self.request.target

    @property
    def reused(self) -> bool:
        """Did this request come on a connection that had carried one before?"""
        return self.request.number > 0

    @property
    def wants_close(self) -> bool:
        return any("close" in value.lower() for value in self.request.header("Connection"))

    async def send(self, data: bytes) -> None:
        """Write bytes and wait until the kernel took them (backpressure for large answers)."""
        await self.connection.write(data)

    async def respond(self, status: int = 200, body: bytes | None = None, *, reason: str = "OK",
                      headers: tuple[tuple[str, str], ...] = (), framing: str = "length",
                      close: bool | None = None) -> None:
        """A whole answer: framing "length" (Content-Length), "chunked" or "close" (read to the
        close). Closes after it if asked to, if the client asked to, or for "close" framing."""
        body = self.target.encode("latin-1") if body is None else body
        close = self.wants_close or framing == "close" if close is None else close
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
        if framing == "length":
            lines.append(f"Content-Length: {len(body)}")
            payload = body
        elif framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            payload = chunked(body)
        else:
            payload = body
        if close and framing != "close":
            lines.append("Connection: close")
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.request.answered = time.monotonic()
        if close:
            self.close()

    def close(self) -> None:
        """Send FIN and stop serving this connection."""
        self.connection.close()

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        self.connection.reset()

    async def client_closed(self) -> None:
        """Wait until the client closes this connection (EOF or reset)."""
        await self.connection.client_gone

    async def gate(self, name: str, count: int, patience: float = 2.0) -> None:
        """Wait here until ``count`` requests wait at the gate ``name`` (or ``patience`` seconds
        passed since the first of them came), then release them all: answers held until the client
        has that many requests out at once."""
        await self.server.gate(name, count, patience)


def chunked(body: bytes, size: int = 7) -> bytes:
    """``body`` in chunks of ``size`` bytes, one with an extension, and a trailer field."""
    out = bytearray()
    for number, start in enumerate(range(0, len(body), size)):
        piece = body[start:start + size]
        extension = b";ext=1" if number == 1 else b""
        out += b"%x%s\r\n%s\r\n" % (len(piece), extension, piece)
    return bytes(out + b"0\r\nX-Trailer: done\r\n\r\n")


Script = Callable[[Exchange], Awaitable[None]]


async def echo_target(exchange: Exchange) -> None:
    """The default script: 200, the request-target as the body, Content-Length framing."""
    await exchange.respond()


class _Connection(asyncio.Protocol):
    """One accepted connection: parses requests as they arrive, and answers them one at a time."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.buffer = b""
        self.buffer_since = 0.0  # when the first byte of what is buffered arrived
        self.requests: asyncio.Queue[SeenRequest | None] = asyncio.Queue()
        self.closed = False
        self.paused: asyncio.Future | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.client_gone = asyncio.get_running_loop().create_future()
        self.seen = self.server._opened()
        self.task = asyncio.ensure_future(self.serve())

    def data_received(self, data: bytes) -> None:
        if not self.buffer:
            self.buffer_since = time.monotonic()
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end == -1:
                return
            head, self.buffer = self.buffer[:end + 4], self.buffer[end + 4:]
            request = _parse(head, self.seen, self.buffer_since)
            length = request.header("Content-Length")
            if length and length[0].isdigit():
                request.body, self.buffer = self.buffer[:int(length[0])], self.buffer[int(length[0]):]
            self.seen.requests.append(request)
            self.requests.put_nowait(request)
            self.buffer_since = time.monotonic()

    def eof_received(self) -> bool:
        self.requests.put_nowait(None)
        if not self.client_gone.done():
            self.client_gone.set_result(None)
        return True  # keep our sending side open: a script may still answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.requests.put_nowait(None)
        if not self.client_gone.done():
            self.client_gone.set_result(None)
        self.close()
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)

    def pause_writing(self) -> None:
        self.paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)

    async def write(self, data: bytes) -> None:
        if self.closed:
            return
        self.transport.write(data)
        if self.paused is not None:
            await self.paused
            self.paused = None

    async def serve(self) -> None:
        while not self.closed:
            request = await self.requests.get()
            if request is None:
                self.close()
                return
            server = self.server
            server.in_flight += 1
            server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
            try:
                await server.script(Exchange(server, self, request))
            except (ConnectionError, OSError):
                self.close()
            finally:
                server.in_flight -= 1

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.server._closed(self.seen)
            self.transport.close()

    def reset(self) -> None:
        if not self.closed:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.closed = True
            self.server._closed(self.seen)
            self.transport.abort()


def _parse(head: bytes, connection: SeenConnection, arrived: float) -> SeenRequest:
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    target, _, version = rest.rpartition(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip(" \t")))
    return SeenRequest(connection.number, len(connection.requests), method, target, version, headers,
                       head, arrived)


class ScriptedServer:
    """An HTTP/1.1 server on 127.0.0.1 answering as ``script`` says; see the module docstring."""

    def __init__(self, script: Script = echo_target) -> None:
        self.script = script
        self.connections: list[SeenConnection] = []
        self.open = 0
        self.peak_open = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._gates: dict[str, list[asyncio.Future]] = {}
        self._server = on_loop(self._start())
        self.port = self._server.sockets[0].getsockname()[1]

    async def _start(self) -> asyncio.base_events.Server:
        return await asyncio.get_running_loop().create_server(lambda: _Connection(self), "127.0.0.1", 0,
                                                              backlog=1024)

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self.port}{target}"

    def _opened(self) -> SeenConnection:
        seen = SeenConnection(len(self.connections), opened=time.monotonic())
        self.connections.append(seen)
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        return seen

    def _closed(self, seen: SeenConnection) -> None:
        seen.closed = time.monotonic()
        self.open -= 1

    async def gate(self, name: str, count: int, patience: float) -> None:
        waiting = self._gates.setdefault(name, [])
        future = asyncio.get_running_loop().create_future()
        waiting.append(future)
        if len(waiting) >= count:
            self._release(name)
        elif len(waiting) == 1:
            asyncio.get_running_loop().call_later(patience, self._release, name, future)
        await future

    def _release(self, name: str, first: asyncio.Future | None = None) -> None:
        waiting = self._gates.get(name, [])
        if first is not None and (not waiting or waiting[0] is not first):
            return  # that batch was released already
        self._gates[name] = []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    # -- what it saw (read from the test's thread once the client has exited) ---------------------

    def settle(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until the server has noticed every connection's end."""
        deadline = time.monotonic() + timeout
        while self.open > 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request, in order of arrival."""
        return sorted((r for c in list(self.connections) for r in c.requests), key=lambda r: r.arrived)

    def targets(self) -> list[str]:
        return [request.target for request in self.requests]

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
        on_loop(stop())


def refusing_port() -> tuple[socket.socket, int]:
    """A port bound but not listening: a connection to it is refused (until the socket is closed)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


# -- running the client -------------------------------------------------------------------------------

@dataclass
class ClientRun:
    """One run of the client, seen from outside."""

    argv: list[str]
    status: int | None  # None: killed after RUN_TIMEOUT
    stdout: str
    stderr: str
    elapsed: float
    max_rss: int  # bytes
    ended: float = 0.0  # monotonic time at which it was reaped

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def describe(self) -> str:
        return f"status {self.status}, stdout {self.stdout[-600:]!r}, stderr {self.stderr[-600:]!r}"


def client_argv(variant: Variant, args: list[str]) -> list[str]:
    """The client's command line: the variant's client command, ``fetch``, its --loop/--model, args."""
    return [*variant.client_command, "fetch", *variant.extra, *args]


def start_client(variant: Variant, args: list[str],
                 stdin: str | None = None) -> tuple[subprocess.Popen, list]:
    """Start the client with stdout and stderr in temporary files (no pipe to fill up)."""
    argv = client_argv(variant, args)
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    stdin_file = None
    if stdin is not None:
        stdin_file = tempfile.TemporaryFile()
        stdin_file.write(stdin.encode())
        stdin_file.seek(0)
    proc = subprocess.Popen(argv, stdin=stdin_file if stdin_file else subprocess.DEVNULL, stdout=out,
                            stderr=err, env=env, start_new_session=True)
    _RUNNING.add(proc)
    return proc, [argv, out, err, time.monotonic()]


# Clients started and not yet reaped: a test that fails between start and finish leaves one here.
_RUNNING: set[subprocess.Popen] = set()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the client's process group; call it while the leader is unreaped (a zombie at worst),
    so that the group id cannot have been reused."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def finish_client(proc: subprocess.Popen, started: list, timeout: float = RUN_TIMEOUT) -> ClientRun:
    """Wait (bounded) for the client to exit, kill what is left of its process group, and reap it
    with wait4 for its own peak RSS."""
    argv, out, err, start = started
    deadline = start + timeout
    # WNOWAIT: the exited leader stays a zombie, holding its group id, until the group is killed.
    timed_out = False
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() > deadline:
            timed_out = True
            break
        time.sleep(0.005)
    _kill_group(proc)
    _, code, usage = os.wait4(proc.pid, 0)
    _RUNNING.discard(proc)
    status = None if timed_out else os.waitstatus_to_exitcode(code)
    proc.returncode = status if status is not None else -signal.SIGKILL
    ended = time.monotonic()
    elapsed = ended - start
    out.seek(0)
    err.seek(0)
    stdout, stderr = (file.read().decode("utf-8", "replace") for file in (out, err))
    return ClientRun(argv, status, stdout, stderr, elapsed, usage.ru_maxrss * 1024, ended)


def run_client(variant: Variant, args: list[str], stdin: str | None = None,
               timeout: float = RUN_TIMEOUT) -> ClientRun:
    proc, started = start_client(variant, args, stdin)
    return finish_client(proc, started, timeout)


def stop_clients() -> None:
    """Kill and reap every client still running (with its process group): the session's safety net."""
    for proc in list(_RUNNING):
        _kill_group(proc)
        proc.wait()
        _RUNNING.discard(proc)
