"""netrosetta servers written with Python's own asyncio: streams, protocols, and h11 for HTTP."""

from __future__ import annotations

import asyncio
import signal
import socket
import weakref
from collections.abc import Awaitable, Callable

from netrosetta.launch import Config, UsageError, cannot_listen, ready
from netrosetta.registry import IMPLEMENTATIONS

# Every Protocol's transport, so that a stop can close them: before Python 3.13 (Server.close_clients)
# asyncio.Server keeps no list of its connections. Weak, so a closed connection leaves nothing here.
CLIENTS: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
# What each behaviour file offers run_loop: listen on host:port in this loop.
Serve = Callable[[asyncio.AbstractEventLoop, str, int, Config], Awaitable[asyncio.Server]]
# At a stop, how long the cancelled connection coroutines get to close their writers and return.
STOP_GRACE = 1.0


def use_loop(config: Config) -> None:
    """Make asyncio.run() build the loop --loop names: the stdlib's, or uvloop's."""
    if config.loop != "uvloop":
        return
    try:
        import uvloop
    except ImportError:
        raise UsageError("--loop uvloop needs uvloop: pip install 'netrosetta[uvloop]'") from None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, for start_server(sock=...) or create_server(sock=...).

    Given a host name, asyncio and uvloop resolve it on a thread pool (uvloop even a numeric
    address), and those threads stay: an event-loop server must run in one thread (SPEC L9).
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """At shutdown, a connection's coroutine cancelled by asyncio.run() is expected: not an error."""
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


def run_loop(config: Config, serve: Serve) -> None:
    """Run an asyncio loop: serve(loop, host, port, config) on every port, READY, then until a signal.

    An address in use exits 1 naming it. The signal handlers go in before READY, so a supervisor may
    signal the server the moment it reads READY. On a signal the servers stop accepting, and every
    connection is closed: a streams connection by cancelling its coroutine (STOP_GRACE bounds the
    wait for them), a Protocol's by closing its transport.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = []
        for port in config.ports:
            try:
                servers.append(await serve(loop, config.host, port, config))
            except OSError as error:
                cannot_listen(config.host, port, error)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        ready([server.sockets[0].getsockname()[:2] for server in servers])
        await stop.wait()
        loop.set_exception_handler(quiet_cancellations)
        for server in servers:
            server.close()
        # Streams: cancel every connection's coroutine, whose `finally` closes its writer.
        others = asyncio.all_tasks() - {asyncio.current_task()}
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=STOP_GRACE)
        # Protocols have no coroutine: close their transports here.
        for transport in list(CLIENTS):
            transport.abort()
        # Python 3.12's wait_closed() waits for every connection too: they are closed by now.
        for server in servers:
            await server.wait_closed()

    asyncio.run(main())


# This package's entry in the one list of implementations (netrosetta/registry.py).
IMPLEMENTATION = IMPLEMENTATIONS["asyncio"]
