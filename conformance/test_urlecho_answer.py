"""Clauses U1-U7 of SPEC.md (URL echo: the answer, connections, bodies, 100-continue), from outside."""

import json
import threading
import time
from email.utils import parsedate_to_datetime

import pytest

from netrosetta_conformance.clients import MIB, connect_small_window, read_paced
from netrosetta_conformance.harness import IO_TIMEOUT, failure
from netrosetta_conformance.http_client import (
    TEXT_PLAIN,
    Client,
    NoResponse,
    answer_of,
    check_date,
    check_length,
    expect_error,
    request,
)

pytestmark = pytest.mark.behaviour("urlecho")

JSON_ACCEPT = ("Accept", "application/json")


def _served(client: Client, requirement: str, method: str = "GET"):
    """The next response on ``client``, or a failure saying nothing complete came."""
    try:
        return client.response(method)
    except NoResponse as error:
        raise AssertionError(failure(requirement, client.sent, "a complete response", str(error))) from None


@pytest.mark.smoke
def test_U1_1_text_answer(server):
    """Any method and any valid request-target are answered 200, text/plain; charset=utf-8, body = the target
    as sent."""
    requirement = "U1.1 200, text/plain; charset=utf-8, body = request-target exactly as sent"
    targets = ["/", "/any/path", "/a%20b?x=1&y=%2F#frag", "/caf%C3%A9/%00/%25?%3F=%26",
               "/a/../b/./c//d;e=f?q=1?r=2#s#t", "/~!$&'()*+,;=:@-._"]
    with Client.connect(server) as client:
        for target in targets:
            raw = request("GET", target)
            client.send(raw)
            response = _served(client, requirement)
            got = response.summary()
            assert response.status == 200, failure(requirement, raw, "status 200", got)
            assert response.header("content-type") == TEXT_PLAIN, failure(
                requirement, raw, f"Content-Type: {TEXT_PLAIN}", got)
            assert response.body == target.encode(), failure(requirement, raw, target, got)
            assert response.http_version == "1.1", failure(requirement, raw, "HTTP/1.1 status line", got)
    raw = request("GET", "/old", "HTTP/1.0", host=False)
    response, client = answer_of(server, raw, requirement)
    client.close()
    assert (response.status, response.body) == (200, b"/old"), failure(
        requirement, raw, "200 with body '/old'", response.summary())
    assert response.http_version in ("1.0", "1.1"), failure(
        requirement, raw, "HTTP/1.1 (or HTTP/1.0) status line", response.summary())


def test_U1_2_date_header(server):
    """Every response carries exactly one Date header in IMF-fixdate form, within 60 s of the real time."""
    requirement = "U1.2 one Date header, IMF-fixdate, within 60 s of now"
    cases = [(request("GET", "/date"), "GET"), (request("HEAD", "/date"), "HEAD"),
             (request("GET", "/date", headers=[JSON_ACCEPT]), "GET"),
             (b"GET /date HTTP/1.1\r\n\r\n", "GET")]  # no Host: an error response
    for raw, method in cases:
        response, client = answer_of(server, raw, requirement, method)
        client.close()
        why = check_date(response)
        assert why is None, failure(requirement, raw, "Date: Sun, 06 Nov 1994 08:49:37 GMT (now)",
                                    f"{why}; {response.summary()}")


# U1.5: how old the server must be, how far off the clock its Date may be, and how far apart the
# two answers that must carry different dates are sent.
DATE_UPTIME = 61.0
DATE_SKEW = 5.0
DATE_APART = 2.5


def _date_of(server, requirement: str) -> tuple[float, float, str]:
    """(the answer's Date as a timestamp, the client's clock when it came, the value)."""
    raw = request("GET", "/clock")
    response, client = answer_of(server, raw, requirement)
    now = time.time()
    client.close()
    why = check_date(response)
    assert why is None, failure(requirement, raw, "one IMF-fixdate Date", f"{why}; {response.summary()}")
    value = response.header("date")
    return parsedate_to_datetime(value).timestamp(), now, value


