"""netrosetta servers written the Tornado way: TCPServer, IOStream and tornado.web."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable, Sequence

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


def run_loop(host: str, ports: Sequence[int], serve: Callable[[str, int], list[socket.socket]]) -> None:
    """Run the IOLoop: serve(host, port) on every port, READY, then wait for SIGINT or SIGTERM.

    An address in use exits 1 naming it. On a signal the coroutine returns, and asyncio.run()
    cancels every connection's handle_stream; IOStream's own callback on a write it was awaiting
    would log that cancellation with a traceback, so the loop is told it is expected.
    """

    async def main() -> None:
        addresses = []
        for port in ports:
            try:
                sockets = serve(host, port)
            except OSError as error:
                cannot_listen(host, port, error)
            addresses.append(sockets[0].getsockname()[:2])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        ready(addresses)
        await stop.wait()
        loop.set_exception_handler(quiet_cancellations)

    asyncio.run(main())


# This package's entry in the one list of implementations (netrosetta/registry.py).
IMPLEMENTATION = IMPLEMENTATIONS["tornado"]
