"""Clauses M (port-tagged line echo on several ports) of SPEC.md, checked from outside through sockets.

The suite launches multiport with three ephemeral ports (``--ports 0,0,0``).
"""

import itertools
import random
import re
import socket
import time

import pytest

from netrosetta_conformance.clients import (
    HALF_CLOSE_READ_RATE,
    KIB,
    MIB,
    Stream,
    byte_session,
    check_abrupt_peers,
    check_leaves_nothing_behind,
    check_stop_and_continue,
    connect_small_window,
    fill,
    pump,
    read_paced,
    stream_through,
)
from netrosetta_conformance.harness import IO_TIMEOUT, failure

pytestmark = pytest.mark.behaviour("multiport")

MAX_LINE = 64 * KIB
ANY_TAG = re.compile(rb"(?m)^\d+ ")


def tag(port: int) -> bytes:
    return b"%d " % port


def answers(port: int, lines: list[bytes]) -> bytes:
    """What the server owes for ``lines`` on ``port``: each line tagged, one per LF."""
    return b"".join(tag(port) + line + b"\n" for line in lines)


def talk(server, index: int, chunks: list[bytes], expect: bytes, shut_wr: bool = False) -> tuple[bytes, bool]:
    """Send ``chunks`` on a new connection to the index-th port; read ``expect``'s length (or to EOF)."""
    with server.connect(index) as sock:
        return pump(sock, chunks, expect=len(expect), shut_wr=shut_wr)


def test_M1_listens_on_every_port(server):
    """The server listens on every port of --ports: each port in the READY line accepts connections
    and answers."""
    for index, port in enumerate(server.ports):
        got, _ = talk(server, index, [b"hello\n"], tag(port) + b"hello\n")
        assert got.endswith(b" hello\n"), failure("M1 every port answers", f"b'hello\\n' to port {port}",
                                                  b"<port> hello\n", got)


@pytest.mark.proc
def test_M2_one_thread_serves_every_port(server):
    """One process and one thread serve every port (Threads: 1 in /proc/PID/status while clients are
    connected on every port)."""
    socks = [server.connect(index) for index in range(len(server.ports))]
    try:
        for index, sock in enumerate(socks):
            expect = tag(server.ports[index]) + b"ping\n"
            got, _ = pump(sock, [b"ping\n"], expect=len(expect))
            # Which port the tag names is M4's clause; here only that every port answers.
            assert got.endswith(b" ping\n"), failure("M2 every port served", b"ping\n", b"<port> ping\n", got)
        threads = server.threads()
    finally:
        for sock in socks:
            sock.close()
    assert threads == 1, failure("M2 one thread serves every port",
                                 f"one client on each of {len(socks)} ports", "Threads: 1",
                                 f"Threads: {threads}")


@pytest.mark.smoke
def test_M3_tagged_line(server):
    """Each line received, ending in LF, is answered with `<port> <line>\\n`."""
    port = server.ports[0]
    lines = [b"hello", b"", b"two  spaces ", b"\x00\xff\xfe binary \x7f", b"\xc3\xa9t\xc3\xa9", b"\t"]
    sent = b"".join(line + b"\n" for line in lines)
    expect = answers(port, lines)
    got, _ = talk(server, 0, [sent], expect)
    assert got == expect, failure("M3 each line answered with '<port> <line>\\n'", sent, expect, got)


def test_M4_tag_is_accepting_port(server):
    """`<port>` is the local port that accepted that connection, on each of the ports."""
    for index, port in enumerate(server.ports):
        expect = answers(port, [b"which port?"])
        got, _ = talk(server, index, [b"which port?\n"], expect)
        assert got == expect, failure(f"M4 tag is the accepting port ({port})",
                                      f"b'which port?\\n' to port {port}", expect, got)


