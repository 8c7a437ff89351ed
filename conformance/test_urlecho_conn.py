"""Clauses U17-U19 of SPEC.md (URL echo: connections, timeouts, load), from outside.

The timeout tests run against a server started with short timeouts (about 1 s) and allow a
generous margin on top, because the machine is shared; they never sleep to synchronise, only to be
slow on purpose, the way a slowloris client is.
"""

import contextlib
import itertools
import re
import resource
import select
import socket
import struct
import threading
import time

import pytest

from netrosetta_conformance.clients import (
    MANY,
    MANY_QUICK,
    MIB,
    Stream,
    check_abrupt_peers,
    check_leaves_nothing_behind,
    check_many_connections,
    check_stop_and_continue,
    fill,
)
from netrosetta_conformance.harness import failure, recv_exactly
from netrosetta_conformance.http_client import (
    Client,
    NoResponse,
    answer_of,
    check_date,
    check_length,
    request,
)

pytestmark = pytest.mark.behaviour("urlecho")

HEADER_TIMEOUT, BODY_TIMEOUT, IDLE_TIMEOUT = 1.0, 1.0, 3.0
TIMEOUTS = ("--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "3")
MARGIN = 4.0  # on top of a timeout, for a loaded machine
TRICKLE = 0.3  # seconds between the bytes of a slow client


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset instead of a FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _served(client: Client, requirement: str, method: str = "GET", timeout: float = 10.0):
    try:
        return client.response(method, timeout=timeout)
    except NoResponse as error:
        raise AssertionError(failure(requirement, client.sent, "a complete response", str(error))) from None


@pytest.mark.smoke
def test_U17_1_half_close(server):
    """A client that half-closes right after a complete request still gets its whole response; then the
    server closes."""
    requirement = "U17.1 half-close after a complete request: the response, then EOF"
    for batch in ([request("GET", "/half")], [request("GET", "/half"), request("POST", "/closed",
                                                headers=[("Content-Length", "2")], body=b"ok")]):
        raw = b"".join(batch)
        with Client.connect(server) as client:
            client.send(raw)
            client.sock.shutdown(socket.SHUT_WR)
            got = [_served(client, requirement).body for _ in batch]
            closed, extra = client.closes()
        assert got == [b"/half", b"/closed"][:len(batch)] and closed and not extra, failure(
            requirement, raw + b" then SHUT_WR", "every answer, then EOF",
            f"{got}, closed={closed}, {extra!r}")


def test_U17_2_vanishing_clients(server):
    """A client that vanishes mid-request (close or reset, in the request line, headers or body)
    disturbs nobody."""
    requirement = "U17.2 clients vanishing mid-request disturb nobody"
    partials = [b"GE", b"GET /x HTTP/1.1\r\nHost: su",
                request("POST", "/x", headers=[("Content-Length", "1000")], body=b"0123456789"),
                request("POST", "/x", headers=[("Transfer-Encoding", "chunked")], body=b"5\r\nhe"),
                request("GET", "/" + "w" * 8000) * 50]  # answers it will never read
    with Client.connect(server) as good:
        for number, partial in enumerate(partials * 2):
            sock = server.connect()
            sock.sendall(partial)
            if number % 2:
                _reset(sock)
            else:
                sock.close()
            raw = request("GET", f"/still-here/{number}")
            good.send(raw)
            response = _served(good, requirement)
            assert (response.status, response.body) == (200, f"/still-here/{number}".encode()), failure(
                requirement, f"{partial[:60]!r} then vanish; then on another connection {raw!r}",
                "200 on the other connection", response.summary())


def test_U17_3_error_responses_close(server):
    """Every error response carries Connection: close, Date and an exact Content-Length, and the server
    closes after sending all of it."""
    requirement = "U17.3 error response: Connection: close, Date, Content-Length, whole, then close"
    cases = [(b"GET / HTTP/1.1\r\n\r\n", 400), (request("GET", "/" + "l" * 9000), 414),
             (request("GET", "/", headers=[("X-Big", "h" * 20000)]), 431),
             (request("POST", "/", headers=[("Content-Length", "2000000")]), 413),
             (request("GET", "/", "HTTP/2.0"), 505),
             (request("POST", "/", headers=[("Transfer-Encoding", "gzip")]), 501),
             (request("CONNECT", "example.com:443"), 405),
             # Unread bytes pile up behind the bad request: the answer must still arrive whole.
             (b"GET /a b HTTP/1.1\r\nHost: suite\r\n\r\n" + b"junk" * 65536, 400)]
    for raw, status in cases:
        response, client = answer_of(server, raw, requirement)
        with client:
            closed, extra = client.closes()
        problems = [why for why in (check_date(response), check_length(response)) if why]
        if "close" not in response.tokens("connection"):
            problems.append("no Connection: close")
        if response.status != status:
            problems.append(f"status {response.status}")
        if not closed or extra:
            problems.append(f"closed={closed}, after it: {extra[:80]!r}")
        expected = f"{status} with Connection: close, Date, Content-Length; EOF"
        assert not problems, failure(requirement, raw, expected,
                                     f"{'; '.join(problems)} in {response.summary()}")


def _trickle(client: Client, data: bytes, limit: float) -> float:
    """Send ``data`` a byte every TRICKLE seconds until the server answers or closes (or ``limit``
    passes); the seconds from the first byte to the server's reaction."""
    start = time.monotonic()
    for byte in data:
        if not client.send(bytes([byte])):
            break
        readable, _, _ = select.select([client.sock], [], [], TRICKLE)
        if readable or time.monotonic() - start > limit:
            break
    return time.monotonic() - start


@pytest.mark.smoke
@pytest.mark.server_args(*TIMEOUTS)
def test_U18_1_header_deadline(server):
    """--header-timeout is an absolute deadline from a request's first byte to the end of its headers,
    not reset by each byte: a slowloris client gets 408, then close."""
    requirement = "U18.1 slowloris: 408 and close within --header-timeout (1 s) + margin"
    slow = request("GET", "/slow")[:-2] + b"X-Slow: " + b"s" * 40  # the headers never end
    for first in (b"", request("GET", "/first")):  # a fresh connection, then a kept-alive one
        with Client.connect(server) as client:
            if first:
                client.send(first)
                _served(client, requirement)
            elapsed = _trickle(client, slow, HEADER_TIMEOUT + MARGIN + 1)
            sent = first + slow[:len(client.sent) - len(first)] + b" (a byte every 0.3 s)"
            try:
                response = client.response(timeout=1)
            except NoResponse as error:
                raise AssertionError(failure(requirement, sent, "408, then close",
                                             f"after {elapsed:.1f}s: {error}")) from None
            closed, extra = client.closes(timeout=2)
        got = f"after {elapsed:.1f}s: {response.summary()}; closed={closed}"
        assert response.status == 408 and closed and not extra, failure(
            requirement, sent, "408, then close", got)
        assert 0.5 < elapsed <= HEADER_TIMEOUT + MARGIN, failure(
            requirement, sent, f"cut 0.5 to {HEADER_TIMEOUT + MARGIN:.0f} s after the first byte", got)


@pytest.mark.server_args("--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "10")
def test_U18_1_deadline_from_first_byte_of_pipelined_request(server):
    """The header deadline runs from a request's first byte even when that byte arrived together with
    the previous request: a complete request, then the start of one that never ends, in one send, get
    the first answer, then 408 and close within --header-timeout, not at --idle-timeout."""
    requirement = ("U18.1 pipelined request begun with the previous one: its answer, then 408 and close "
                   "within --header-timeout (1 s) + margin, long before --idle-timeout (10 s)")
    raw = request("GET", "/first") + b"GE"  # the second request never gets past its method
    with Client.connect(server) as client:
        start = time.monotonic()
        client.send(raw)
        first = _served(client, requirement)
        assert (first.status, first.body) == (200, b"/first"), failure(
            requirement, raw, "200 /first", first.summary())
        try:
            response = client.response(timeout=HEADER_TIMEOUT + MARGIN)
        except NoResponse as error:
            raise AssertionError(failure(requirement, raw, "200 /first, then 408, then close",
                                         f"after {time.monotonic() - start:.1f}s: {error}")) from None
        elapsed = time.monotonic() - start
        closed, extra = client.closes(timeout=2)
    got = f"after {elapsed:.1f}s: {response.summary()}; closed={closed}"
    assert response.status == 408 and closed and not extra, failure(
        requirement, raw, "200 /first, then 408, then close", got)
    assert 0.5 < elapsed <= HEADER_TIMEOUT + MARGIN, failure(
        requirement, raw, f"the 408 0.5 to {HEADER_TIMEOUT + MARGIN:.0f} s after the send", got)


@pytest.mark.server_args(*TIMEOUTS)
def test_U18_2_body_deadline(server):
    """--body-timeout is an absolute deadline from the end of the headers to the end of the body: a body
    that has not arrived in time ends the connection (a 408 first is allowed)."""
    requirement = "U18.2 slow body: connection ended within --body-timeout (1 s) + margin"
    head = request("POST", "/slow-body", headers=[("Content-Length", "100")])
    with Client.connect(server) as client:
        client.send(head)
        elapsed = _trickle(client, b"b" * 100, BODY_TIMEOUT + MARGIN + 1)
        try:
            response = client.response("POST", timeout=2)
        except NoResponse:
            response = None
        closed, extra = client.closes(timeout=2)
    sent = head + b"... a body byte every 0.3 s"
    got = f"after {elapsed:.1f}s: closed={closed}, received {client.received[:200]!r}"
    assert closed and elapsed <= BODY_TIMEOUT + MARGIN, failure(
        requirement, sent, f"the connection ended within {BODY_TIMEOUT + MARGIN:.0f} s", got)
    assert (response is None and not client.received) or (response and response.status == 408), failure(
        requirement, sent, "nothing, or a 408", got)


@pytest.mark.server_args(*TIMEOUTS)
def test_U18_3_idle_deadline(server):
    """--idle-timeout bounds how long a keep-alive connection waits for its next request; a connection
    idle longer than --header-timeout but less than --idle-timeout is still served."""
    requirement = "U18.3 idle keep-alive: served after 1.6 s, closed within --idle-timeout (3 s) + margin"
    with Client.connect(server) as client:
        client.send(request("GET", "/one"))
        _served(client, requirement)
        early = client.idle(HEADER_TIMEOUT + 0.6)  # longer than the header deadline, well under idle
        assert not early and not client.eof, failure(
            requirement, client.sent, "the connection still open after 1.6 s idle",
            f"closed={client.eof}, received {early!r}")
        client.send(request("GET", "/two"))
        response = _served(client, requirement)
        assert response.body == b"/two", failure(requirement, client.sent, "200 /two", response.summary())
        start = time.monotonic()
        closed, extra = client.closes(timeout=IDLE_TIMEOUT + MARGIN)
        elapsed = time.monotonic() - start
    got = f"closed={closed} after {elapsed:.1f}s, received after the answer: {extra[:200]!r}"
    assert closed and elapsed >= HEADER_TIMEOUT + 0.5, failure(
        requirement, client.sent, f"closed 1.5 to {IDLE_TIMEOUT + MARGIN:.0f} s after the answer", got)
    assert not extra or extra.split(b" ", 2)[1:2] == [b"408"], failure(
        requirement, client.sent, "closed without a response (or after a 408)", got)


@pytest.mark.server_args("--header-timeout", "5", "--body-timeout", "1", "--idle-timeout", "3")
def test_U18_3_request_begun_before_idle_timeout_is_served(server):
    """--idle-timeout bounds only the wait for the next request's first byte: a request begun before it
    expires is served even if its head ends after it, within --header-timeout of its first byte."""
    requirement = ("U18.3 a request begun 2 s into a 3 s --idle-timeout and ended 1.8 s later "
                   "(well within the 5 s --header-timeout): served")
    second = request("GET", "/begun-in-time")
    with Client.connect(server) as client:
        client.send(request("GET", "/one"))
        _served(client, requirement)
        # The server's idle timer started before the answer reached us: 1 s to spare, at least.
        early = client.idle(2.0)
        assert not early and not client.eof, failure(
            requirement, client.sent, "the connection still open after 2 s idle",
            f"closed={client.eof}, received {early!r}")
        client.send(second[:2])
        # Slow on purpose: the head ends 0.8 s after the idle timeout, 3.2 s before the header deadline.
        late = client.idle(1.8)
        client.send(second[2:])
        sent = (client.sent[:-len(second)] + b" (then 2 s idle) " + second[:2] + b" (then 1.8 s) "
                + second[2:])
        try:
            response = client.response()
        except NoResponse as error:
            raise AssertionError(failure(requirement, sent, "200 /begun-in-time",
                                         f"{late!r} while the head was under way; {error}")) from None
    assert (response.status, response.body) == (200, b"/begun-in-time"), failure(
        requirement, sent, "200 /begun-in-time", response.summary())


def _enough_files(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count), hard))


