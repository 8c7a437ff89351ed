"""Launch-contract plumbing for the deliberately broken servers: arguments, READY, signals, one loop.

The broken servers are the suite's own test subjects (tests/test_selftest.py). Each is a small
stdlib-only script that is correct except for one deliberate flaw, so the suite must fail exactly
the clauses that flaw breaks. What is not the flaw lives here once: the command line the suite
appends (``BEHAVIOUR --port 0`` or ``--ports 0,0,0``), raising the open-file limit, the READY line,
exit 0 on SIGINT/SIGTERM, and an asyncio loop that serves every listener from one thread.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import socket
import sys
from collections.abc import Callable

# The listen queue: a burst of clients waits there rather than in SYN retries (asyncio's default
# is 100).
BACKLOG = 1024
# A Protocol factory for one listening socket (it may look at the socket, e.g. for its port).
Factory = Callable[[socket.socket], Callable[[], asyncio.Protocol]]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(text)
    return port


def parse_args(behaviour: str | tuple[str, ...],
               add_options: Callable[[argparse.ArgumentParser], None] | None = None,
               argv: list[str] | None = None, strict: bool = False) -> argparse.Namespace:
    """The launch contract's command line; ``args.ports`` is always a list.

    Unknown options are ignored, unless ``strict``: then every bad command line of L7 exits 2 with
    one line, as a server checked against section L must.
    """
    parser = _Parser(prog=sys.argv[0])
    parser.add_argument("behaviour", choices=[behaviour] if isinstance(behaviour, str) else behaviour)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port)
    parser.add_argument("--ports", type=lambda text: [_port(part) for part in text.split(",")])
    parser.add_argument("--quiet", action="store_true")
    if add_options is not None:
        add_options(parser)
    if strict:
        args = parser.parse_args(argv)
        if args.behaviour == "multiport" and args.port is not None:
            parser.error("multiport takes --ports, not --port")
    else:
        args, _ = parser.parse_known_args(argv)
    args.ports = args.ports or [args.port or 0]
    return args


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket (exit 1 with one line if the address is taken)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sys.stderr.write(f"cannot listen on {host}:{port}: {error.strerror}\n")
        raise SystemExit(1) from None
    sock.listen(BACKLOG)
    return sock


def ready(socks: list[socket.socket]) -> None:
    """Raise the fd limit, then print the one READY line."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    addresses = " ".join("{}:{}".format(*sock.getsockname()[:2]) for sock in socks)
    sys.stdout.write(f"READY {addresses}\n")
    sys.stdout.flush()


def log(args: argparse.Namespace, line: str) -> None:
    """One line on stderr, unless --quiet."""
    if not args.quiet:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


async def start_serving(args: argparse.Namespace, socks: list[socket.socket],
                        factory: Factory) -> list[asyncio.Server]:
    """Serve every listening socket on the running loop, out-of-descriptor episodes logged once."""
    loop = asyncio.get_running_loop()

    def on_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        # Out of descriptors, asyncio stops accepting for a second and tries again, logging a
        # traceback every time: one line per episode instead (SPEC L12); Tracked logs its end.
        if context.get("message") == "socket.accept() out of system resource":
            if not Tracked.out_of_files:
                Tracked.out_of_files = True
                log(args, "out of file descriptors: new clients wait in the listen queue")
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(on_error)
    Tracked.args = args
    # Passing our own sockets keeps asyncio from resolving names in a helper thread.
    return [await loop.create_server(factory(sock), sock=sock, backlog=BACKLOG) for sock in socks]


def serve_asyncio(args: argparse.Namespace, factory: Factory,
                  on_start: Callable[[], None] | None = None) -> None:
    """Listen on every port, announce READY, serve from one thread until SIGINT or SIGTERM, exit 0.

    ``on_start`` runs on the loop before READY (a broken server may start something there).
    """
    socks = [listen(args.host, port) for port in args.ports]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        if on_start is not None:
            on_start()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        servers = await start_serving(args, socks, factory)
        ready(socks)
        await stop.wait()
        for server in servers:
            server.close()
        for transport in list(Tracked.transports):
            transport.abort()

    asyncio.run(main())
    raise SystemExit(0)


def correct_factory(args: argparse.Namespace) -> Factory:
    """The correct protocol for ``args.behaviour``, for a server whose flaw lies outside it."""
    if args.behaviour == "echo":
        return lambda sock: EchoProtocol
    if args.behaviour == "multiport":
        return lambda sock: lambda: TaggedLineProtocol(sock.getsockname()[1])
    from _urlecho import UrlEchoProtocol  # it builds on this module

    return lambda sock: lambda: UrlEchoProtocol(args)


def parse_any(argv: list[str] | None = None) -> argparse.Namespace:
    """The strict command line of a server of every behaviour (for the launch clauses, section L)."""
    from _urlecho import add_options

    return parse_args(("echo", "multiport", "urlecho"), add_options, argv, strict=True)