def test_M5_cr_before_lf_dropped(server):
    """A CR just before the LF is dropped from the line; any other CR is part of the line."""
    port = server.ports[0]
    cases = [(b"crlf\r\n", b"crlf"), (b"two\r\r\n", b"two\r"), (b"\rlead\n", b"\rlead"),
             (b"mid\rdle\n", b"mid\rdle"), (b"\r\n", b""), (b"plain\n", b"plain")]
    sent = b"".join(raw for raw, _ in cases)
    expect = answers(port, [line for _, line in cases])
    got, _ = talk(server, 0, [sent], expect)
    assert got == expect, failure("M5 only the CR just before LF is dropped", sent, expect, got)


def test_M6_split_and_packed_segments(server):
    """Lines may arrive split across TCP segments (down to one byte at a time) or packed several to a
    segment; each is answered once, in order."""
    port = server.ports[0]
    rng = random.Random(6)
    lines = [b"line %d %s" % (i, b"x" * rng.randrange(0, 3000)) for i in range(200)]
    stream = b"".join(line + b"\r\n" if i % 3 == 0 else line + b"\n" for i, line in enumerate(lines))
    chunks, offset = [], 0
    while offset < len(stream):
        size = rng.choice([1, 1, 1, 2, 5, 17, 1000, 5000, 20_000])
        chunks.append(stream[offset:offset + size])
        offset += size
    expect = answers(port, lines)
    byte_at_a_time = [bytes([b]) for b in b"one byte at a time\r\n"]
    want = answers(port, [b"one byte at a time"]) + expect
    got, _ = talk(server, 0, [*byte_at_a_time, *chunks], want)
    assert got == want, failure("M6 split or packed, each line answered once, in order",
                                f"{len(lines) + 1} lines in {len(chunks) + len(byte_at_a_time)} writes",
                                f"{len(want)} bytes of answers", f"{len(got)} bytes, equal prefix="
                                f"{got == want[:len(got)]}")


@pytest.mark.smoke
def test_M7_unterminated_tail_at_eof(server):
    """A final line without LF at EOF is answered too, then the connection is closed."""
    port = server.ports[0]
    long_tail = bytes(random.Random(7).choice(b"abcdefgh") for _ in range(MAX_LINE))  # M9's longest line
    for sent, lines in ((b"first\nlast words", [b"first", b"last words"]), (b"only", [b"only"]),
                        (long_tail, [long_tail])):
        expect = answers(port, lines)
        got, closed = talk(server, 0, [sent], expect, shut_wr=True)
        assert (got, closed) == (expect, True), failure("M7 unterminated tail answered at EOF, then closed",
                                                        sent + b" then SHUT_WR", (expect, "closed"),
                                                        (got, "closed" if closed else "open"))


def test_M8_line_too_long(server):
    """A line longer than 64 KiB is answered with `<port> ERROR line too long\\n`, then the connection
    is closed; lines before it are answered first."""
    port = server.ports[0]
    error = tag(port) + b"ERROR line too long\n"
    cases = [
        ("64 KiB + 1 then LF", b"x" * (MAX_LINE + 1) + b"\nafter\n", False),
        ("64 KiB + 1 then CRLF", b"x" * (MAX_LINE + 1) + b"\r\nafter\n", False),
        ("1 MiB, no LF at all", b"y" * MIB, False),
        ("64 KiB + 1 unterminated, then EOF", b"w" * (MAX_LINE + 1), True),
    ]
    expect = answers(port, [b"ok"]) + error
    for label, long, shut_wr in cases:
        # Unless it half-closes, the client never closes: the server must answer, then close.
        with server.connect(0) as sock:
            got, closed = pump(sock, [b"ok\n" + long], shut_wr=shut_wr)
        assert (got, closed) == (expect, True), failure(
            "M8 a line over 64 KiB gets the ERROR answer, then the server closes",
            f"b'ok\\n' + {label}", (expect, "closed by the server"),
            (got, "closed" if closed else "still open"))


