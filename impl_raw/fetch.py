"""fetch on raw non-blocking sockets and impl_raw's own event loop: many URLs at once (SPEC.md, section F).

The tutorial's hand-written async client, done right: ``connect`` without blocking and read the
outcome from ``SO_ERROR`` once the socket turns writable, send with an output buffer (a partial
send keeps the rest), a pool of at most N connections reused per origin (keep-alive, one request
at a time), a timer per request, and a retry for the keep-alive race. The HTTP rules of an answer
are impl_raw/response.py's (a sans-IO parser, written by hand beside the request parser); what to
print, and in which order, is netrosetta/fetching.py's.
"""

import errno
import hashlib
import logging
import socket
import sys
import time
from collections import deque

from impl_raw import IMPLEMENTATION
from impl_raw.loop import EventLoop, Timer
from impl_raw.response import Data, EndOfMessage, Error, Response, ResponseParser
from netrosetta.fetching import REFUSED, TIMEOUT, Results, Target, stop_on_signals
from netrosetta.launch import Config, run

log = logging.getLogger("impl_raw.fetch")

# An answer's bytes are read in slices this big: a small answer in one call, a large one without
# a system call per few kilobytes.
READ_SIZE = 256 * 1024
REQUEST = "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
# connect() on a non-blocking socket answers at once only when it fails at once; the usual answer is
# "in progress", and the outcome comes later, in SO_ERROR, when the socket turns writable.
IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, 0)


class Job:
    """One URL: what to ask for, and whether it was already retried."""

    __slots__ = ("index", "target", "origin", "started", "retried")

    def __init__(self, index: int, target: Target) -> None:
        self.index = index
        self.target = target
        self.origin = target.origin
        self.started = False
        self.retried = False


