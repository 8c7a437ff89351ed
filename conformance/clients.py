"""Client-side helpers for the echo, multiport and launch clauses: non-blocking pumps, many sockets.

Every wait is bounded, and measured from the last progress rather than from the start, so a server
that is slow under load still passes while one that has stopped answering fails in seconds. No
sleeps as synchronisation: we wait on the socket (selectors) or poll /proc with a deadline.
"""

from __future__ import annotations

import concurrent.futures
import os
import resource
import selectors
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable

from netrosetta_conformance.harness import IO_TIMEOUT, Server, failure

KIB = 1024
MIB = 1024 * KIB


def raise_own_fd_limit() -> None:
    """Let the test process itself hold 1,000+ sockets (the soft limit is often 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def pump(
    sock: socket.socket,
    chunks: Iterable[bytes],
    *,
    expect: int | None = None,
    shut_wr: bool = False,
    timeout: float = IO_TIMEOUT,
) -> tuple[bytes, bool]:
    """Send ``chunks`` (one send call each, as far as the kernel allows) while reading what comes back.

    An empty chunk is a barrier: wait until everything sent so far has come back before sending
    more, which forces the next chunk into segments of its own. With ``shut_wr`` the sending side
    is shut down after the last chunk. Returns (bytes received, True if the peer closed) once the
    peer closes, or ``expect`` bytes have arrived (when not waiting for EOF), or nothing moved for
    ``timeout`` seconds.
    """
    pending = deque(chunks)
    current = memoryview(b"")
    sent = 0
    received = bytearray()
    closed = shut = False
    selector = selectors.DefaultSelector()
    sock.setblocking(False)
    selector.register(sock, selectors.EVENT_READ)
    last_progress = time.monotonic()
    try:
        while not closed:
            while not current and pending:
                if pending[0] == b"":
                    if len(received) < sent:
                        break
                    pending.popleft()
                    continue
                current = memoryview(pending.popleft())
            if not current and not pending:
                if shut_wr and not shut:
                    sock.shutdown(socket.SHUT_WR)
                    shut = True
                if not shut_wr and expect is not None and len(received) >= expect:
                    break
            idle = time.monotonic() - last_progress
            if idle > timeout:
                break
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if current else 0)
            selector.modify(sock, events)
            for _, mask in selector.select(min(0.5, timeout - idle)):
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(MIB)
                    except BlockingIOError:
                        data = None
                    except ConnectionResetError:
                        data = b""
                    if data == b"":
                        closed = True
                    elif data:
                        received += data
                        last_progress = time.monotonic()
                if mask & selectors.EVENT_WRITE and current and not closed:
                    try:
                        count = sock.send(current[:MIB])
                    except BlockingIOError:
                        count = 0
                    except (BrokenPipeError, ConnectionResetError):
                        current, pending = memoryview(b""), deque()  # the peer is gone: stop sending
                        continue
                    current = current[count:]
                    sent += count
                    last_progress = time.monotonic()
    finally:
        selector.close()
        if sock.fileno() != -1:
            sock.setblocking(True)
    return bytes(received), closed


def fill(sock: socket.socket, stream: Stream, limit: int, idle: float = 1.0) -> int:
    """Send without reading until the peer stops taking data for ``idle`` seconds or ``limit`` is sent.

    The bytes come from ``stream``, which is left positioned after the last byte actually sent.
    Returns the number of bytes sent. A server with backpressure stops reading, so the kernel's
    buffers fill and sending blocks; one without backpressure keeps reading, and all of ``limit``
    goes through.
    """
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_WRITE)
    sent = 0
    chunk = memoryview(b"")
    try:
        while sent < limit:
            if not chunk:
                chunk = memoryview(stream.next(min(MIB, limit - sent)))
            if not selector.select(idle):
                break
            try:
                count = sock.send(chunk)
            except BlockingIOError:
                continue
            chunk = chunk[count:]
            sent += count
    finally:
        selector.close()
        sock.setblocking(True)
        stream.write_offset -= len(chunk)  # taken from the stream but never sent
    return sent


def stream_through(sock: socket.socket, outgoing: Stream, limit: int, incoming: Stream, expect: int,
                   sample: Callable[[], None] = lambda: None) -> int:
    """Full duplex on one socket: send the rest of ``outgoing`` (up to ``limit`` bytes in all) while
    reading what comes back and checking it against ``incoming``.

    Stops once ``expect`` bytes have come back, at EOF, or after IO_TIMEOUT without progress.
    ``sample()`` runs every 16 MiB received (the memory clauses read the server's RSS there).
    Returns the bytes received; ``incoming.mismatch`` tells whether they were the right ones.
    """
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    chunk = memoryview(b"")
    received = next_sample = 0
    last_progress = time.monotonic()
    try:
        while received < expect and time.monotonic() - last_progress < IO_TIMEOUT:
            if outgoing.write_offset >= limit and not chunk:
                selector.modify(sock, selectors.EVENT_READ)  # all sent: wait for the rest to return
            for _, mask in selector.select(0.5):
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(MIB)
                    except BlockingIOError:
                        data = None
                    if data == b"":
                        return received  # closed early
                    if data:
                        incoming.check(data)
                        received += len(data)
                        last_progress = time.monotonic()
                if mask & selectors.EVENT_WRITE and (chunk or outgoing.write_offset < limit):
                    if not chunk:
                        chunk = memoryview(outgoing.next(min(MIB, limit - outgoing.write_offset)))
                    try:
                        chunk = chunk[sock.send(chunk):]
                    except BlockingIOError:
                        pass
            if received >= next_sample:
                sample()
                next_sample = received + 16 * MIB
    finally:
        selector.close()
        sock.setblocking(True)
    return received


class Stream:
    """A long, reproducible byte stream made of numbered units, checked piece by piece as it returns.

    ``make(i)`` gives unit i, always ``size`` bytes long. By default a unit is its number (8 bytes)
    followed by one random MiB's tail, so a unit returned out of order or twice cannot pass for the
    right one.
    """

    def __init__(self, make: Callable[[int], bytes] | None = None, size: int = MIB) -> None:
        if make is None:
            base = os.urandom(size)

            def make(index: int) -> bytes:
                return struct.pack(">Q", index) + base[8:]

        self.make = make
        self.size = size
        self._units: dict[int, memoryview] = {}  # the last few units made: reads are smaller than units
        self.write_offset = 0
        self.check_offset = 0
        self.mismatch: int | None = None

    def _bytes(self, offset: int, size: int) -> bytes:
        pieces = []
        while size > 0:
            index, start = divmod(offset, self.size)
            piece = self._unit(index)[start:start + size]
            pieces.append(piece)
            offset += len(piece)
            size -= len(piece)
        return b"".join(pieces)

    def _unit(self, index: int) -> memoryview:
        unit = self._units.get(index)
        if unit is None:
            if len(self._units) >= 4:
                del self._units[min(self._units)]
            unit = self._units[index] = memoryview(self.make(index))
        return unit

    def next(self, size: int) -> bytes:
        """The next ``size`` bytes to send."""
        data = self._bytes(self.write_offset, size)
        self.write_offset += size
        return data

    def check(self, data: bytes) -> None:
        """Compare what came back with the stream at the same offset; remember the first mismatch."""
        if self.mismatch is None:
            expected = self._bytes(self.check_offset, len(data))
            if data != expected:
                first = next(i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b)
                self.mismatch = self.check_offset + first
        self.check_offset += len(data)


def one_after_another(serve_one: Callable[[int], None], first: int, count: int, workers: int = 8) -> None:
    """Run ``serve_one(index)`` for ``count`` indices from ``first``, ``workers`` connections at a time
    (each call opens its own connection, is served, and closes it); the first failure is raised."""
    share = count // workers
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        runs = [pool.submit(lambda start: [serve_one(i) for i in range(start, start + share)],
                            first + worker * share) for worker in range(workers)]
        for run in runs:
            run.result()


def check_leaves_nothing_behind(server: Server, serve_one: Callable[[int], None], requirement: str,
                                sent: str, warm_up: int = 300, count: int = 3000,
                                bound: int = 8 * MIB) -> None:
    """Serve ``warm_up`` connections, then ``count`` more, one after another; assert that RSS grew
    by less than ``bound`` over its level after the warm-up, and that the open-file count comes
    back, within a few seconds, to its level before the first connection."""
    files_before = server.fd_count()
    one_after_another(serve_one, 0, warm_up)
    baseline = server.rss_bytes()
    one_after_another(serve_one, warm_up, count)
    growth = server.rss_bytes() - baseline
    assert growth < bound, failure(requirement, sent, f"RSS growth under {bound // MIB} MiB",
                                   f"RSS grew by {growth / MIB:.1f} MiB")
    closed = wait_until(lambda: server.fd_count() <= files_before, timeout=10)
    assert closed, failure(requirement, sent, f"open files back to {files_before}",
                           f"{server.fd_count()} open files")


def wait_until(predicate: Callable[[], bool], timeout: float = IO_TIMEOUT, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