def test_M9_exactly_64_kib(server):
    """A line of exactly 64 KiB is served like any other."""
    port = server.ports[0]
    line = bytes(random.Random(9).choice(b"abcdefgh") for _ in range(MAX_LINE))
    for ending in (b"\n", b"\r\n"):
        expect = answers(port, [line, b"next"])
        got, _ = talk(server, 0, [line + ending + b"next\n"], expect)
        assert got == expect, failure("M9 a line of exactly 64 KiB is served",
                                      f"64 KiB line + {ending!r} + b'next\\n'",
                                      f"{len(expect)} bytes: the line tagged, then next",
                                      f"{len(got)} bytes: {got[:20]!r}...{got[-30:]!r}")
    # An unterminated 64 KiB tail at EOF is checked under M7, the clause for tails.


def _read_line(sock: socket.socket, timeout: float = IO_TIMEOUT) -> bytes:
    """Read up to and including the first LF (bounded wait)."""
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            byte = sock.recv(1)
        except TimeoutError:
            break
        if not byte:
            break
        data += byte
    return data


def test_M10_ports_interleave(server):
    """Clients on different ports interleave freely: a partial line on one port holds up no answer on
    another."""
    socks = [server.connect(index) for index in range(len(server.ports))]
    try:
        ports = server.ports
        socks[0].sendall(b"the start of a line on port 0, ")
        for round_ in range(3):
            for index in (1, 2):
                socks[index].sendall(b"round %d\n" % round_)
                expect = tag(ports[index]) + b"round %d\n" % round_
                got = _read_line(socks[index])
                # Which port the tag names is M4's clause; here only that the answer is not held up.
                assert got.endswith(b" round %d\n" % round_), failure(
                    "M10 a partial line on one port holds up no other port",
                    f"partial line on {ports[0]}, then a line on {ports[index]}", expect, got)
        socks[0].sendall(b"and its end\n")
        expect = tag(ports[0]) + b"the start of a line on port 0, and its end\n"
        got = _read_line(socks[0])
        assert got == expect, failure("M10 the partial line completes on its own port",
                                      b"... and its end\n", expect, got)
    finally:
        for sock in socks:
            sock.close()


def test_M11_nothing_crosses_connections(server):
    """Nothing crosses between connections: each connection's answers hold exactly its own lines, even
    when clients on the same port interleave partial lines."""
    port = server.ports[0]
    a, b = server.connect(0), server.connect(0)
    try:
        a.sendall(b"aaa-")
        b.sendall(b"bbb-")
        a.sendall(b"AAA")
        b.sendall(b"BBB\n")
        got_b = _read_line(b)
        a.sendall(b"\n")
        got_a = _read_line(a)
        for sock in (a, b):
            sock.shutdown(socket.SHUT_WR)
        rest_a, _ = pump(a, [], shut_wr=False, expect=None, timeout=IO_TIMEOUT)
        rest_b, _ = pump(b, [], shut_wr=False, expect=None, timeout=IO_TIMEOUT)
    finally:
        a.close()
        b.close()
    want = (tag(port) + b"aaa-AAA\n", b"", tag(port) + b"bbb-BBB\n", b"")
    assert (got_a, rest_a, got_b, rest_b) == want, failure(
        "M11 each connection gets exactly its own lines", "a: 'aaa-' 'AAA' '\\n'; b: 'bbb-' 'BBB\\n'",
        want, (got_a, rest_a, got_b, rest_b))