class FetchConnection:
    """One connection to one origin, carrying one request at a time, as many in a row as it lasts."""

    def __init__(self, pool: "FetchPool", origin: tuple[str, int], address: tuple) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.origin = origin
        self.sock = socket.socket(address[0], socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connected = False
        self.closed = False
        self.requests = 0  # requests started on this connection: from the second on, it is reused
        self.job: Job | None = None
        self.parser: ResponseParser | None = None
        self.response: Response | None = None
        self.outgoing = b""
        self.received = False  # any byte of the current answer: after one, no retry
        self.length = 0
        self.digest = None
        self.started_at = 0.0
        self.timer: Timer | None = None
        code = self.sock.connect_ex(address[1])
        if code not in IN_PROGRESS:
            self.pool.loop.call_later(0, lambda: self.connect_failed(code))
            return
        self.loop.add_writer(self.sock, self.on_connected)

    # -- connecting --------------------------------------------------------------------------

    def on_connected(self) -> None:
        """Writable after connect(): SO_ERROR says whether the connection was made."""
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.connect_failed(code)
            return
        self.connected = True
        self.loop.add_reader(self.sock, self.on_readable)
        self.flush()

    def connect_failed(self, code: int) -> None:
        if self.job is not None and not self.closed:
            log.info("%s: cannot connect: %s", self.job.target.url, errno.errorcode.get(code, code))
            self.fail(REFUSED)

    # -- one request -----------------------------------------------------------------------

    def start(self, job: Job) -> None:
        """Send ``job``'s request; its clock starts now, on this connection (or its opening)."""
        job.started = True
        self.job = job
        self.requests += 1
        self.parser = ResponseParser(self.pool.max_body)
        self.response = None
        self.received = False
        self.length = 0
        self.digest = hashlib.sha256() if self.pool.as_json else None
        self.started_at = time.monotonic()
        self.timer = self.loop.call_later(self.pool.timeout, self.on_timeout)
        target = job.target
        self.outgoing = (REQUEST % (target.target, target.host_header)).encode("ascii")
        if self.connected:
            self.flush()

    def flush(self) -> None:
        """Send what the kernel takes; keep the rest and ask to be woken when it can take more."""
        try:
            sent = self.sock.send(self.outgoing)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.lost()
            return
        self.outgoing = self.outgoing[sent:]
        if self.outgoing:
            self.loop.add_writer(self.sock, self.flush)
        else:
            self.loop.remove_writer(self.sock)

    def on_readable(self) -> None:
        """Feed what arrived to the parser; an idle connection only ever hears its closing."""
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # reset: the same as a close, for what it means to the request
        if not data:
            self.lost()
            return
        if self.job is None:
            self.close()  # bytes nobody asked for: this connection cannot be trusted any more
            return
        self.received = True
        for event in self.parser.feed(data):
            event_type = type(event)
            if event_type is Data:
                self.length += len(event.data)
                if self.digest is not None:
                    self.digest.update(event.data)
            elif event_type is Response:
                self.response = event
            elif event_type is EndOfMessage:
                self.complete()
                return
            elif event_type is Error:
                log.info("%s: %s", self.job.target.url, event.reason)
                self.fail(event.kind)
                return

    def lost(self) -> None:
        """The peer closed or reset the connection: the end of a body read to the close, a retry for
        a request that got no byte on a reused connection (the server closed it as we sent), else a
        reset."""
        job = self.job
        if job is None:
            self.close()  # an idle connection the server closed: drop it from the pool
            self.pool.finished()
            return
        if not self.received and self.requests > 1 and not job.retried:
            log.info("%s: the kept-alive connection was closed; retrying on a new one", job.target.url)
            job.retried = True
            self.job = None
            self.close()
            self.pool.retry(job)
            return
        for event in self.parser.eof():
            if type(event) is EndOfMessage:
                self.complete()
                return
            self.fail(event.kind)
            return

    def on_timeout(self) -> None:
        self.timer = None
        if self.job is not None:
            self.fail(TIMEOUT)

    def complete(self) -> None:
        """The whole answer is in: print it (in its turn), then reuse or close the connection."""
        job, response = self.job, self.response
        self.job = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        digest = self.digest.hexdigest() if self.digest is not None else ""
        self.pool.results.fetched(job.index, response.status, response.reason, response.headers,
                                  self.length, digest, time.monotonic() - self.started_at)
        if response.keep_alive and not self.parser.leftover:
            self.pool.release(self)
        else:
            self.close()
            self.pool.finished()

    def fail(self, kind: str) -> None:
        job = self.job
        self.job = None
        self.pool.results.failed(job.index, kind, time.monotonic() - self.started_at)
        self.close()
        self.pool.finished()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.loop.forget(self.sock)
        self.sock.close()
        self.pool.closed(self)


class FetchPool:
    """At most N connections open at once, idle ones kept per origin; URLs wait in input order."""

    def __init__(self, loop: EventLoop, results: Results, config: Config) -> None:
        self.loop = loop
        self.results = results
        self.limit = config.concurrency
        self.timeout = config.timeout
        self.max_body = config.max_body
        self.as_json = config.json
        self.waiting: deque[Job] = deque()  # every job not started yet, in input order...
        self.waiting_for: dict[tuple, deque[Job]] = {}  # ...and the same jobs per origin
        self.idle: dict[tuple, list[FetchConnection]] = {}
        self.open = 0  # connections open or opening
        self.addresses: dict[tuple, tuple | None] = {}

    def add(self, job: Job) -> None:
        self.waiting.append(job)
        self.waiting_for.setdefault(job.origin, deque()).append(job)

    def retry(self, job: Job) -> None:
        """Put a job back at the front: it goes out next, on a new connection."""
        job.started = False
        self.waiting.appendleft(job)
        self.waiting_for.setdefault(job.origin, deque()).appendleft(job)
        self.dispatch()

    def dispatch(self) -> None:
        """Start waiting jobs, in input order, while a connection is idle or may be opened."""
        waiting = self.waiting
        while waiting:
            job = waiting[0]
            if job.started:
                waiting.popleft()  # started by a connection of its origin, out of turn
                continue
            idle = self.idle.get(job.origin)
            if idle:
                connection = idle.pop()  # the most recently used: the least likely to be closed
            else:
                if self.open >= self.limit and not self.evict():
                    return  # every connection is busy: the next one to finish calls us again
                connection = self.connect(job)
                if connection is None:
                    continue
            waiting.popleft()
            connection.start(job)

    def evict(self) -> bool:
        """Close an idle connection to another origin, to make room under the cap."""
        for connections in self.idle.values():
            if connections:
                connections.pop().close()
                return True
        return False

    def connect(self, job: Job) -> FetchConnection | None:
        """A new connection for ``job``'s origin, or None (and the job failed) if it has no address."""
        address = self.address(job.origin)
        if address is None:
            self.waiting.popleft()
            job.started = True
            self.results.failed(job.index, REFUSED)
            if self.results.complete:
                self.loop.stop()
            return None
        self.open += 1
        return FetchConnection(self, job.origin, address)

    def address(self, origin: tuple[str, int]) -> tuple | None:
        """(family, sockaddr) of an origin, resolved once. getaddrinfo blocks the loop while a name
        resolves: the frameworks hand it to a thread pool; an IP address resolves at once."""
        if origin not in self.addresses:
            try:
                family, _, _, _, sockaddr = socket.getaddrinfo(*origin, type=socket.SOCK_STREAM)[0]
            except OSError as error:
                log.info("cannot resolve %s: %s", origin[0], error)
                self.addresses[origin] = None
            else:
                self.addresses[origin] = (family, sockaddr)
        return self.addresses[origin]

    def release(self, connection: FetchConnection) -> None:
        """A connection is free: the next job for its origin takes it, or it waits in the pool."""
        waiting = self.waiting_for.get(connection.origin)
        while waiting:
            job = waiting.popleft()
            if not job.started:
                connection.start(job)
                return
        self.idle.setdefault(connection.origin, []).append(connection)
        self.finished()

    def closed(self, connection: FetchConnection) -> None:
        self.open -= 1
        idle = self.idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)

    def finished(self) -> None:
        """A job ended or a connection came free: stop when every URL is done, else start more."""
        if self.results.complete:
            self.loop.stop()
        else:
            self.dispatch()


def fetch(loop: EventLoop, results: Results, config: Config) -> FetchPool:
    """Queue every URL on a pool of at most --concurrency connections, and start the first ones."""
    pool = FetchPool(loop, results, config)
    for index, target in results.targets():
        pool.add(Job(index, target))
    pool.dispatch()
    return pool


def main(config: Config) -> int:
    """Fetch every URL, print one line each in input order; the exit status (SPEC.md, F2 and F6)."""
    loop = EventLoop(config.loop)
    results = Results(list(config.urls), config.json)
    stop_on_signals(results, loop.stop)
    fetch(loop, results, config)
    if not results.complete:
        loop.run()
    loop.close()
    return results.finish()


if __name__ == "__main__":
    run(IMPLEMENTATION, ["fetch", *sys.argv[1:]])