def test_U19_1_thousand_keep_alive_connections(server):
    """1,000 concurrent keep-alive connections are served: each gets its answer, and a second request on
    each is served too."""
    requirement = "U19.1 1,000 concurrent keep-alive connections served, twice each"
    count = 1000
    _enough_files(count + 200)
    clients = []
    try:
        for _ in range(count):
            clients.append(Client.connect(server, timeout=30))
        deadline = time.monotonic() + 60
        for round_ in ("a", "b"):
            for number, client in enumerate(clients):
                client.send(request("GET", f"/{round_}/{number}"))
            for number, client in enumerate(clients):
                target = f"/{round_}/{number}".encode()
                response = _served(client, requirement, timeout=max(1.0, deadline - time.monotonic()))
                assert (response.status, response.body) == (200, target), failure(
                    requirement, client.sent, f"200 {target!r}", response.summary())
    finally:
        for client in clients:
            client.close()


def test_U19_2_malformed_flood(server):
    """While a flood of malformed requests arrives on other connections, well-formed requests keep being
    served, each within a few seconds."""
    requirement = "U19.2 good requests served during a flood of malformed ones"
    bad = [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200), b"GET /a b HTTP/1.1\r\n\r\n",
           b"\x00" * 100 + b"\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n",
           b"GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n",
           request("POST", "/", headers=[("Content-Length", "3"), ("Transfer-Encoding", "chunked")]),
           b"GET /" + b"f" * 9000 + b" HTTP/1.1\r\n\r\n"]
    flood: list[socket.socket] = []
    try:
        with Client.connect(server) as good:
            for number in range(420):
                sock = server.connect()
                try:
                    sock.sendall(bad[number % len(bad)])
                except OSError:
                    pass  # already answered and closed: fine
                flood.append(sock)
                if len(flood) > 100:
                    flood.pop(0).close()
                if number % 30 == 0:
                    target = f"/good/{number}"
                    good.send(request("GET", target))
                    response = _served(good, requirement)
                    assert (response.status, response.body) == (200, target.encode()), failure(
                        requirement, f"{number} malformed requests, then GET {target}", f"200 {target}",
                        response.summary())
    finally:
        for sock in flood:
            sock.close()