@pytest.mark.full_only("waits until its server has been up for a minute")
def test_U1_5_date_follows_the_clock(server):
    """On a server up for more than a minute, Date is within 5 s of the real time, and two answers 2.5 s
    apart carry different dates."""
    requirement = f"U1.5 on a server up over a minute, Date within {DATE_SKEW:g} s of now and moving"
    first, _, _ = _date_of(server, requirement)  # whatever a server caches, it has by now
    # A server the suite did not start (--connect) may be new: it gets the whole minute.
    age = time.monotonic() - server.started if server.started is not None else 0.0
    time.sleep(max(0.0, DATE_UPTIME - age))
    earlier, now, value = _date_of(server, requirement)
    assert abs(earlier - now) <= DATE_SKEW, failure(
        requirement, "GET /clock", f"a Date within {DATE_SKEW:g} s of {time.ctime(now)}",
        f"Date: {value} ({earlier - now:+.0f} s)")
    time.sleep(DATE_APART)
    later, now, value_later = _date_of(server, requirement)
    assert abs(later - now) <= DATE_SKEW and later > earlier, failure(
        requirement, f"GET /clock, twice, {DATE_APART:g} s apart",
        f"two different Dates, each within {DATE_SKEW:g} s of the clock",
        f"Date: {value}, then Date: {value_later} ({later - now:+.0f} s off)")


def test_U1_3_exact_content_length(server):
    """Every response except 100 Continue carries exactly one Content-Length equal to its body's length, no
    Transfer-Encoding."""
    requirement = "U1.3 exactly one Content-Length = body length, no Transfer-Encoding"
    cases = [request("GET", "/"), request("GET", "/" + "x" * 5000),
             request("GET", "/j", headers=[JSON_ACCEPT]),
             request("POST", "/p", headers=[("Content-Length", "3")], body=b"abc"),
             b"GET /no-host HTTP/1.1\r\n\r\n", b"GET / HTTP/2.0\r\nHost: suite\r\n\r\n"]
    for raw in cases:
        response, client = answer_of(server, raw, requirement)
        with client:
            extra = client.idle(0.2)  # a body longer than its Content-Length leaves bytes behind
        why = check_length(response) or (extra and f"{len(extra)} bytes after the body: {extra[:80]!r}")
        assert not why, failure(requirement, raw, "Content-Length: <body length>, nothing after the body",
                                f"{why}; {response.summary()}")


@pytest.mark.smoke
def test_U2_head(server):
    """A HEAD request gets the same status and headers as GET on the same target, and no body; the connection
    stays usable."""
    requirement = "U2 HEAD: GET's status and headers, no body, connection usable"
    for extra in ([], [JSON_ACCEPT]):
        get, head = request("GET", "/head/me?x", headers=extra), request("HEAD", "/head/me?x", headers=extra)
        after = request("GET", "/after-head")
        with Client.connect(server) as client:
            client.send(get)
            got_get = _served(client, requirement)
            # HEAD then GET in one write: a body wrongly sent after HEAD would be read as the next answer.
            client.send(head + after)
            got_head = _served(client, requirement, "HEAD")
            got_after = _served(client, requirement)
        sent = get + head + after
        got = f"GET: {got_get.summary()} / HEAD: {got_head.summary()} / next: {got_after.summary()}"
        assert got_head.status == got_get.status == 200, failure(requirement, sent, "200 for both", got)
        assert got_head.values("content-type") == got_get.values("content-type"), failure(
            requirement, sent, "HEAD's Content-Type equal to GET's", got)
        # The JSON answer names the method, so HEAD's would-be body is GET's with "HEAD" for "GET".
        would_be = got_get.body.replace(b'"method":"GET"', b'"method":"HEAD"')
        assert got_head.values("content-length") == [str(len(would_be))], failure(
            requirement, sent, f"HEAD's Content-Length = {len(would_be)} (its would-be body)", got)
        assert (got_after.status, got_after.body) == (200, b"/after-head"), failure(
            requirement, sent, "the request after HEAD served (no stray body bytes)", got)


def _json(response) -> object:
    try:
        return json.loads(response.body)
    except ValueError:
        return None


