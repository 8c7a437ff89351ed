"""netrosetta servers written the Tornado way: TCPServer, IOStream and tornado.web."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable

from tornado.ioloop import IOLoop

from netrosetta.launch import Config, UsageError, cannot_listen, ready
from netrosetta.registry import IMPLEMENTATIONS


def use_loop(config: Config) -> None:
    """Make asyncio.run() build the loop --loop names: Tornado's IOLoop wraps whatever it gets."""
    if config.loop != "uvloop":
        return
    try:
        import uvloop
    except ImportError:
        raise UsageError("--loop uvloop needs uvloop: pip install 'netrosetta[uvloop]'") from None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """At shutdown, a write a cancelled connection was awaiting is cancelled too: not an error."""
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


def run_loop(config: Config, serve: Callable[[IOLoop, str, int, Config], list[socket.socket]]) -> None:
    """Run the IOLoop: serve(loop, host, port, config) on every port, READY, then until a signal.

    An address in use exits 1 naming it. The signal handlers go in before READY, so a supervisor may
    signal the server the moment it reads READY. On a signal the coroutine returns, and asyncio.run()
    cancels every connection's handle_stream; IOStream's own callback on a write it was awaiting
    would log that cancellation with a traceback, so the loop is told it is expected.
    """

    async def main() -> None:
        loop = IOLoop.current()
        addresses = []
        for port in config.ports:
            try:
                sockets = serve(loop, config.host, port, config)
            except OSError as error:
                cannot_listen(config.host, port, error)
            addresses.append(sockets[0].getsockname()[:2])
        stop = asyncio.Event()
        asyncio_loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio_loop.add_signal_handler(signum, stop.set)
        ready(addresses)
        await stop.wait()
        asyncio_loop.set_exception_handler(quiet_cancellations)

    asyncio.run(main())


# This package's entry in the one list of implementations (netrosetta/registry.py).
IMPLEMENTATION = IMPLEMENTATIONS["tornado"]