@pytest.mark.proc
def test_M12_backpressure(fresh_server):
    """Backpressure: a client that sends 128 MiB of lines without reading the answers leaves the
    server's memory flat (RSS under 64 MiB above its level before), and every answer comes back in
    order once the client reads."""
    server = fresh_server(ports=1)
    total, bound, size = 128 * MIB, 64 * MIB, 1000
    port_tag = tag(server.port)

    def line(index: int) -> bytes:
        return b"%010d " % index + b"m" * (size - 12) + b"\n"

    lines = Stream(line, size)
    answers_stream = Stream(lambda index: port_tag + line(index), size + len(port_tag))
    expected_total = total // size * (size + len(port_tag))
    total = total // size * size  # whole lines only
    with server.connect() as sock:
        pump(sock, [b"warm-up\n"], expect=len(port_tag) + 8)
        baseline = server.rss_bytes()
        pushed = fill(sock, lines, total, idle=0.5)
        peak = server.rss_bytes()
        assert peak - baseline < bound, failure(
            "M12 backpressure: memory stays flat while the client does not read",
            f"{pushed} bytes of lines without reading", f"RSS under baseline + {bound // MIB} MiB",
            f"RSS grew by {(peak - baseline) / MIB:.1f} MiB")
        peaks = [peak]
        received = stream_through(sock, lines, total, answers_stream, expected_total,
                                  sample=lambda: peaks.append(server.rss_bytes()))
        peak = max(peaks)
    assert (received, answers_stream.mismatch) == (expected_total, None), failure(
        "M12 backpressure: every answer comes back in order once the client reads",
        f"{total // size} lines ({total // MIB} MiB)", f"{expected_total} bytes of answers in order",
        f"{received} bytes, first mismatch at offset {answers_stream.mismatch}")
    assert peak - baseline < bound, failure(
        "M12 backpressure: memory stays flat", f"{total // MIB} MiB of lines through one connection",
        f"RSS under baseline + {bound // MIB} MiB", f"RSS grew by {(peak - baseline) / MIB:.1f} MiB")


@pytest.mark.proc
def test_M13_nothing_kept_per_connection(fresh_server):
    """Connections served one after another leave nothing behind: after 3,000 more connections over
    every port (each sends a line, half-closes and reads to the end), RSS has grown by less than 8 MiB
    over its level after the first 300, and the open-file count is back where it was before the first."""
    requirement = "M13 nothing kept per connection served"
    server = fresh_server(ports=3)

    def serve_one(index: int) -> None:
        # Half-close and read to the end; what the answer says is M3-M4's business, this clause
        # asks only that the connection ends and leaves nothing.
        with server.connect(index % len(server.ports)) as sock:
            _, closed = pump(sock, [b"connection %d\n" % index], shut_wr=True)
        assert closed, failure(requirement, "a line, then SHUT_WR", "EOF", "no EOF")

    check_leaves_nothing_behind(server, serve_one, requirement,
                                "3,000 connections over every port, a line each, SHUT_WR, read to EOF")


def test_M14_half_close_with_answers_owed(server):
    """When the client half-closes while answers are still queued for it (it has not been reading),
    every answer is sent, then the connection is closed."""
    port = server.ports[0]
    size = 1000

    def line(index: int) -> bytes:
        return b"%010d " % index + b"h" * (size - 12) + b"\n"

    lines = Stream(line, size)
    with connect_small_window(server) as sock:
        # Send lines without reading until the server has taken nothing for a second: its queue of
        # answers, its socket buffers and ours are full.
        pushed = fill(sock, lines, 64 * MIB, idle=1.0)
        sock.shutdown(socket.SHUT_WR)
        # Slowly, so that what the server still owes at EOF waits in its own queue.
        got, closed = read_paced(sock, HALF_CLOSE_READ_RATE)
    whole, tail = divmod(pushed, size)
    expect = b"".join(tag(port) + line(index) for index in range(whole))
    # The last line sent is usually cut short: what its answer must be is M7's business.
    rest = got[len(expect):]
    tail_ok = rest in (b"", tag(port) + line(whole)[:tail] + b"\n") if tail else rest == b""
    first = next((i for i, (a, b) in enumerate(zip(got, expect, strict=False)) if a != b), None)
    assert (got.startswith(expect), tail_ok, closed) == (True, True, True), failure(
        "M14 half-close with answers owed: every answer, then EOF",
        f"{whole} lines of {size} bytes (and a {tail}-byte tail) with a 4 KiB receive window, not "
        "reading until the server stopped taking bytes for 1 s, then SHUT_WR, then reading at 16 MiB/s",
        f"{len(expect)} bytes of answers (then the tail's), then EOF",
        f"{len(got)} bytes (first difference at {first}), closed={closed}")