@pytest.mark.smoke
def test_U3_json_answer(server):
    """A request whose Accept lists application/json (q > 0) gets application/json: method, target, path,
    query, version, headers, keys sorted."""
    requirement = "U3 JSON answer with sorted keys, grouped lowercased headers"
    target = "/p/a%20th?x=1&y=#frag"
    raw = (f"PUT {target} HTTP/1.1\r\nHost: suite\r\nAccept: text/html, application/json;q=0.5\r\n"
           "X-Rep: one\r\nUser-Agent: suite\r\nx-rep:   two  \r\nX-Empty:\r\nX-REP:\tthree\r\n"
           "X-Latin: caf\xe9\r\nContent-Length: 2\r\n\r\nok").encode("latin-1")
    expected = {
        "method": "PUT", "target": target, "path": "/p/a%20th", "query": "x=1&y=#frag",
        "version": "HTTP/1.1",
        "headers": [["host", "suite"], ["accept", "text/html, application/json;q=0.5"],
                    ["x-rep", "one"], ["x-rep", "two"], ["x-rep", "three"], ["user-agent", "suite"],
                    ["x-empty", ""], ["x-latin", "caf\xe9"], ["content-length", "2"]],
    }
    body = json.dumps(expected, sort_keys=True, separators=(",", ":")).encode("ascii")
    response, client = answer_of(server, raw, requirement)
    client.close()
    assert response.status == 200 and response.header("content-type") == "application/json", failure(
        requirement, raw, "200, Content-Type: application/json", response.summary())
    assert response.body == body, failure(requirement, raw, body, response.body)

    # No '?' means query null; HTTP/1.0 shows as sent; Accept matched in any case and any line.
    raw = b"GET /plain HTTP/1.0\r\nAccept: text/plain\r\nACCEPT: APPLICATION/JSON\r\n\r\n"
    response, client = answer_of(server, raw, requirement)
    client.close()
    expected = {"method": "GET", "target": "/plain", "path": "/plain", "query": None, "version": "HTTP/1.0",
                "headers": [["accept", "text/plain"], ["accept", "APPLICATION/JSON"]]}
    body = json.dumps(expected, sort_keys=True, separators=(",", ":")).encode("ascii")
    assert response.body == body, failure(requirement, raw, body, response.summary())

    # q=0 is a refusal: the text answer.
    raw = request("GET", "/q0", headers=[("Accept", "application/json;q=0, text/plain")])
    response, client = answer_of(server, raw, requirement)
    client.close()
    assert (response.body, response.header("content-type")) == (b"/q0", TEXT_PLAIN), failure(
        requirement, raw, "the text answer (application/json;q=0 refuses JSON)", response.summary())


def test_U4_1_http11_persistent(server):
    """An HTTP/1.1 connection stays open after a response unless the request said Connection: close."""
    requirement = "U4.1 HTTP/1.1 keeps the connection open"
    with Client.connect(server) as client:
        for target in ("/first", "/second", "/third"):
            raw = request("GET", target)
            client.send(raw)
            response = _served(client, requirement)
            assert (response.status, response.body) == (200, target.encode()), failure(
                requirement, client.sent, f"200 {target} on the same connection", response.summary())
            assert "close" not in response.tokens("connection"), failure(
                requirement, raw, "no Connection: close", response.summary())


@pytest.mark.smoke
def test_U4_2_connection_close(server):
    """An HTTP/1.1 request with Connection: close gets Connection: close in its response, then the server
    closes."""
    requirement = "U4.2 Connection: close is answered with Connection: close, then close"
    for value in ("close", "Close", "foo, CLOSE"):
        raw = request("GET", "/bye", headers=[("Connection", value)])
        response, client = answer_of(server, raw, requirement)
        with client:
            closed, extra = client.closes()
        got = f"{response.summary()}; closed={closed}; after: {extra!r}"
        assert response.status == 200 and "close" in response.tokens("connection"), failure(
            requirement, raw, "200 with Connection: close", got)
        assert closed and not extra, failure(requirement, raw, "EOF after the response", got)


def test_U4_3_http10_closes(server):
    """An HTTP/1.0 request without Connection: keep-alive is answered, then the server closes."""
    requirement = "U4.3 HTTP/1.0 without keep-alive: answer, then close"
    # A Connection header that names other options does not make an HTTP/1.0 connection persistent.
    for headers in ([], [("Connection", "x-other")], [("Connection", "Upgrade")]):
        raw = request("GET", "/ten", "HTTP/1.0", headers=headers)
        response, client = answer_of(server, raw, requirement)
        with client:
            closed, extra = client.closes()
        got = f"{response.summary()}; closed={closed}; after: {extra!r}"
        assert response.status == 200 and closed and not extra, failure(
            requirement, raw, "200, then EOF", got)


def test_U4_4_http10_keep_alive(server):
    """An HTTP/1.0 request with Connection: keep-alive gets Connection: keep-alive and the connection stays
    open."""
    requirement = "U4.4 HTTP/1.0 keep-alive: Connection: keep-alive, connection stays open"
    with Client.connect(server) as client:
        for target, value in (("/ka1", "keep-alive"), ("/ka2", "Keep-Alive")):
            raw = request("GET", target, "HTTP/1.0", headers=[("Connection", value)])
            client.send(raw)
            response = _served(client, requirement)
            assert (response.status, response.body) == (200, target.encode()), failure(
                requirement, client.sent, f"200 {target} on the same connection", response.summary())
            assert "keep-alive" in response.tokens("connection"), failure(
                requirement, raw, "Connection: keep-alive", response.summary())


