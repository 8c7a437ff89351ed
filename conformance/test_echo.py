"""Clauses E (TCP echo) of SPEC.md, checked from outside through sockets."""

import os
import random
import selectors
import socket
import time

import pytest

from netrosetta_conformance.clients import (
    HALF_CLOSE_READ_RATE,
    MANY,
    MANY_QUICK,
    MIB,
    Stream,
    byte_session,
    check_abrupt_peers,
    check_leaves_nothing_behind,
    check_many_connections,
    check_stop_and_continue,
    connect_small_window,
    fill,
    pump,
    raise_own_fd_limit,
    read_paced,
    reset,
    stream_through,
    wait_until,
)
from netrosetta_conformance.harness import failure

pytestmark = pytest.mark.behaviour("echo")

# How long another client may wait before it counts as delayed (E4-E6): far beyond a healthy
# server's latency even on a loaded machine, and short enough that the iterative model's expected
# failures (conformance/divergences.py) stay cheap.
DELAY_LIMIT = 5.0


def echo_ok(server, payload: bytes = b"are you there?\n") -> tuple[bool, bytes]:
    """One short round trip on a new connection: (echoed correctly within DELAY_LIMIT, what came back)."""
    with server.connect() as sock:
        got, _ = pump(sock, [payload], expect=len(payload), timeout=DELAY_LIMIT)
    return got == payload, got


@pytest.mark.smoke
def test_E1_echo_bytes_unchanged(server):
    """Every byte received is sent back on the same connection, unchanged and in order, whatever its
    value (binary-safe)."""
    payload = bytes(range(256)) * 4 + os.urandom(100_000) + b"\r\n\x00\xff" * 100
    with server.connect() as sock:
        got, _ = pump(sock, [payload], expect=len(payload))
    assert got == payload, failure("E1 echo unchanged, binary-safe", f"{len(payload)} bytes, every value",
                                   f"the same {len(payload)} bytes",
                                   f"{len(got)} bytes, equal prefix={got == payload[:len(got)]}")


def test_E2_any_chunking(server):
    """The echo does not depend on how the client chunks its data: any mix of write sizes, from 1 byte
    up, with pauses, comes back as the same byte stream."""
    rng = random.Random(2)
    data = os.urandom(300_000)
    chunks, offset = [], 0
    while offset < len(data):
        size = rng.choice([1, 1, 2, 3, 7, 100, 1460, 4096, 65_536, 70_000])
        chunks.append(data[offset:offset + size])
        offset += size
        if rng.random() < 0.1:
            chunks.append(b"")  # a pause: wait for everything so far to come back
    with server.connect() as sock:
        got, _ = pump(sock, chunks, expect=len(data))
    assert got == data, failure("E2 any chunking",
                                f"{len(data)} bytes in {len(chunks)} writes of 1 B..68 KiB",
                                f"the same {len(data)} bytes",
                                f"{len(got)} bytes, equal prefix={got == data[:len(got)]}")


@pytest.mark.smoke
def test_E3_half_close(server):
    """When the client shuts down its sending side (half-close), the server sends back everything
    still owed, then closes the connection."""
    for payload in (b"x", os.urandom(3 * MIB)):
        with server.connect() as sock:
            got, closed = pump(sock, [payload], shut_wr=True)
        assert (got == payload, closed) == (True, True), failure(
            "E3 half-close: send back everything owed, then close", f"{len(payload)} bytes then SHUT_WR",
            f"{len(payload)} bytes then EOF", f"{len(got)} bytes (equal={got == payload}), closed={closed}")


