"""A small event loop on ``selectors``: the machinery Twisted's reactor and Tornado's IOLoop hide.

Strategy: one selector watches every socket; each registration carries a reader and a writer
callback, and ``run`` calls whichever the selector reports ready. Timers live in a heap, and the
time to the earliest one is the selector's timeout. A socketpair wakes the selector when a signal
handler asks the loop to stop (the classic self-pipe trick: Python retries an interrupted
``select`` by itself, so setting a flag alone would not end the wait).

Connections never call ``send`` blindly: they keep an output buffer and ask for write readiness
only while it is non-empty, or the loop would spin on an always-writable socket.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import selectors
import socket
import time
from collections.abc import Callable

log = logging.getLogger("impl_raw.loop")

SELECTORS: dict[str, type[selectors.BaseSelector]] = {
    "default": selectors.DefaultSelector,
    "select": selectors.SelectSelector,
    "poll": getattr(selectors, "PollSelector", selectors.SelectSelector),
    "epoll": getattr(selectors, "EpollSelector", selectors.DefaultSelector),
}

# select(2) takes bit sets of FD_SETSIZE bits: a descriptor at or above it cannot be watched at all.
FD_SETSIZE = 1024

# Listen backlog: 1,000 clients may connect in one burst; the kernel caps this at somaxconn.
BACKLOG = 1024

# After EMFILE, stop accepting for this long instead of spinning on a listener that stays readable.
ACCEPT_PAUSE = 0.1

Callback = Callable[[], None]


class Timer:
    """A scheduled call; ``cancel()`` it before it fires and it never will."""

    def __init__(self, when: float, callback: Callback) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class EventLoop:
    """Callbacks on readable/writable sockets, timers, and a wake-up for stopping."""

    def __init__(self, name: str = "default") -> None:
        self.name = name
        self.selector = SELECTORS[name]()
        self.max_fd = FD_SETSIZE if isinstance(self.selector, selectors.SelectSelector) else None
        self._timers: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._running = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self.add_reader(self._wake_reader, self._drain_wakeups)

    # -- registration: one selector key per socket, carrying [on_readable, on_writable] --------

    def _update(self, sock: socket.socket, index: int, callback: Callback | None) -> None:
        if sock.fileno() == -1:
            return  # closed (and forgotten) already: a late call from the same callback is harmless
        try:
            key = self.selector.get_key(sock)
        except KeyError:
            if callback is None:
                return
            callbacks: list[Callback | None] = [None, None]
            callbacks[index] = callback
            self.selector.register(sock, self._mask(callbacks), callbacks)
            return
        callbacks = key.data
        # ==, not is: each ``conn.flush`` is a new bound method, equal to the one registered.
        # An unchanged interest then costs no modify system call.
        if callbacks[index] == callback:
            return
        callbacks[index] = callback
        mask = self._mask(callbacks)
        if mask:
            self.selector.modify(sock, mask, callbacks)
        else:
            self.selector.unregister(sock)

    @staticmethod
    def _mask(callbacks: list[Callback | None]) -> int:
        return (selectors.EVENT_READ if callbacks[0] else 0) | (
            selectors.EVENT_WRITE if callbacks[1] else 0
        )

    def add_reader(self, sock: socket.socket, callback: Callback) -> None:
        self._update(sock, 0, callback)

    def remove_reader(self, sock: socket.socket) -> None:
        self._update(sock, 0, None)

    def add_writer(self, sock: socket.socket, callback: Callback) -> None:
        self._update(sock, 1, callback)

    def remove_writer(self, sock: socket.socket) -> None:
        self._update(sock, 1, None)

    def forget(self, sock: socket.socket) -> None:
        """Stop watching a socket entirely (before closing it: a closed fd can't be unregistered)."""
        try:
            key = self.selector.unregister(sock)
        except (KeyError, ValueError):
            return
        # A callback later in this same round must see that the socket is gone.
        key.data[0] = key.data[1] = None

    def can_watch(self, sock: socket.socket) -> bool:
        """False when this selector cannot take the socket (select's FD_SETSIZE ceiling)."""
        return self.max_fd is None or sock.fileno() < self.max_fd

    # -- timers ----------------------------------------------------------------------------

    def call_later(self, delay: float, callback: Callback) -> Timer:
        timer = Timer(time.monotonic() + delay, callback)
        heapq.heappush(self._timers, (timer.when, next(self._sequence), timer))
        return timer

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()

    def _timeout(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        if not self._timers:
            return None
        return max(0.0, self._timers[0][0] - time.monotonic())

    # -- running and stopping --------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop; safe to call from a signal handler."""
        self._running = False
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass  # the pipe is full: a wake-up is already pending

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def run(self) -> None:
        """The whole loop: wait for readiness or the next timer, then call what is due."""
        self._running = True
        while self._running:
            for key, mask in self.selector.select(self._timeout()):
                on_readable = key.data[0]
                # Each callback may close the socket or change its interest: re-check.
                if mask & selectors.EVENT_READ and on_readable is not None:
                    on_readable()
                if mask & selectors.EVENT_WRITE and key.data[1] is not None:
                    key.data[1]()
            self._run_due_timers()

    def close(self) -> None:
        """Close every socket the loop still watches, and the selector itself."""
        for key in list(self.selector.get_map().values()):
            self.forget(key.fileobj)
            key.fileobj.close()
        self.selector.close()
        self._wake_writer.close()


def listen(
    loop: EventLoop,
    host: str,
    port: int,
    on_connection: Callable[[socket.socket], None],
) -> socket.socket:
    """Bind a non-blocking listening socket and hand every accepted client to ``on_connection``.

    Raises OSError when the address cannot be bound; the caller reports it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Restarting a server must not wait out TIME_WAIT on its port.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(BACKLOG)
    except OSError:
        listener.close()
        raise
    listener.setblocking(False)

    def on_acceptable() -> None:
        # Accept everything queued: one wake-up per client would cost a select round each.
        while True:
            try:
                client, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    log.warning("out of file descriptors; pausing accept for %.1fs", ACCEPT_PAUSE)
                    loop.remove_reader(listener)
                    loop.call_later(ACCEPT_PAUSE, lambda: loop.add_reader(listener, on_acceptable))
                    return
                if error.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR):
                    continue  # the client gave up while queued; take the next one
                raise
            if not loop.can_watch(client):
                log.warning(
                    "refusing a client: fd %d is beyond select()'s FD_SETSIZE (%d); "
                    "use --loop poll or epoll for more clients",
                    client.fileno(), FD_SETSIZE,
                )
                client.close()
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            on_connection(client)

    loop.add_reader(listener, on_acceptable)
    return listener