@pytest.mark.smoke
def test_U5_pipelining(server):
    """Pipelined requests (several in one write) are all answered, in the order sent, each exactly once."""
    requirement = "U5 pipelined requests answered in order"
    batch = [
        (request("GET", "/1"), "GET", b"/1"),
        (request("HEAD", "/2"), "HEAD", b""),
        (request("POST", "/3", headers=[("Content-Length", "5")], body=b"hello"), "POST", b"/3"),
        (request("PUT", "/4", headers=[("Transfer-Encoding", "chunked")], body=b"3\r\nabc\r\n0\r\n\r\n"),
         "PUT", b"/4"),
        (request("FOO", "/5?x"), "FOO", b"/5?x"),
    ] * 4
    raw = b"".join(each for each, _, _ in batch)
    got = []
    with Client.connect(server) as client:
        client.send(raw)
        for _, method, body in batch:
            response = _served(client, requirement, method)
            got.append(response.body)
            assert (response.status, response.body) == (200, body), failure(
                requirement, raw, f"answers in order, this one 200 {body!r}",
                f"after {got[:-1]}: {response.summary()}")
        extra = client.idle(0.3)
    assert not extra, failure(requirement, raw, f"exactly {len(batch)} answers", f"then also {extra!r}")


def test_U5_pipelined_slow_reader(server):
    """Pipelined requests whose answers far outgrow the socket buffers, read late and slowly by a client
    with a small receive window: all answered, in order, each exactly once."""
    requirement = "U5 pipelined requests, answers read late and slowly: all answered in order"
    targets = [f"/slow-reader/{number}/" + "r" * 4000 for number in range(200)]
    raw = b"".join(request("GET", target, headers=[("Connection", "close")] if number == 199 else [])
                   for number, target in enumerate(targets))
    sock = connect_small_window(server)
    # Sent by a thread: the server stops reading while its answers wait, and so would our send.
    sender = threading.Thread(target=sock.sendall, args=(raw,), daemon=True)
    with sock:
        sender.start()
        time.sleep(0.5)  # late on purpose: the answers pile up before the first read
        data, closed = read_paced(sock, 2 * MIB)
        sender.join(IO_TIMEOUT)
    client = Client(sock)
    client.buffer, client.received, client.eof = data, data, True
    sent = f"200 pipelined GETs of 4 KB targets ({len(raw)} bytes), read after 0.5 s at 2 MiB/s"
    got = []
    for target in targets:
        try:
            response = client.response(timeout=1)
        except NoResponse as error:
            raise AssertionError(failure(requirement, sent, f"{len(targets)} answers in order, then close",
                                         f"{len(got)} answers, then {error}")) from None
        got.append(response.body)
        assert (response.status, response.body) == (200, target.encode()), failure(
            requirement, sent, f"answer {len(got)}: 200 {target[:30]}...", response.summary())
    assert closed and not client.buffer, failure(requirement, sent + ", the last with Connection: close",
                                                 "EOF after the last answer",
                                                 f"closed={closed}, then {client.buffer[:100]!r}")


def test_U6_1_content_length_body(server):
    """A request body framed by Content-Length is read and discarded; the connection stays usable."""
    requirement = "U6.1 Content-Length body discarded, connection usable"
    # The body looks like a request: a server that does not skip it would answer it.
    body = request("GET", "/inside-body") + bytes(range(256)) * 40
    raw = request("POST", "/with-body", headers=[("Content-Length", str(len(body)))], body=body)
    after = request("GET", "/after-body")
    with Client.connect(server) as client:
        client.send(raw[:100])
        client.send(raw[100:] + after)
        first = _served(client, requirement, "POST")
        second = _served(client, requirement)
        extra = client.idle(0.3)
    got = f"{first.summary()} / {second.summary()} / then {extra!r}"
    assert (first.status, first.body, second.status, second.body, extra) == (
        200, b"/with-body", 200, b"/after-body", b""), failure(
        requirement, raw + after, "200 /with-body, then 200 /after-body, nothing else", got)


