"""Client-side helpers for the echo, multiport and launch clauses: non-blocking pumps, many sockets.

Every wait is bounded, and measured from the last progress rather than from the start, so a server
that is slow under load still passes while one that has stopped answering fails in seconds. No
sleeps as synchronisation: we wait on the socket (selectors) or poll /proc with a deadline.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import resource
import selectors
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from netrosetta_conformance.harness import IO_TIMEOUT, Server, failure, recv_exactly

KIB = 1024
MIB = 1024 * KIB
# E10, M14: how fast a client that half-closed with data owed reads it back (slower than any server
# sends, on a quiet machine).
HALF_CLOSE_READ_RATE = 16 * MIB


def raise_own_fd_limit() -> None:
    """Let the test process itself hold 1,000+ sockets (the soft limit is often 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect_small_window(server: Server, index: int = 0, size: int = 4 * KIB) -> socket.socket:
    """A connection whose receive buffer is ``size`` bytes (set before connecting, so the window the
    client advertises is small from the start): what the server sends soon waits on its side."""
    sock = socket.socket(socket.AF_INET6 if ":" in server.endpoint(index)[0] else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.settimeout(IO_TIMEOUT)
    sock.connect(server.endpoint(index))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_paced(sock: socket.socket, rate: float, timeout: float = IO_TIMEOUT) -> tuple[bytes, bool]:
    """Read until the peer closes, no faster than ``rate`` bytes a second: (data, True if it closed).

    A slow reader keeps the server's socket buffer full, so what the server still has to send
    waits in its own queue; a fast one may drain it as soon as it is written. ``timeout`` bounds the
    wait for each piece, so a server that has stopped sending fails in seconds.
    """
    chunks, got = [], 0
    start = time.monotonic()
    sock.settimeout(timeout)
    while True:
        try:
            chunk = sock.recv(64 * KIB)
        except TimeoutError:
            return b"".join(chunks), False
        except ConnectionResetError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        got += len(chunk)
        ahead = got / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)  # pacing on purpose, the way a slow client reads


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


# -- sessions: connections doing round trip after round trip, in threads, beside a scenario -------

# A round trip that fails returns what went wrong; None when it was answered right.
Round = Callable[[int], "str | None"]
SessionFactory = Callable[[], AbstractContextManager[Round]]

ROUND_PACE = 0.01  # seconds between a session's round trips: load, without saturating the client


class Sessions:
    """Connections doing round trip after round trip, each in a thread of its own, until stopped.

    ``open_session()`` opens a connection and gives a function doing round trip number N on it.
    ``progress[i]`` counts session i's good rounds; ``errors`` says what went wrong, if anything.
    """

    def __init__(self, open_session: SessionFactory) -> None:
        self.open_session = open_session
        self.done = threading.Event()
        self.progress: list[int] = []
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []

    def add(self, count: int) -> None:
        """Start ``count`` more sessions."""
        for _ in range(count):
            self.progress.append(0)
            self.threads.append(threading.Thread(target=self._run, args=(len(self.progress) - 1,),
                                                 daemon=True))
            self.threads[-1].start()

    def _run(self, index: int) -> None:
        try:
            with self.open_session() as round_trip:
                number = 0
                while not self.done.is_set():
                    error = round_trip(number)
                    if error:
                        self.errors.append(f"session {index}, round {number}: {error}")
                        return
                    number += 1
                    self.progress[index] = number
                    time.sleep(ROUND_PACE)  # pacing on purpose: steady load, not a flood
        except OSError as error:
            self.errors.append(f"session {index}: {error!r}")

    def go_on(self, rounds: int) -> list[int]:
        """Wait (bounded) until each session has done ``rounds`` more rounds than now, or one failed;
        return the sessions that did not."""
        then = list(self.progress)

        def behind() -> list[int]:
            return [index for index, (now, was) in enumerate(zip(self.progress, then, strict=True))
                    if now < was + rounds]

        wait_until(lambda: self.errors or not behind())
        return behind()

    def stop(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(IO_TIMEOUT)


# -- E11, M15, U19.5: a server stopped (SIGSTOP) under load, then continued ------------------------

FREEZE = 2.0  # seconds between SIGSTOP and SIGCONT


def check_stop_and_continue(server: Server, open_session: SessionFactory, requirement: str, what: str,
                            sessions: int = 16, late: int = 4) -> None:
    """Stop the server with SIGSTOP for FREEZE seconds while ``sessions`` connections do round trip
    after round trip, and ``late`` more connect and send during the stop; then SIGCONT. Every
    session must go on with no round trip lost or wrong and no connection dropped: each of them
    completes three more rounds after the SIGCONT."""
    sent = (f"{sessions} connections doing {what} round trips, SIGSTOP for {FREEZE:.0f} s, {late} "
            "more connections sending during the stop, SIGCONT")
    running = Sessions(open_session)
    stalled: list[int] = []
    try:
        running.add(sessions)
        slow = running.go_on(2)
        assert not slow and not running.errors, failure(
            requirement, f"before the stop: {sent}", "round trips answered",
            running.errors[:3] or f"rounds done: {running.progress}")
        os.kill(server.pid, signal.SIGSTOP)
        try:
            frozen_at = time.monotonic()
            running.add(late)
            time.sleep(max(0.0, FREEZE - (time.monotonic() - frozen_at)))  # the freeze itself
        finally:
            os.kill(server.pid, signal.SIGCONT)
        stalled = running.go_on(3)
    finally:
        running.stop()
    errors = running.errors
    assert not errors and not stalled, failure(
        requirement, sent, "every session answered right, three more rounds each after SIGCONT",
        f"{len(errors)} sessions failed: {errors[:3]}; stalled sessions: {stalled[:5]}")


# -- E12, M16, U19.6: a thousand clients that reset mid-answer --------------------------------------

ABRUPT = 1000  # clients that reset while the server is answering them
ABRUPT_AT_ONCE = 50  # of them connected at the same time
# Stderr growth allowed per abrupt client, beyond one line per request it sent: a line or two,
# never a traceback (which is ten lines or more).
LOG_LINES_PER_ABRUPT = 2


def check_abrupt_peers(server: Server, open_session: SessionFactory,
                       start_answer: Callable[[socket.socket], int], requirement: str, what: str,
                       sessions: int = 4) -> None:
    """ABRUPT clients, ABRUPT_AT_ONCE at a time, each sending what needs a long answer
    (``start_answer(sock)`` sends it and returns how many requests it holds), reading the first bytes
    of the answer, then resetting (SO_LINGER 0), while ``sessions`` connections do round trips.
    The sessions go on unharmed, the server's open-file count comes back to where it was, and its
    stderr grows by at most LOG_LINES_PER_ABRUPT lines per abrupt client beyond a line per request,
    with no traceback."""
    sent = (f"{ABRUPT} clients, {ABRUPT_AT_ONCE} at a time, each sending {what}, reading the answer's "
            f"first bytes and resetting, while {sessions} other connections do round trips")
    running = Sessions(open_session)
    try:
        running.add(sessions)
        slow = running.go_on(2)
        assert not slow and not running.errors, failure(
            requirement, f"before the resets: {sent}", "round trips answered",
            running.errors[:3] or f"rounds done: {running.progress}")
        files_before = server.fd_count()
        log_start = server.stderr_size()
        # Each round trip of the sessions may be logged too (an access log).
        requests = sessions - sum(running.progress)
        for _ in range(ABRUPT // ABRUPT_AT_ONCE):
            batch = [server.connect(index % len(server.ports)) for index in range(ABRUPT_AT_ONCE)]
            try:
                for sock in batch:
                    requests += start_answer(sock)
                for sock in batch:
                    sock.settimeout(IO_TIMEOUT)
                    with contextlib.suppress(OSError):
                        sock.recv(1024)  # the answer has begun: reset in the middle of it
            finally:
                for sock in batch:
                    reset(sock)
        stalled = running.go_on(3)
    finally:
        running.stop()
    requests += sum(running.progress)
    assert not running.errors and not stalled, failure(
        requirement, sent, "the other connections' round trips answered all along",
        f"{len(running.errors)} sessions failed: {running.errors[:3]}; stalled sessions: {stalled}")
    assert server.alive(), failure(requirement, sent, "the server still running",
                                   f"exit status {server.proc.returncode}")
    closed = wait_until(lambda: server.fd_count() <= files_before)
    assert closed, failure(requirement, sent, f"open files back to {files_before}",
                           f"{server.fd_count()} open files")
    log = server.stderr_since(log_start)
    bound = requests + LOG_LINES_PER_ABRUPT * ABRUPT
    lines = log.count("\n")
    assert lines <= bound and "Traceback" not in log, failure(
        requirement, sent, f"at most {bound} lines on stderr (one per request or round trip, "
        f"{LOG_LINES_PER_ABRUPT} per abrupt client), no traceback",
        f"{lines} lines, {len(log)} bytes, ending {log[-800:]!r}")


@contextlib.contextmanager
def byte_session(server: Server, message: Callable[[int], bytes],
                 answer: Callable[[socket.socket, bytes], bytes], index: int = 0,
                 same: Callable[[bytes, bytes], bool] = bytes.__eq__):
    """A session (see Sessions) on a raw connection: round N sends ``message(N)`` and
    expects ``answer(sock, message)`` back (as many bytes, ``same`` as it: equal by default)."""
    with server.connect(index) as sock:

        def round_trip(number: int) -> str | None:
            data = message(number)
            expect = answer(sock, data)
            sock.sendall(data)
            got = recv_exactly(sock, len(expect))
            if not same(got, expect):
                return (f"sent {len(data)} bytes, expected {len(expect)} back, got {len(got)} "
                        f"(equal prefix={got == expect[:len(got)]})")
            return None

        yield round_trip


# -- E13, U19.7: ten thousand connections at once ---------------------------------------------------

MANY = 10_000  # under --full
MANY_QUICK = 2_000  # in `make test`
# Connections connecting or waiting for their first answer at any moment: fewer than the listen
# queue holds (1,024), so no SYN is dropped and retried a second later.
MANY_IN_FLIGHT = 500


def check_many_connections(server: Server, count: int, message: Callable[[int, int], bytes],
                           answered: Callable[[int, int, bytes], bool | None], requirement: str,
                           what: str) -> None:
    """Open ``count`` connections, all held open at once, from one thread on a selector; on each, a
    round trip ``message(i, 1)``, then once all are open, a second one ``message(i, 2)`` on every
    connection at once. ``answered(i, round, received)`` says whether what connection i has
    received so far is its answer (True), is not yet complete (None), or is wrong (False).

    Both rounds are paced (MANY_IN_FLIGHT round trips at a time), so the listen queue never
    overflows; the second round, with every connection open, proves they are all held at once.
    Waits are bounded from the last progress.
    """
    raise_own_fd_limit()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count + 100:
        raise AssertionError(failure(requirement, what, f"an open-file limit of {count + 100} for the suite",
                                     f"the suite's hard limit is {soft}: raise it (ulimit -Hn)"))
    selector = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    received: list[bytearray] = []
    outgoing: list[memoryview] = []
    round_of: list[int] = []
    wrong: list[str] = []
    served = [0, 0, 0]  # connections done with round 1, round 2
    address = server.endpoint(0)

    def start(index: int, round_: int) -> None:
        received[index] = bytearray()
        outgoing[index] = memoryview(message(index, round_))
        round_of[index] = round_
        selector.modify(socks[index], selectors.EVENT_READ | selectors.EVENT_WRITE, index)

    def pump_events(until: Callable[[], bool], stage: str) -> None:
        last_progress = time.monotonic()
        while not until():
            if time.monotonic() - last_progress > IO_TIMEOUT:
                raise AssertionError(failure(
                    requirement, f"{count} connections, {what}; {stage}", "every connection served",
                    f"no progress for {IO_TIMEOUT:.0f} s: {served[1]} served once, {served[2]} twice, "
                    f"{len(socks)} opened; wrong: {wrong[:3]}"))
            for key, mask in selector.select(0.5):
                index, sock = key.data, key.fileobj
                if mask & selectors.EVENT_WRITE and outgoing[index]:
                    try:
                        sent = sock.send(outgoing[index])
                    except BlockingIOError:
                        continue
                    except OSError as error:
                        wrong.append(f"connection {index}: {error!r} while sending")
                        selector.unregister(sock)
                        continue
                    outgoing[index] = outgoing[index][sent:]
                    last_progress = time.monotonic()
                    if not outgoing[index]:
                        selector.modify(sock, selectors.EVENT_READ, index)
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError as error:
                        data, closed_by = b"", repr(error)
                    else:
                        closed_by = "EOF"
                    if not data:
                        wrong.append(f"connection {index}: {closed_by} in round {round_of[index]}, "
                                     f"after {bytes(received[index][:100])!r}")
                        selector.unregister(sock)
                        continue
                    received[index] += data
                    last_progress = time.monotonic()
                    verdict = answered(index, round_of[index], bytes(received[index]))
                    if verdict is None:
                        continue
                    if not verdict:
                        wrong.append(f"connection {index}, round {round_of[index]}: "
                                     f"{bytes(received[index][:200])!r}")
                        selector.unregister(sock)
                        continue
                    served[round_of[index]] += 1
                    round_of[index] = 0  # nothing more expected until the next round starts
                    selector.modify(sock, selectors.EVENT_READ, index)  # an early close shows

    try:
        while len(socks) < count:
            while len(socks) < count and len(socks) - served[1] - len(wrong) < MANY_IN_FLIGHT:
                sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
                sock.setblocking(False)
                sock.connect_ex(address)  # EINPROGRESS: the selector says when it is writable
                socks.append(sock)
                received.append(bytearray())
                outgoing.append(memoryview(b""))
                round_of.append(0)
                selector.register(sock, selectors.EVENT_WRITE, len(socks) - 1)
                start(len(socks) - 1, 1)
            pump_events(lambda: len(socks) - served[1] - len(wrong) < MANY_IN_FLIGHT or wrong,
                        "connecting and first round trips")
            assert not wrong, failure(requirement, f"{count} connections, {what}", "every one served",
                                      f"{len(wrong)} wrong, first: {wrong[:3]}")
        pump_events(lambda: served[1] + len(wrong) >= count, "first round trips")
        assert not wrong, failure(requirement, f"{count} connections, {what}", "every one served",
                                  f"{len(wrong)} wrong, first: {wrong[:3]}")
        # All open now; the second round is paced too: a server may read a whole burst before it
        # writes any answer, which would look like no progress at all for seconds.
        begun = [0]  # second round trips started (a list: the lambda below reads it)
        while begun[0] < count:
            while begun[0] < count and begun[0] - served[2] - len(wrong) < MANY_IN_FLIGHT:
                start(begun[0], 2)
                begun[0] += 1
            pump_events(lambda: begun[0] - served[2] - len(wrong) < MANY_IN_FLIGHT or wrong,
                        f"all {count} open: a second round trip on each")
            assert not wrong, failure(requirement, f"{count} connections, {what}", "every one served",
                                      f"{len(wrong)} wrong, first: {wrong[:3]}")
        pump_events(lambda: served[2] + len(wrong) >= count, f"all {count} open: a second round trip on each")
    finally:
        selector.close()
        for sock in socks:
            sock.close()
    assert not wrong and served[1:] == [count, count], failure(
        requirement, f"{count} connections held open at once, {what}", "every one served, twice",
        f"served {served[1]} then {served[2]}; {len(wrong)} wrong, first: {wrong[:3]}")