@pytest.mark.proc
def test_U19_3_no_memory_kept_per_connection(fresh_server):
    """Connections served one after another leave nothing behind: after 3,000 more connections (one
    request each, closed after its answer), RSS has grown by less than 8 MiB over its level after the
    first 300, and the open-file count is back where it was before the first."""
    requirement = "U19.3 nothing kept per connection served"
    server = fresh_server()

    def serve_one(index: int) -> None:
        target = f"/u19-3/{index}"
        with Client.connect(server) as client:
            client.send(request("GET", target, headers=[("Connection", "close")]))
            response = _served(client, requirement)
        assert (response.status, response.body) == (200, target.encode()), failure(
            requirement, client.sent, f"200 {target!r}", response.summary())

    check_leaves_nothing_behind(server, serve_one, requirement,
                                "3,000 connections, one request each with Connection: close")


@pytest.mark.proc
def test_U19_4_pipelining_backpressure(fresh_server):
    """Backpressure: a client that pipelines 48 MiB of requests without reading the answers leaves the
    server's memory flat (RSS under 16 MiB above its level before), and every answer comes back, in
    order, once the client reads."""
    requirement = "U19.4 pipelining without reading: memory stays flat, then every answer in order"
    # Long targets, so that 48 MiB is a few hundred requests: the clause is about bytes, not requests.
    server = fresh_server("--max-target", "65536", "--max-header-bytes", "131072")
    target = "/" + "p" * 60000
    batch = request("GET", target) * 16  # about 1 MiB of whole requests
    total, bound = 48 * len(batch), 16 * MIB
    stream = Stream(make=lambda index: batch, size=len(batch))
    with Client.connect(server) as client:
        client.send(request("GET", target))
        first = _served(client, requirement)
        assert first.body == target.encode(), failure(requirement, client.sent, "200 with the target",
                                                      first.summary())
        # Every answer to it has this size: only the Date's value differs, never its length.
        answer_size = len(client.received)
        baseline = server.rss_bytes()
        pushed = fill(client.sock, stream, total, idle=0.5)
        peak = server.rss_bytes()
        assert peak - baseline < bound, failure(
            requirement, f"{pushed} bytes of pipelined requests, none of the answers read",
            f"RSS under baseline + {bound // MIB} MiB", f"RSS grew by {(peak - baseline) / MIB:.1f} MiB")
        # Read while a thread sends the rest: every answer, the same size, in order.
        def send_the_rest() -> None:
            while stream.write_offset < total:
                client.sock.sendall(stream.next(min(MIB, total - stream.write_offset)))

        sender = threading.Thread(target=send_the_rest, daemon=True)
        sender.start()
        expected = total // len(request("GET", target))
        data = recv_exactly(client.sock, expected * answer_size, timeout=60)
        sender.join(timeout=60)
    wrong = next((index for index in range(len(data) // answer_size)
                  if not data[index * answer_size:].startswith(b"HTTP/1.1 200 ")
                  or not data[:(index + 1) * answer_size].endswith(target.encode())), None)
    got = f"{len(data)} bytes back, {len(data) // answer_size} answers; first wrong answer: {wrong}"
    assert len(data) == expected * answer_size and wrong is None, failure(
        requirement, f"{expected} pipelined GET {target[:12]}... then reading", f"{expected} answers of "
        f"{answer_size} bytes, each 200 with the target", got)


SESSION_NAMES = itertools.count()


@contextlib.contextmanager
def keep_alive_session(server):
    """A session (clients.Sessions) of GETs on one kept-alive connection, each answer checked."""
    name = next(SESSION_NAMES)
    with Client.connect(server) as client:

        def round_trip(number: int) -> str | None:
            target = f"/session/{name}/{number}"
            client.send(request("GET", target))
            try:
                response = client.response()
            except NoResponse as error:
                return f"GET {target}: {error}"
            if (response.status, response.body) != (200, target.encode()):
                return f"GET {target}: {response.summary()}"
            client.sent = b""  # a long session would keep every request it sent
            return None

        yield round_trip


@pytest.mark.process("stops and continues the server's process")
def test_U19_5_stop_and_continue(server):
    """A server stopped (SIGSTOP) for 2 seconds under keep-alive load, then continued (SIGCONT), loses
    no request and drops no connection: every request is answered, in order, on its own connection,
    and clients that connected during the stop are served."""
    check_stop_and_continue(server, lambda: keep_alive_session(server),
                            "U19.5 stopped and continued: no request lost, no connection dropped",
                            "keep-alive GET")


@pytest.mark.proc
def test_U19_6_abrupt_peers_at_volume(fresh_server):
    """1,000 clients that reset mid-answer disturb no other client, the server closes every one of
    their sockets (its open-file count comes back), and its log stays bounded."""
    server = fresh_server()
    target = "/abrupt/" + "a" * 4000
    # Twice: the second answer is still on its way when the client resets.
    raw = request("GET", target) * 2

    def start_answer(sock: socket.socket) -> int:
        sock.sendall(raw)
        return 2

    check_abrupt_peers(server, lambda: keep_alive_session(server), start_answer,
                       "U19.6 1,000 clients resetting mid-answer: others unharmed, sockets closed, log "
                       "bounded", "2 pipelined GETs of a 4 KB target")


def test_U19_7_ten_thousand_keep_alive_connections(server, variant, request):
    """10,000 concurrent keep-alive connections are all served by an implementation's default variant:
    each gets its answer, and a second request on each, all of them held open at once, is served
    too (2,000 in `make test`)."""
    if "--loop" in variant.extra or variant.proxy:
        pytest.skip(f"n/a: the clause is for each implementation's default variant, not {variant.id}")
    count = MANY if request.config.getoption("full") else MANY_QUICK

    def target(index: int, round_: int) -> bytes:
        return b"/many/%d/%d" % (index, round_)

    def message(index: int, round_: int) -> bytes:
        return b"GET %s HTTP/1.1\r\nHost: suite\r\n\r\n" % target(index, round_)

    def answered(index: int, round_: int, got: bytes) -> bool | None:
        # Status and body only: the strict parse of every answer is the business of U1 to U5.
        head, found, body = got.partition(b"\r\n\r\n")
        if not found:
            return None
        length = re.search(rb"(?im)^content-length:[ \t]*(\d+)", head)
        if length is None or not head.startswith(b"HTTP/1.1 200 "):
            return False
        if len(body) < int(length.group(1)):
            return None
        return body == target(index, round_)

    check_many_connections(server, count, message, answered,
                           f"U19.7 {count:,} concurrent keep-alive connections all served", "a GET on each")
