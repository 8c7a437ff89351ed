"""Blocking server models on the stdlib's socketserver: ``--model threaded`` and ``--model iterative``.

These are the designs tutorials start from, kept beside the event loop to show what it buys.
``iterative`` serves one client at a time in the main thread: while one client is connected, the
others wait in the listen queue (the divergences in conformance/SPEC.md say which clauses that
breaks). ``threaded`` gives each client a thread of its own, so a blocking ``recv`` or ``sendall``
stalls only that client; the price is a thread, with its stack, per connection.

Interface, for any behaviour: write a ``socketserver.BaseRequestHandler`` whose ``handle()`` serves
one connection with plain blocking calls on ``self.request`` and returns when the client is done,
then call ``serve_blocking(config, HandlerClass, threaded=True)`` from the behaviour's
``main(config)``. It binds ``config.host:config.ports[0]``, announces READY, and serves until SIGINT
or SIGTERM (the launch contract). An OSError inside a handler (a client that reset) ends only that
connection, without a traceback. On stop every open connection is shut down, which wakes the
threads blocked on it, and the function returns. Which behaviours each model serves is listed in
netrosetta/registry.py; the launcher refuses the others (one line on stderr, exit status 2).
"""

from __future__ import annotations

import errno
import logging
import socket
import socketserver
import sys
import threading
import time

from impl_raw.loop import ACCEPT_PAUSE
from netrosetta.launch import Config, Stop, UsageError, cannot_listen, ready, stop_on_signals
from netrosetta.registry import BACKLOG

log = logging.getLogger("impl_raw.blocking")



class BlockingServer(socketserver.TCPServer):
    """A TCPServer that knows its open connections, so stopping can close them all."""

    allow_reuse_address = True  # restarting must not wait out TIME_WAIT on the port
    request_queue_size = BACKLOG

    def __init__(
        self, address: tuple[str, int], handler_class: type[socketserver.BaseRequestHandler]
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.out_since: float | None = None  # when accept() last ran out of descriptors
        super().__init__(address, handler_class)

    def get_request(self) -> tuple[socket.socket, object]:
        try:
            sock, address = super().get_request()
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE):
                self.out_of_files()
            raise  # serve_forever skips this round, and selects on the listener again
        if self.out_since is not None:
            log.warning("accepting clients again after %.1fs out of file descriptors",
                        time.monotonic() - self.out_since)
            self.out_since = None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.connections_lock:
            self.connections.add(sock)
        return sock, address

    def out_of_files(self) -> None:
        """No descriptor for a new client: log once per episode, and wait before trying again.

        The listener stays readable while clients queue, so serve_forever would retry at once,
        spinning a core; this thread has nothing else to do, so it sleeps (SPEC L12).
        """
        if self.out_since is None:
            self.out_since = time.monotonic()
            log.warning("out of file descriptors: new clients wait in the listen queue "
                        "(retrying every %.1fs)", ACCEPT_PAUSE)
        time.sleep(ACCEPT_PAUSE)

    def shutdown_request(self, request: socket.socket) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: socket.socket, client_address: object) -> None:
        """A stop signal must end the server; a client's socket error ends only that client."""
        error = sys.exc_info()[1]
        if isinstance(error, Stop):
            raise error  # iterative: the signal arrived while the main thread served a client
        if isinstance(error, OSError):
            log.debug("client %s: %s", client_address, error)
            return
        log.exception("error while serving %s", client_address)

    def close_connections(self) -> None:
        """Shut down every open connection: threads blocked in recv or sendall on it wake up."""
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class ThreadingBlockingServer(socketserver.ThreadingMixIn, BlockingServer):
    """One thread per client. Daemon threads: a client's thread never holds up the exit."""

    daemon_threads = True


def serve_blocking(
    config: Config, handler_class: type[socketserver.BaseRequestHandler], threaded: bool = True
) -> None:
    """Serve ``handler_class`` on config.host:config.ports[0] until SIGINT or SIGTERM."""
    if config.loop != "default":
        raise UsageError(f"--loop {config.loop} applies to the event-loop model, not --model {config.model}")
    server_class = ThreadingBlockingServer if threaded else BlockingServer
    try:
        server = server_class((config.host, config.ports[0]), handler_class)
    except OSError as error:
        cannot_listen(config.host, config.ports[0], error)
    # The default handler raises Stop in the main thread, which unwinds serve_forever (or, in the
    # iterative model, the handler it is running) wherever it is blocked. It goes in before READY,
    # so a supervisor may signal the server the moment it reads READY.
    stop_on_signals()
    ready([server.server_address[:2]])
    try:
        server.serve_forever()
    finally:
        server.close_connections()
        server.server_close()