@pytest.mark.smoke
def test_U6_2_chunked_body(server):
    """A chunked body is read and discarded, chunk extensions ignored and trailers accepted; the connection
    stays usable."""
    requirement = "U6.2 chunked body (extensions, trailers) discarded, connection usable"
    body = (b"5;name=value\r\nhello\r\n"
            b"1A;a=1;b=\"q\"\r\n" + b"GET /inside HTTP/1.1\r\n\r\n.." + b"\r\n"
            b"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n")
    raw = request("POST", "/chunked", headers=[("Transfer-Encoding", "chunked")], body=body)
    plain = request("POST", "/chunked2", headers=[("Transfer-Encoding", "chunked")],
                    body=b"3\r\nabc\r\n0\r\n\r\n")
    after = request("GET", "/after-chunked")
    with Client.connect(server) as client:
        client.send(raw + plain + after)
        got = [_served(client, requirement, "POST"), _served(client, requirement, "POST"),
               _served(client, requirement)]
        extra = client.idle(0.3)
    summary = " / ".join(r.summary() for r in got) + f" / then {extra!r}"
    assert [(r.status, r.body) for r in got] == [
        (200, b"/chunked"), (200, b"/chunked2"), (200, b"/after-chunked")] and not extra, failure(
        requirement, raw + plain + after, "200 /chunked, 200 /chunked2, 200 /after-chunked", summary)


# Names of the framing fields as a client may spell them (RFC 9110 5.1: case-insensitive).
LENGTH_NAMES = ("content-length", "CONTENT-LENGTH", "Content-length", "cOnTeNt-LeNgTh")
CODING_NAMES = ("transfer-encoding", "TRANSFER-ENCODING", "Transfer-encoding")


def test_U6_3_framing_names_any_case(server):
    """Content-Length, Transfer-Encoding and Connection in any case frame a request as in their usual
    spelling: the body is read, the next request answered; the framing rules hold in any case."""
    requirement = "U6.3 framing field names in any case: body read, next request answered"
    # Bodies that look like requests: a server that misses the field serves /smuggled, or refuses.
    smuggled = request("GET", "/smuggled")
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    cases = [request("POST", "/body", headers=[(name, str(len(smuggled)))], body=smuggled)
             for name in LENGTH_NAMES]
    cases += [request("POST", "/body", headers=[(name, value)], body=chunked)
              for name in CODING_NAMES for value in ("chunked", "CHUNKED")]
    after = request("GET", "/after-body")
    for raw in cases:
        with Client.connect(server) as client:
            client.send(raw + after)
            # A body left unread is served as a request before /after-body, or refused.
            got = [_served(client, requirement, "POST"), _served(client, requirement)]
        summary = " / ".join(r.summary() for r in got)
        assert [(r.status, r.body) for r in got] == [(200, b"/body"), (200, b"/after-body")], \
            failure(requirement, raw + after, "200 /body, then 200 /after-body", summary)
    for name in ("connection", "CONNECTION"):
        raw = request("GET", "/last", headers=[(name, "close")])
        with Client.connect(server) as client:
            client.send(raw + after)
            response = _served(client, requirement)
            closed, extra = client.closes()
        assert (response.status, response.body, closed, extra) == (200, b"/last", True, b""), failure(
            f"U6.3 {name}: close closes", raw + after, "200 /last, then EOF and nothing more",
            f"{response.summary()}; closed={closed}; after it: {extra!r}")
    conflicts = [request("POST", "/both", headers=[("content-length", "3"), ("TRANSFER-ENCODING", "chunked")],
                         body=b"0\r\n\r\n" + smuggled),
                 request("POST", "/both", headers=[("transfer-encoding", "chunked"), ("CONTENT-LENGTH", "5")],
                         body=b"0\r\n\r\n" + smuggled)]
    for raw in conflicts:
        expect_error(server, raw, 400, "U6.3 content-length with TRANSFER-ENCODING: 400, then close")


@pytest.mark.smoke
def test_U7_1_continue(server):
    """Expect: 100-continue with an acceptable body gets 100 Continue before any body byte is sent, then the
    answer."""
    requirement = "U7.1 100 Continue before the body, then the answer"
    head = request("POST", "/upload", headers=[("Content-Length", "5"), ("Expect", "100-continue")])
    with Client.connect(server) as client:
        client.send(head)
        status = client.interim(timeout=5)
        assert status == 100, failure(requirement, head, "HTTP/1.1 100 Continue before the body is sent",
                                      f"status {status} (received {client.received!r})")
        client.send(b"hello")
        response = _served(client, requirement, "POST")
    assert (response.informational, response.status, response.body) == ([100], 200, b"/upload"), failure(
        requirement, head + b"hello", "100 Continue, then 200 /upload", response.summary())


def test_U7_2_continue_refused(server):
    """Expect: 100-continue with a Content-Length above --max-body gets 413 without 100 Continue,
    then close."""
    requirement = "U7.2 413 at once, no 100 Continue"
    raw = request("POST", "/big", headers=[("Content-Length", "2000000"), ("Expect", "100-continue")])
    response = expect_error(server, raw, 413, requirement)
    assert response.informational == [], failure(requirement, raw, "413 without 100 Continue",
                                                  response.summary())
