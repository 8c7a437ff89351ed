"""netrosetta servers written the Tornado way: TCPServer, IOStream and tornado.web."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from tornado.ioloop import IOLoop
from tornado.log import gen_log

from netrosetta.launch import Config, UsageError, cannot_listen, ready
from netrosetta.registry import BACKLOG, IMPLEMENTATIONS


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


# Out of descriptors, stop accepting for this long: the listener stays readable while clients wait,
# and trying again at once would spin a core.
ACCEPT_PAUSE = 0.1


class OutOfFiles:
    """The process's out-of-descriptor episodes, two log lines each (SPEC L12): one when a client
    first cannot be taken, one when a client is taken again; never a line per retry."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.refusals = 0

    def refused(self) -> None:
        self.refusals += 1
        if self.since is None:
            self.since = time.monotonic()
            gen_log.warning("out of file descriptors: new clients wait in the listen queue "
                            "(retrying every %.1fs)", ACCEPT_PAUSE)

    def served(self) -> None:
        if self.since is not None:
            gen_log.warning("accepting clients again after %.1fs out of file descriptors",
                            time.monotonic() - self.since)
            self.since = None


OUT_OF_FILES = OutOfFiles()


def add_accept_handler(sock: socket.socket,
                       callback: Callable[[socket.socket, Any], None]) -> Callable[[], None]:
    """tornado.netutil.add_accept_handler, with a pause when the process is out of descriptors.

    Tornado's own lets EMFILE escape its handler, so the IOLoop calls it again on every turn, each
    time logging a traceback: a core spun and megabytes of stderr a second. This one takes the
    listener off the IOLoop for ACCEPT_PAUSE and tries again, logging one line when that begins and
    one when accepting works again (SPEC L12). Returns the function that removes the handler.
    """
    io_loop = IOLoop.current()
    removed = False

    def resume() -> None:
        if not removed:
            io_loop.add_handler(sock, accept_handler, IOLoop.READ)

    def accept_handler(fd: socket.socket, events: int) -> None:
        for _ in range(BACKLOG):  # a bounded batch, as Tornado's: other work must get its turn
            if removed:
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as error:
                if error.errno not in (errno.EMFILE, errno.ENFILE):
                    raise
                OUT_OF_FILES.refused()
                io_loop.remove_handler(sock)
                io_loop.call_later(ACCEPT_PAUSE, resume)
                return
            refusals = OUT_OF_FILES.refusals
            callback(connection, address)
            if OUT_OF_FILES.refusals == refusals:  # the server may need a descriptor more, and fail
                OUT_OF_FILES.served()

    def remove_handler() -> None:
        nonlocal removed
        io_loop.remove_handler(sock)
        removed = True

    io_loop.add_handler(sock, accept_handler, IOLoop.READ)
    return remove_handler


class PausingAccept:
    """A TCPServer mixin (``class EchoServer(PausingAccept, TCPServer)``, HTTPServer alike): its
    listeners accept through add_accept_handler above, so running out of descriptors neither spins
    nor floods the log."""

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        # TCPServer.add_sockets, but with our accept handler; stop() reads the same two tables.
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = add_accept_handler(sock, self._handle_connection)


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