class Tracked(asyncio.Protocol):
    """Base protocol that remembers its transport, so shutdown can close every connection."""

    transports: set[asyncio.Transport] = set()
    out_of_files = False  # since accept() last failed for want of a descriptor
    args: argparse.Namespace | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        Tracked.transports.add(transport)
        if Tracked.out_of_files:
            Tracked.out_of_files = False
            log(Tracked.args, "accepting clients again")

    def connection_lost(self, exc: Exception | None) -> None:
        Tracked.transports.discard(self.transport)


def stop_on_signals() -> None:
    """For blocking servers: SIGINT or SIGTERM ends the process with status 0, even inside accept()."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


# -- correct behaviours, which each broken server subclasses to break one thing ----------------

# Backpressure as SPEC.md asks: stop reading while about 1 MiB waits to be sent, resume below this.
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
# Multiport: a line longer than this (without its line ending) gets ERROR and a close.
MAX_LINE = 64 * 1024


class EchoProtocol(Tracked):
    """Correct TCP echo: unchanged bytes, backpressure, half-close flushes what is owed."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)

    def data_received(self, data: bytes) -> None:
        self.send(data)

    def send(self, data: bytes) -> None:
        self.transport.write(data)

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()

    def eof_received(self) -> bool:
        return False  # asyncio then closes the transport once its buffer is sent


class TaggedLineProtocol(Tracked):
    """Correct multiport line echo: each line comes back as ``<local port> <line>\\n``."""

    def __init__(self, port: int) -> None:
        self.tag = b"%d " % port
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        start = 0
        while (end := self.buffer.find(b"\n", start)) != -1:
            line = bytes(self.buffer[start:end]).removesuffix(b"\r")
            start = end + 1
            if len(line) > MAX_LINE:
                return self.too_long()
            self.send(self.tag + line + b"\n")
        del self.buffer[:start]
        if len(self.buffer) > MAX_LINE + 1:  # +1: the CR of a CRLF may still be to come
            self.too_long()

    def too_long(self) -> None:
        self.transport.write(self.tag + b"ERROR line too long\n")
        self.buffer.clear()
        self.transport.close()

    def eof_received(self) -> bool:
        # The unterminated tail is a line too (a CR at its end is not before an LF: it stays).
        if len(self.buffer) > MAX_LINE:
            self.too_long()
        elif self.buffer:
            self.send(self.tag + bytes(self.buffer) + b"\n")
        return False

    def send(self, data: bytes) -> None:
        self.transport.write(data)

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


# -- for the broken servers whose flaw is to lose at EOF what they still owe ---------------------

HOLD_DELAY = 0.5  # seconds without a read (while writing freely) before held output goes out


class HoldsLatest:
    """Mixin (before EchoProtocol or TaggedLineProtocol): the output of a connection's latest read is
    held back until a later read produces output, or until HOLD_DELAY passes with no read while
    the connection writes freely.

    A client that half-closes right after sending has its EOF read right behind its last bytes, so
    a server that drops what it holds at EOF always has something to drop: its flaw shows on every
    run, whatever the load, instead of only when its queue happens not to have drained yet. The
    delay never runs while the queue is full (reading is paused then), and asyncio handles a
    read (the EOF) before a timer due in the same turn. ``holding`` says since when: ``True``
    from the first read; otherwise from the first time the queue overflowed (pause_writing), which
    a client that reads as it sends never causes.
    """

    holding = False
    held = b""
    fresh: bytearray | None = None  # output of the read under way, while holding
    paused = False
    hold_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        self.fresh = bytearray() if self.holding else None
        try:
            super().data_received(data)  # type: ignore[misc]
        finally:
            fresh, self.fresh = self.fresh, None
        if fresh:
            self.release()
            self.held = bytes(fresh)
        self.arm_release()

    def send(self, data: bytes) -> None:
        if self.fresh is not None:
            self.fresh += data
        else:
            super().send(data)  # type: ignore[misc]

    def release(self) -> None:
        if self.hold_timer is not None:
            self.hold_timer.cancel()
            self.hold_timer = None
        held, self.held = self.held, b""
        if held and not self.transport.is_closing():  # type: ignore[attr-defined]
            self.transport.write(held)  # type: ignore[attr-defined]

    def arm_release(self) -> None:
        if self.hold_timer is not None:
            self.hold_timer.cancel()
            self.hold_timer = None
        if self.held and not self.paused:
            self.hold_timer = asyncio.get_running_loop().call_later(HOLD_DELAY, self.release)

    def pause_writing(self) -> None:
        self.holding = True
        self.paused = True
        super().pause_writing()  # type: ignore[misc]
        self.arm_release()  # disarmed: a full queue is no idle connection

    def resume_writing(self) -> None:
        self.paused = False
        super().resume_writing()  # type: ignore[misc]
        self.arm_release()