SESSION_NUMBERS = itertools.count()


def line_session(server):
    """A session (clients.Sessions) of 8-line round trips on one of the server's ports, in turn."""

    def message(number: int) -> bytes:
        return b"".join(b"round %d line %d %s\n" % (number, line, b"l" * 1000) for line in range(8))

    index = next(SESSION_NUMBERS) % len(server.ports)

    def answer(sock: socket.socket, data: bytes) -> bytes:
        return answers(server.ports[index], data.split(b"\n")[:-1])

    def same(got: bytes, expect: bytes) -> bool:
        # Which port the tag names is M4's clause; here only that every line comes back tagged.
        return ANY_TAG.sub(b"P ", got) == ANY_TAG.sub(b"P ", expect)

    return byte_session(server, message, answer, index, same)


@pytest.mark.process("stops and continues the server's process")
def test_M15_stop_and_continue(server):
    """A server stopped (SIGSTOP) for 2 seconds under load, then continued (SIGCONT), loses no line and
    drops no connection, on any port: every client's answers resume where they were, and clients
    that connected during the stop are answered."""
    check_stop_and_continue(
        server, lambda: line_session(server),
        "M15 stopped and continued: no line lost, no connection dropped", "8-line")


@pytest.mark.proc
def test_M16_abrupt_peers_at_volume(fresh_server):
    """1,000 clients that reset mid-answer disturb no other client on any port, the server closes every
    one of their sockets (its open-file count comes back), and its log stays bounded."""
    server = fresh_server(ports=3)
    lines = b"".join(b"abrupt line %d %s\n" % (number, b"a" * 1000) for number in range(64))

    def start_answer(sock: socket.socket) -> int:
        sock.sendall(lines)
        return 0

    check_abrupt_peers(server, lambda: line_session(server), start_answer,
                       "M16 1,000 clients resetting mid-answer: others unharmed, sockets closed, log bounded",
                       "64 lines of 1 KiB")


# -- edge bytes at the line limit (issue 16, item 8) -----------------------------------------------

def test_M9_crlf_split_at_the_limit(server):
    """A line of exactly 64 KiB whose CR and LF arrive in different reads is served like any other: the
    CR waiting for its LF does not make the line too long."""
    port = server.ports[0]
    line = bytes(random.Random(90).choice(b"ijklmnop") for _ in range(MAX_LINE))
    expect = answers(port, [line, b"next"])
    with server.connect(0) as sock:
        sock.sendall(line + b"\r")
        time.sleep(0.3)  # slow on purpose: the LF comes in a later segment, after the CR was read
        got, _ = pump(sock, [b"\nnext\n"], expect=len(expect))
    assert got == expect, failure("M9 a 64 KiB line with its CR and LF in different reads is served",
                                  "64 KiB line + b'\\r', 0.3 s later b'\\nnext\\n'", f"{len(expect)} bytes",
                                  f"{len(got)} bytes: {got[:20]!r}...{got[-30:]!r}")


def test_M8_tail_ending_in_cr_past_the_limit(server):
    """An unterminated tail of exactly 64 KiB plus a CR, at EOF, is a line of 64 KiB + 1 (its CR comes
    before no LF): ERROR line too long, then close. One CR short of that, it is answered, CR kept."""
    port = server.ports[0]
    error = tag(port) + b"ERROR line too long\n"
    for tail, expect in ((b"c" * MAX_LINE + b"\r", error),
                         (b"c" * (MAX_LINE - 1) + b"\r", tag(port) + b"c" * (MAX_LINE - 1) + b"\r\n")):
        got, closed = talk(server, 0, [tail], expect, shut_wr=True)
        assert (got, closed) == (expect, True), failure(
            "M8 a tail of 64 KiB + CR at EOF is too long; 64 KiB - 1 + CR is answered with its CR",
            f"{len(tail) - 1} bytes + b'\\r', then SHUT_WR", (expect[-30:], "closed"),
            (got[-30:], f"{len(got)} bytes", "closed" if closed else "open"))