def test_E4_thousand_connections(server):
    """1,000 simultaneous connections are all served: each gets back exactly what it sent."""
    raise_own_fd_limit()
    count = 1000
    socks: list[socket.socket] = []
    selector = selectors.DefaultSelector()
    try:
        for _ in range(count):
            socks.append(server.connect())  # all open at once before anyone sends
        expected, received = {}, {}
        for index, sock in enumerate(socks):
            message = b"connection %d of %d\n" % (index, count) + os.urandom(32)
            sock.sendall(message)
            sock.setblocking(False)
            expected[sock] = message
            received[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
        waiting = set(socks)
        last_progress = time.monotonic()
        while waiting and time.monotonic() - last_progress < DELAY_LIMIT:
            for key, _ in selector.select(0.5):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except (BlockingIOError, ConnectionResetError):
                    data = None
                if data:
                    received[sock] += data
                    last_progress = time.monotonic()
                    if len(received[sock]) >= len(expected[sock]):
                        waiting.discard(sock)
                        selector.unregister(sock)
                elif data == b"":
                    waiting.discard(sock)  # closed early: counted below as wrong
                    selector.unregister(sock)
        wrong = [i for i, sock in enumerate(socks) if received[sock] != expected[sock]]
    finally:
        selector.close()
        for sock in socks:
            sock.close()
    assert not wrong, failure("E4 1,000 simultaneous connections all served",
                              f"{count} connections open at once, a distinct message on each",
                              "each message back on its own connection",
                              f"{len(wrong)} connections without their echo (first: {wrong[:5]})")


def test_E5_idle_client_delays_no_other(server):
    """An idle client (connected, sending nothing) delays no other client."""
    with server.connect():
        ok, got = echo_ok(server)
    assert ok, failure("E5 an idle client delays no other", "one idle connection, then a message on another",
                       "the message echoed", got)


def test_E6_slow_client_delays_no_other(server):
    """A slow client (sending without reading what comes back) delays no other client."""
    stream = Stream()
    with server.connect() as slow:
        pushed = fill(slow, stream, 64 * MIB, idle=0.5)
        ok, got = echo_ok(server)
        reset(slow)
    assert ok, failure("E6 a client that does not read delays no other",
                       f"{pushed} bytes on one connection never read, then a message on another",
                       "the message echoed", got)


@pytest.mark.proc
def test_E7_backpressure(fresh_server):
    """Backpressure: a client that sends 256 MiB without reading in step leaves the server's memory
    flat (RSS under 64 MiB above its level before the transfer), and every byte comes back in order
    once the client reads."""
    server = fresh_server()
    total, bound = 256 * MIB, 64 * MIB
    stream = Stream()
    with server.connect() as sock:
        pump(sock, [b"warm-up"], expect=7)
        baseline = server.rss_bytes()
        # Phase 1: push without reading. With backpressure the server stops reading after ~1 MiB
        # waits for us, the kernel buffers fill, and sending blocks long before `total`.
        pushed = fill(sock, stream, total, idle=0.5)
        peak = server.rss_bytes()
        assert peak - baseline < bound, failure(
            "E7 backpressure: memory stays flat while the client does not read",
            f"{pushed} bytes without reading", f"RSS under baseline + {bound // MIB} MiB",
            f"RSS grew by {(peak - baseline) / MIB:.1f} MiB")
        # Phase 2: read, and keep sending the rest; the server must resume and return it all.
        peaks = [peak]
        received = stream_through(sock, stream, total, stream, total,
                                  sample=lambda: peaks.append(server.rss_bytes()))
        peak = max(peaks)
    assert (received, stream.mismatch) == (total, None), failure(
        "E7 backpressure: every byte comes back in order once the client reads",
        f"{total // MIB} MiB", f"{total // MIB} MiB back in order",
        f"{received} bytes back, first mismatch at offset {stream.mismatch}")
    assert peak - baseline < bound, failure(
        "E7 backpressure: memory stays flat", f"{total // MIB} MiB through one connection",
        f"RSS under baseline + {bound // MIB} MiB", f"RSS grew by {(peak - baseline) / MIB:.1f} MiB")


@pytest.mark.proc
def test_E8_reset_mid_transfer(fresh_server):
    """A client that resets its connection mid-transfer disturbs no other client, and the server closes
    its socket (its open-file count returns to where it was)."""
    server = fresh_server()
    with server.connect() as other:
        before = b"before the reset\n"
        got, _ = pump(other, [before], expect=len(before))
        baseline = server.fd_count()
        resetter = server.connect()
        pushed = fill(resetter, Stream(), 16 * MIB, idle=0.5)
        reset(resetter)
        # A reset the server learns of by reading (it owes that client nothing), not by writing.
        idle_resetter = server.connect()
        pump(idle_resetter, [b"a small exchange"], expect=16)
        reset(idle_resetter)
        after = os.urandom(200_000)
        got, _ = pump(other, [after], expect=len(after))
        assert got == after, failure("E8 a reset disturbs no other client",
                                     f"{pushed} bytes on a connection, then RST; then {len(after)} bytes "
                                     "on another", "those bytes echoed",
                                     f"{len(got)} bytes, equal prefix={got == after[:len(got)]}")
    assert server.alive(), failure("E8 a reset disturbs no other client", "RST mid-transfer",
                                   "the server still running", f"exit status {server.proc.returncode}")
    closed = wait_until(lambda: server.fd_count() < baseline)
    assert closed, failure("E8 the server closes the reset client's socket",
                           f"{pushed} bytes, then RST, then the other client closes",
                           f"open files back below {baseline} (the other client's socket gone too)",
                           f"{server.fd_count()} open files")


@pytest.mark.proc
def test_E9_nothing_kept_per_connection(fresh_server):
    """Connections served one after another leave nothing behind: after 3,000 more connections (each
    sends a message, half-closes and reads to the end), RSS has grown by less than 8 MiB over its level
    after the first 300, and the open-file count is back where it was before the first."""
    requirement = "E9 nothing kept per connection served"
    server = fresh_server()

    def serve_one(index: int) -> None:
        # Half-close and read to the end, as an echo client finishes; what comes back is E1-E3's
        # business, this clause asks only that the connection ends and leaves nothing.
        with server.connect() as sock:
            _, closed = pump(sock, [b"connection %d\n" % index], shut_wr=True)
        assert closed, failure(requirement, "a message, then SHUT_WR", "EOF", "no EOF")

    check_leaves_nothing_behind(server, serve_one, requirement,
                                "3,000 connections, one message each, then SHUT_WR and read to EOF")


def test_E10_half_close_with_data_owed(server):
    """When the client half-closes while the server still holds data for it (queued, not yet sent,
    because the client has not been reading), the server sends all of it, then closes."""
    stream = Stream()
    with connect_small_window(server) as sock:
        # Send without reading until the server has taken nothing for a second: its queue, its
        # socket buffers and ours are full.
        pushed = fill(sock, stream, 64 * MIB, idle=1.0)
        sock.shutdown(socket.SHUT_WR)
        # Slowly, so that what the server still owes at EOF waits in its own queue.
        got, closed = read_paced(sock, HALF_CLOSE_READ_RATE)
    stream.check(got)
    assert (len(got), stream.mismatch, closed) == (pushed, None, True), failure(
        "E10 half-close with data owed: every byte back, then EOF",
        f"{pushed} bytes with a 4 KiB receive window, not reading until the server stopped taking "
        "bytes for 1 s, then SHUT_WR, then reading at 16 MiB/s", f"{pushed} bytes in order, then EOF",
        f"{len(got)} bytes (first mismatch at {stream.mismatch}), closed={closed}")


@pytest.mark.process("stops and continues the server's process")
def test_E11_stop_and_continue(server):
    """A server stopped (SIGSTOP) for 2 seconds under load, then continued (SIGCONT), loses no byte and
    drops no connection: every client's echo resumes where it was, and clients that connected during
    the stop are served."""

    def message(number: int) -> bytes:
        return b"round %d " % number + os.urandom(8 * 1024)

    check_stop_and_continue(server, lambda: byte_session(server, message, lambda sock, data: data),
                            "E11 stopped and continued: no byte lost, no connection dropped", "8 KiB echo")


@pytest.mark.proc
def test_E12_abrupt_peers_at_volume(fresh_server):
    """1,000 clients that reset mid-answer disturb no other client, the server closes every one of
    their sockets (its open-file count comes back), and its log stays bounded."""
    server = fresh_server()

    def message(number: int) -> bytes:
        return b"round %d " % number + os.urandom(4096)

    def start_answer(sock: socket.socket) -> int:
        sock.sendall(os.urandom(64 * 1024))
        return 0

    check_abrupt_peers(server, lambda: byte_session(server, message, lambda sock, data: data), start_answer,
                       "E12 1,000 clients resetting mid-answer: others unharmed, sockets closed, log bounded",
                       "64 KiB")


def test_E13_ten_thousand_connections(server, variant, request):
    """10,000 concurrent connections are all served by an implementation's default variant: each gets
    back what it sent, twice, all of them held open at once (2,000 in `make test`)."""
    if "--loop" in variant.extra or variant.proxy:
        pytest.skip(f"n/a: the clause is for each implementation's default variant, not {variant.id}")
    count = MANY if request.config.getoption("full") else MANY_QUICK

    def message(index: int, round_: int) -> bytes:
        return b"connection %d round %d\n" % (index, round_)

    def answered(index: int, round_: int, got: bytes) -> bool | None:
        expect = message(index, round_)
        return None if len(got) < len(expect) else got == expect

    check_many_connections(server, count, message, answered,
                           f"E13 {count:,} concurrent connections all served", "a short message on each")
