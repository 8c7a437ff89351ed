"""A small event loop on select(2), poll(2) or epoll(7): the machinery Twisted's reactor and Tornado's
IOLoop hide.

Strategy: a poller watches every socket's descriptor; each registration carries a reader and a
writer callback, and ``run`` calls whichever the poller reports ready. Timers live in a heap, and
the time to the earliest one is the poller's timeout. A socketpair wakes the poller when a signal
handler asks the loop to stop (the classic self-pipe trick: Python retries an interrupted wait by
itself, so setting a flag alone would not end it).

The three pollers answer the same question — which of these descriptors are ready? — at different
costs: select and poll hand the kernel the whole list on every call and the kernel scans it, so a
thousand idle connections slow every wake-up; epoll keeps the list in the kernel and returns only
the ready ones. select also cannot watch a descriptor numbered FD_SETSIZE or above.

Connections never call ``send`` blindly: they keep an output buffer and ask for write readiness
only while it is non-empty, or the loop would spin on an always-writable socket.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import math
import select
import socket
import time
from collections.abc import Callable, Iterable

from netrosetta.registry import BACKLOG

log = logging.getLogger("impl_raw.loop")

# Interest and readiness bits: POLLIN and POLLOUT, the same values as epoll's EPOLLIN and EPOLLOUT.
# Any other bit a poller reports (an error, a hang-up) wakes both callbacks: each finds out what
# happened from its own recv or send.
READ, WRITE = 0x001, 0x004
WAKES_READER, WAKES_WRITER = ~WRITE, ~READ

# select(2) takes bit sets of FD_SETSIZE bits: a descriptor at or above it cannot be watched at all.
FD_SETSIZE = 1024

# After EMFILE, stop accepting for this long instead of spinning on a listener that stays readable.
ACCEPT_PAUSE = 0.1

Callback = Callable[[], None]


# -- pollers: register(fd, mask), modify, unregister, and poll(timeout) -> [(fd, events)] --------

class SelectPoller:
    """select(2): the interest sets go to the kernel, and are scanned, on every call."""

    max_fd: int | None = FD_SETSIZE

    def __init__(self) -> None:
        self.readers: set[int] = set()
        self.writers: set[int] = set()

    def register(self, fd: int, mask: int) -> None:
        (self.readers.add if mask & READ else self.readers.discard)(fd)
        (self.writers.add if mask & WRITE else self.writers.discard)(fd)

    modify = register

    def unregister(self, fd: int) -> None:
        self.readers.discard(fd)
        self.writers.discard(fd)

    def poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        readable, writable, _ = select.select(self.readers, self.writers, [], timeout)
        events = dict.fromkeys(readable, READ)
        for fd in writable:
            events[fd] = events.get(fd, 0) | WRITE
        return events.items()

    def close(self) -> None:
        pass


class PollPoller:
    """poll(2): one array of (fd, interest), any descriptor number, still scanned on every call."""

    max_fd: int | None = None

    def __init__(self) -> None:
        self.poller = select.poll()
        self.register = self.modify = self.poller.register  # registering again modifies
        self.unregister = self.poller.unregister

    def poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        # Milliseconds, rounded up: waking a hair before the next timer would spin until it is due.
        return self.poller.poll(None if timeout is None else math.ceil(timeout * 1000))

    def close(self) -> None:
        pass


class EpollPoller:
    """epoll(7): the interest list lives in the kernel, and a wait returns only what is ready."""

    max_fd: int | None = None

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.register, self.modify = self.epoll.register, self.epoll.modify
        self.unregister = self.epoll.unregister
        # Python's epoll.poll takes seconds (None: no timeout) and rounds up to whole milliseconds
        # itself, as the loop needs: called directly, without a Python frame in every round.
        self.poll = self.epoll.poll

    def close(self) -> None:
        self.epoll.close()


POLLERS: dict[str, type[SelectPoller | PollPoller | EpollPoller]] = {"select": SelectPoller}
if hasattr(select, "poll"):
    POLLERS["poll"] = PollPoller
if hasattr(select, "epoll"):
    POLLERS["epoll"] = EpollPoller
# The best this system has: epoll on Linux, poll on other Unixes.
POLLERS["default"] = POLLERS.get("epoll") or POLLERS.get("poll") or SelectPoller


class Timer:
    """A scheduled call; ``cancel()`` it before it fires and it never will."""

    def __init__(self, when: float, callback: Callback, loop: EventLoop) -> None:
        self.when = when
        self.callback: Callback | None = callback
        self.loop: EventLoop | None = loop  # None once out of the loop's heap
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            # A cancelled timer waits in the heap until its time: it must not keep alive what it
            # would have called (a whole connection, for an idle timeout a minute away).
            self.callback = None
            if self.loop is not None:
                self.loop._timer_cancelled()


class EventLoop:
    """Callbacks on readable/writable sockets, timers, and a wake-up for stopping."""

    def __init__(self, name: str = "default") -> None:
        # --loop poll or epoll where the system lacks it: the best one it has.
        self.poller = POLLERS.get(name, POLLERS["default"])()
        self.max_fd = self.poller.max_fd
        # fd -> [on_readable, on_writable, socket]: one entry per watched socket.
        self._handlers: dict[int, list] = {}
        self._timers: list[tuple[float, int, Timer]] = []
        # The clock, read once per round (after the poller returns): callbacks and timers take their
        # time from here, as libuv and nginx do, because each read of the clock costs a call.
        self.now = time.monotonic()
        self._cancelled = 0  # cancelled timers still in the heap
        self._sequence = itertools.count()
        # Set by stop(), which a signal may call at any moment, even before run(): a stop asked for
        # between READY and the loop's start must not be lost (SPEC L5, L6).
        self._stopping = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self.add_reader(self._wake_reader, self._drain_wakeups)

    # -- registration: one entry per socket, carrying [on_readable, on_writable, socket] --------

    def _update(self, sock: socket.socket, index: int, callback: Callback | None) -> None:
        fd = sock.fileno()
        if fd == -1:
            return  # closed (and forgotten) already: a late call from the same callback is harmless
        handlers = self._handlers.get(fd)
        if handlers is None:
            if callback is None:
                return
            handlers = self._handlers[fd] = [None, None, sock]
            handlers[index] = callback
            self.poller.register(fd, READ if index == 0 else WRITE)
            return
        # ==, not is: each ``conn.flush`` is a new bound method, equal to the one registered.
        # An unchanged interest then costs no system call.
        if handlers[index] == callback:
            return
        handlers[index] = callback
        mask = (READ if handlers[0] else 0) | (WRITE if handlers[1] else 0)
        if mask:
            self.poller.modify(fd, mask)
        else:
            self.forget(sock)

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
        handlers = self._handlers.pop(sock.fileno(), None)
        if handlers is None:
            return
        self.poller.unregister(sock.fileno())
        # A callback later in this same round must see that the socket is gone.
        handlers[0] = handlers[1] = None

    def can_watch(self, sock: socket.socket) -> bool:
        """False when this poller cannot take the socket (select's FD_SETSIZE ceiling)."""
        return self.max_fd is None or sock.fileno() < self.max_fd

    # -- timers ----------------------------------------------------------------------------

    def call_later(self, delay: float, callback: Callback) -> Timer:
        timer = Timer(self.now + delay, callback, self)
        heapq.heappush(self._timers, (timer.when, next(self._sequence), timer))
        return timer

    def _timer_cancelled(self) -> None:
        self._cancelled += 1
        # Sweep the cancelled out once they are most of the heap: a server that cancels a timer per
        # connection would otherwise hold a minute's worth of them.
        if self._cancelled > 64 and 2 * self._cancelled > len(self._timers):
            # In place: run() holds the list.
            self._timers[:] = [entry for entry in self._timers if not entry[2].cancelled]
            heapq.heapify(self._timers)
            self._cancelled = 0

    def _run_due_timers(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, timer = heapq.heappop(timers)
            if timer.cancelled:
                self._cancelled -= 1
            else:
                timer.loop = None
                timer.callback()

    # -- running and stopping --------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop, now or as soon as it runs; safe to call from a signal handler."""
        self._stopping = True
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
        handlers, timers, poll = self._handlers, self._timers, self.poller.poll
        self.now = now = time.monotonic()
        while not self._stopping:
            # Sleep until a socket is ready or the earliest timer is due, counted from the round's
            # clock (so a timer may fire as late as the round took, never early). A cancelled timer
            # waits in the heap until its time like the others (the sweep aside): waking for it
            # once costs less than looking for it every round.
            if timers:
                timeout = timers[0][0] - now
                if timeout < 0:
                    timeout = 0.0
            else:
                timeout = None
            ready = poll(timeout)
            self.now = now = time.monotonic()
            for fd, events in ready:
                callbacks = handlers.get(fd)
                if callbacks is None:
                    continue  # forgotten by a callback earlier in this round
                # Each callback may close the socket or change its interest: re-check.
                if events & WAKES_READER and callbacks[0] is not None:
                    callbacks[0]()
                if events & WAKES_WRITER and callbacks[1] is not None:
                    callbacks[1]()
            if timers and timers[0][0] <= now:
                self._run_due_timers(now)

    def close(self) -> None:
        """Close every socket the loop still watches, and the poller itself."""
        for _, _, sock in list(self._handlers.values()):
            self.forget(sock)
            sock.close()
        self.poller.close()
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
    # When the process ran out of descriptors (None: it has not): one log line per episode, not per
    # retry, and one when accepting works again (SPEC L12).
    out_since: float | None = None

    def on_acceptable() -> None:
        nonlocal out_since
        # Accept everything queued: one wake-up per client would cost a select round each.
        while True:
            try:
                client, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    if out_since is None:
                        out_since = time.monotonic()
                        log.warning("out of file descriptors: new clients wait in the listen queue "
                                    "(retrying every %.1fs)", ACCEPT_PAUSE)
                    loop.remove_reader(listener)
                    loop.call_later(ACCEPT_PAUSE, lambda: loop.add_reader(listener, on_acceptable))
                    return
                if error.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR):
                    continue  # the client gave up while queued; take the next one
                raise
            if out_since is not None:
                log.warning("accepting clients again after %.1fs out of file descriptors",
                            time.monotonic() - out_since)
                out_since = None
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
