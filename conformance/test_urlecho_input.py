"""Clauses U8-U16 of SPEC.md (URL echo: bad input, limits, framing, body size), from outside.

Each bad request is sent on its own connection, followed by a good one in the same write: the bad
one must get its error status and the good one nothing, because the server closes (no smuggling).
"""

import json

import pytest

from netrosetta_conformance.harness import IO_TIMEOUT, failure
from netrosetta_conformance.http_client import (
    Client,
    NoResponse,
    answer_of,
    expect_error,
    expect_served,
    request,
)

pytestmark = pytest.mark.behaviour("urlecho")

AFTER = request("GET", "/after-the-bad-one")  # must never be answered
SMALL_BODY = ("--max-body", "1000")
# Where an answer must come without waiting for more bytes, the header deadline is set far off, so
# an answer within the suite's 10 s wait cannot be a timeout's (SPEC.md allows a loaded machine).
PATIENT = ("--header-timeout", "30")
PROMPT = 10.0
# A TLS 1.2 ClientHello's first bytes, as a browser pointed at http:// on an https:// port sends them.
CLIENT_HELLO = bytes.fromhex(
    "16030100a5010000a10303") + bytes(range(32)) + bytes.fromhex("000020c02bc02fc02cc030cca9cca8c013c014")


def _errors(server, cases, statuses, clause: str, then: bytes = AFTER) -> None:
    for raw in cases:
        expect_error(server, raw, statuses, clause, then)


def test_U8_1_leading_crlf(server):
    """One empty line (CRLF) before a request line is ignored: the request after it is served."""
    expect_served(server, b"\r\n" + request("GET", "/after-crlf"), "/after-crlf",
                  "U8.1 a leading CRLF is ignored")


@pytest.mark.smoke
@pytest.mark.server_args(*PATIENT)
def test_U8_2_malformed_request_line(server):
    """A malformed request line gets 400, then close - never silence, never a reply without a status line."""
    host = b"\r\nHost: suite\r\n\r\n"
    cases = [
        b"\x00\xff\xfe garbage \x01\x02\r\n\r\n",
        b"GET /a b HTTP/1.1" + host,
        b"GET /" + host,
        b"GET / http/1.1" + host,
        b"GET / HTTP/1" + host,
        b"GET / HTTP/1.1.1" + host,
        b"GET  / HTTP/1.1" + host,
        b"GET /  HTTP/1.1" + host,
        b"GE(T / HTTP/1.1" + host,
        b"GET\t/ HTTP/1.1" + host,
    ]
    _errors(server, cases, 400, "U8.2 malformed request line: 400, then close")
    # No line end will come: the answer must not wait for one.
    raw = CLIENT_HELLO
    with Client.connect(server) as client:
        client.send(raw)
        try:
            response = client.response(timeout=PROMPT)
        except NoResponse as error:
            raise AssertionError(failure("U8.2 a TLS ClientHello gets 400 at once", raw,
                                         "400 at once", str(error))) from None
        closed, extra = client.closes()
    assert (response.status, closed, extra) == (400, True, b""), failure(
        "U8.2 a TLS ClientHello gets 400 at once, then close", raw, "400, then EOF",
        f"{response.summary()}; closed={closed}; after: {extra!r}")


def test_U9_1_http10_and_http11(server):
    """HTTP/1.0 and HTTP/1.1 requests are served."""
    expect_served(server, request("GET", "/v11"), "/v11", "U9.1 HTTP/1.1 served")
    expect_served(server, request("GET", "/v10", "HTTP/1.0"), "/v10", "U9.1 HTTP/1.0 served")


def test_U9_2_higher_minor_version(server):
    """An HTTP/1.x request with x from 2 to 9 is served as HTTP/1.1 (persistent by default)."""
    requirement = "U9.2 HTTP/1.2 and HTTP/1.9 served as HTTP/1.1, connection kept"
    with Client.connect(server) as client:
        for version in ("HTTP/1.2", "HTTP/1.9"):
            raw = request("GET", "/minor", version, headers=[("Accept", "application/json")])
            client.send(raw)
            try:
                response = client.response()
            except NoResponse as error:
                raise AssertionError(failure(requirement, client.sent, "200 on the same connection",
                                             str(error))) from None
            document = json.loads(response.body) if response.status == 200 else None
            assert document and document["version"] == version, failure(
                requirement, raw, f'200, JSON "version": "{version}"', response.summary())
            assert "close" not in response.tokens("connection"), failure(
                requirement, raw, "no Connection: close (persistent, as HTTP/1.1)", response.summary())


def test_U9_3_other_major_version(server):
    """Any major version other than 1 (HTTP/0.9, HTTP/2.0, HTTP/3.0) gets 505, then close."""
    cases = [request("GET", "/", version) for version in ("HTTP/0.9", "HTTP/2.0", "HTTP/3.0")]
    _errors(server, cases, 505, "U9.3 HTTP/0.9, 2.0, 3.0: 505, then close")


def test_U10_1_any_token_method(server):
    """Every method that is a token is served and echoed as sent, including unknown ones such as FOO."""
    requirement = "U10.1 any token method served and echoed"
    for method in ("FOO", "M-SEARCH", "PATCH", "DELETE", "x~y.1!"):
        raw = request(method, "/m", headers=[("Accept", "application/json")])
        response, client = answer_of(server, raw, requirement)
        client.close()
        document = json.loads(response.body) if response.status == 200 else None
        assert document and document["method"] == method, failure(
            requirement, raw, f'200, JSON "method": "{method}"', response.summary())


@pytest.mark.smoke
def test_U10_2_connect_refused(server):
    """CONNECT gets 405, then close - never a 2xx, whatever its target."""
    cases = [request("CONNECT", "example.com:443"), request("CONNECT", "/path")]
    _errors(server, cases, 405, "U10.2 CONNECT: 405, then close")


def test_U11_1_origin_form_exact(server):
    """An origin-form target is echoed byte for byte: percent-escapes, %2F, .., //, ;, query and #fragment."""
    for target in ("/%2F%2f/%7E/..%2F../a", "/..", "//double//slash/", "/a;b=c;d?e=f;g",
                   "/?", "/#", "/p?q#f?g#h", "/%41%42%43", "/A/b/C?D=E"):
        expect_served(server, request("GET", target), target, f"U11.1 origin-form {target!r} echoed exactly")


def test_U11_2_absolute_form(server):
    """An absolute-form target (a scheme, then ://) is echoed exactly as received, not reduced to its path."""
    for target in ("http://example.com:8080/a%20b?x=1#y", "https://EXAMPLE.com/", "http://example.com"):
        raw = request("GET", target)
        expect_served(server, raw, target, "U11.2 absolute-form echoed as received")


def test_U11_3_options_star(server):
    """OPTIONS * is served with body *."""
    expect_served(server, request("OPTIONS", "*"), "*", "U11.3 OPTIONS * served with body *")


def test_U11_4_bad_targets(server):
    """A target of * with another method, one that starts with neither / nor scheme://, or with a byte
    outside visible ASCII gets 400, then close."""
    cases = [request("GET", "*"), request("POST", "*"), request("GET", "example.com/x"), request("GET", "a"),
             request("GET", "?x=1"), request("GET", "/a\x7fb"), request("GET", "/caf\xe9"),
             request("GET", "/a\x01b"), request("GET", "/\x80")]
    _errors(server, cases, 400, "U11.4 bad target: 400, then close")


def test_U12_1_missing_host(server):
    """An HTTP/1.1 request without a Host header gets 400, then close."""
    _errors(server, [request("GET", "/", host=False), request("POST", "/", host=False,
                                                              headers=[("Content-Length", "0")])],
            400, "U12.1 HTTP/1.1 without Host: 400, then close")


def test_U12_2_several_host_lines(server):
    """A request with more than one Host line (even identical ones) gets 400, then close."""
    cases = [request("GET", "/", headers=[("Host", "suite")]),
             request("GET", "/", headers=[("Host", "other")]),
             request("GET", "/", "HTTP/1.0", headers=[("Host", "other")])]
    _errors(server, cases, 400, "U12.2 several Host lines: 400, then close")


def test_U12_3_invalid_host(server):
    """A Host value that is not host[:port] gets 400, then close; valid forms are served."""
    bad = ["a b", "example.com/x", "user@example.com", "example.com:80:90", "example.com:http", "[::1",
           "exa\\mple.com", "example.com?x"]
    cases = [request("GET", "/", host=False, headers=[("Host", value)]) for value in bad]
    _errors(server, cases, 400, "U12.3 invalid Host value: 400, then close")
    for value in ("example.com", "example.com:8080", "127.0.0.1:1", "[::1]:8080", "[::1]", "localhost",
                  "a-b.c_d~e"):
        expect_served(server, request("GET", "/h", host=False, headers=[("Host", value)]), "/h",
                      f"U12.3 valid Host {value!r} served")


def test_U12_4_http10_without_host(server):
    """An HTTP/1.0 request without Host is served."""
    expect_served(server, request("GET", "/no-host", "HTTP/1.0", host=False), "/no-host",
                  "U12.4 HTTP/1.0 without Host served")


def _header_cases(*lines: bytes) -> list[bytes]:
    return [b"GET / HTTP/1.1\r\nHost: suite\r\n" + line + b"\r\n\r\n" for line in lines]


def test_U13_1_space_before_colon(server):
    """Whitespace between a header name and its colon gets 400, then close."""
    cases = _header_cases(b"X-Foo : bar", b"X-Foo\t: bar") + [b"GET / HTTP/1.1\r\nHost : suite\r\n\r\n"]
    _errors(server, cases,
            400, "U13.1 whitespace before the colon: 400, then close")


def test_U13_2_cr_or_nul_in_value(server):
    """A CR or NUL inside a header value gets 400, then close."""
    _errors(server, _header_cases(b"X-Foo: a\rb", b"X-Foo: a\x00b", b"X-Foo: a\r"),
            400, "U13.2 CR or NUL in a header value: 400, then close")


def test_U13_3_line_without_colon(server):
    """A header line without a colon gets 400, then close."""
    _errors(server, _header_cases(b"X-Foo bar", b"JustAName"), 400,
            "U13.3 line without a colon: 400, then close")


def test_U13_4_bad_header_name(server):
    """An empty header name or a name with a non-token character gets 400, then close."""
    _errors(server, _header_cases(b": empty-name", b"X(y): z", b"X/y: z", b"X\x80: z", b"X\"y: z"),
            400, "U13.4 empty or non-token header name: 400, then close")


def test_U13_5_obs_fold(server):
    """An obs-fold line (a header line starting with a space or tab) gets 400, then close."""
    _errors(server, _header_cases(b"X-Foo: a\r\n b", b"X-Foo: a\r\n\tb"), 400,
            "U13.5 obs-fold: 400, then close")


def test_U13_6_whitespace_before_first_header(server):
    """Whitespace before the first header line gets 400, then close."""
    cases = [b"GET / HTTP/1.1\r\n Host: suite\r\n\r\n", b"GET / HTTP/1.1\r\n\tX: y\r\nHost: suite\r\n\r\n"]
    _errors(server, cases, 400, "U13.6 whitespace before the first header: 400, then close")


@pytest.mark.server_args(*PATIENT)
def test_U13_7_bare_lf(server):
    """Bare LF line endings are either served as CRLF or get 400, then close - at once."""
    requirement = "U13.7 bare LF: served or 400, at once"
    for raw in (b"GET /lf HTTP/1.1\nHost: suite\n\n", b"GET /lf HTTP/1.1\r\nHost: suite\n\n",
                b"GET /lf HTTP/1.1\nHost: suite\r\n\r\n"):
        with Client.connect(server) as client:
            client.send(raw)
            try:
                response = client.response(timeout=PROMPT)
            except NoResponse as error:
                raise AssertionError(failure(requirement, raw, "200 /lf or 400 at once",
                                             str(error))) from None
            if response.status == 400:
                closed, extra = client.closes()
                assert closed and not extra, failure(requirement, raw, "400, then EOF",
                                                     f"closed={closed}, after: {extra!r}")
            else:
                assert (response.status, response.body) == (200, b"/lf"), failure(
                    requirement, raw, "200 /lf or 400", response.summary())


SMUGGLED = request("GET", "/smuggled")  # a body that looks like a request
AFTER_LF = request("GET", "/after-lf")


def _served_or_refused(server, raw: bytes, requirement: str, served: list[bytes]) -> None:
    """``raw`` gets 400, then close; or the answers ``served`` (targets, in order), and nothing else."""
    with Client.connect(server) as client:
        client.send(raw)
        answers = []
        try:
            while len(answers) < len(served):
                answers.append(client.response("POST" if raw.startswith(b"POST") else "GET"))
                if answers[-1].status != 200:
                    break
        except NoResponse as error:
            raise AssertionError(failure(requirement, raw, "400 then close, or the answers "
                                         f"{[t.decode() for t in served]}",
                                         f"{[r.summary() for r in answers]}; then {error}")) from None
        closed, extra = client.closes(timeout=0.5 if answers[-1].status == 200 else IO_TIMEOUT)
    got = " / ".join(r.summary() for r in answers) + f"; closed={closed}; after: {extra!r}"
    if answers[0].status == 400:
        assert closed and not extra and "close" in answers[0].tokens("connection"), failure(
            requirement, raw, "400 with Connection: close, then EOF", got)
        return
    assert [(r.status, r.body) for r in answers] == [(200, target) for target in served] and not extra, \
        failure(requirement, raw, f"400, then close; or 200 for each of {[t.decode() for t in served]} "
                                  "and nothing else", got)


@pytest.mark.server_args(*PATIENT)
def test_U13_8_bare_lf_inside_the_header_section(server):
    """A bare LF inside the header section ends a field line (what follows is a field of its own, and
    frames the body) or gets 400, then close; the field after it is never hidden in a value."""
    requirement = "U13.8 a bare LF in the header section: a line end or 400, never part of a value"
    head = b"POST /lf HTTP/1.1\r\nHost: suite\r\nX: a\n"
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    for raw in (head + b"Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED + AFTER_LF,
                head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked + AFTER_LF,
                b"POST /lf HTTP/1.1\r\nHost: suite\r\nX: a\ncontent-length: %d\r\nY: b\r\n\r\n"
                % len(SMUGGLED) + SMUGGLED + AFTER_LF):
        _served_or_refused(server, raw, requirement, [b"/lf", b"/after-lf"])
    # Wherever the line ends, these break a rule: Content-Length with Transfer-Encoding, a line
    # without a colon, two Hosts.
    body = b"0\r\n\r\n" + SMUGGLED
    cases = [b"POST /lf HTTP/1.1\r\nHost: suite\r\nContent-Length: %d\r\nX: a\nTransfer-Encoding: chunked"
             b"\r\n\r\n" % len(body) + body,
             b"POST /lf HTTP/1.1\r\nHost: suite\r\nTransfer-Encoding: chunked\r\nX: a\nContent-Length: 3"
             b"\r\n\r\n" + body,
             b"GET /lf HTTP/1.1\r\nHost: a\nb\r\n\r\n",
             b"GET /lf HTTP/1.1\r\nHost: suite\nHost: other\r\n\r\n"]
    _errors(server, cases, 400, "U13.8 a bare LF that reveals a broken rule: 400, then close", AFTER_LF)


def test_U13_9_only_sp_and_htab_are_whitespace(server):
    """Only SP and HTAB are whitespace around a field: other bytes before the colon get 400; VT, FF and
    NBSP around a framing value make it invalid; around another value, VT and FF get 400 or stay,
    NBSP stays."""
    requirement = "U13.9 before the colon, only a token: 400, then close"
    _errors(server, _header_cases(b"X-Foo\x0b: bar", b"X-Foo\x0c: bar", b"X-Foo\r: bar", b"X-Foo\x00: bar",
                                  b"X-Foo\xa0: bar", b"X-Foo \x0b: bar")
            + [b"GET / HTTP/1.1\r\nHost\x0c: suite\r\n\r\n",
               b"POST / HTTP/1.1\r\nHost: suite\r\nContent-Length\x0b: 5\r\n\r\nhello"],
            400, requirement)
    # A framing value: never trimmed into a number or a coding.
    requirement = "U13.9 VT, FF or NBSP around a framing value: not a number or coding (400/501), then close"
    for junk in (b"\x0b", b"\x0c", b"\xa0"):
        lengths = [b"POST / HTTP/1.1\r\nHost: suite\r\nContent-Length: %s5\r\n\r\n" % junk + SMUGGLED,
                   b"POST / HTTP/1.1\r\nHost: suite\r\nContent-Length: 5%s\r\n\r\nhello" % junk + SMUGGLED]
        _errors(server, lengths, 400, requirement)
        codings = [b"POST / HTTP/1.1\r\nHost: suite\r\nTransfer-Encoding: %schunked\r\n\r\n0\r\n\r\n" % junk,
                   b"POST / HTTP/1.1\r\nHost: suite\r\nTransfer-Encoding: chunked%s\r\n\r\n0\r\n\r\n" % junk]
        _errors(server, codings, (400, 501), requirement)
    # A CR or NUL at either end of a value: U13.2 already refuses them anywhere in it.
    _errors(server, _header_cases(b"X-Foo: \rbar", b"X-Foo: \x00bar", b"X-Foo: bar\x00"), 400,
            "U13.9 CR or NUL at the edge of a value: 400, then close")
    # Another field: NBSP is a valid byte of the value (obs-text) and stays; VT and FF are refused or stay.
    for value, must_serve in ((b"\xa0nbsp\xa0", True), (b" \t\xa0 x \xa0\t ", True),
                              (b"\x0bvt", False), (b"ff\x0c", False), (b"\x0b \x0c", False)):
        raw = b"GET /ws HTTP/1.1\r\nHost: suite\r\nAccept: application/json\r\nX-Ws: %s\r\n\r\n" % value
        kept = value.strip(b" \t").decode("latin-1")
        requirement = (f"U13.9 X-Ws: {value!r}: served with the value {kept!r}"
                       + ("" if must_serve else ", or 400 then close"))
        response, client = answer_of(server, raw + AFTER, requirement)
        with client:
            if response.status == 400 and not must_serve:
                closed, extra = client.closes()
                assert closed and not extra, failure(requirement, raw, "400, then EOF",
                                                     f"closed={closed}, after: {extra!r}")
                continue
        document = json.loads(response.body) if response.status == 200 else {}
        fields = [value for name, value in document.get("headers", []) if name == "x-ws"]
        assert fields == [kept], failure(requirement, raw, f'200, JSON "x-ws": {json.dumps(kept)}',
                                         response.summary())


@pytest.mark.server_args(*PATIENT)
def test_U14_1_target_too_long(server):
    """A request-target longer than --max-target gets 414, then close, even if the request line never ends."""
    expect_error(server, request("GET", "/" + "a" * 8192), 414, "U14.1 target of 8,193 bytes: 414")
    # No line end: the 414 must come once the limit is passed, not at a timeout.
    raw = b"GET /" + b"a" * 20000
    with Client.connect(server) as client:
        client.send(raw)
        try:
            response = client.response(timeout=PROMPT)
        except NoResponse as error:
            raise AssertionError(failure("U14.1 an endless target gets 414 at once", raw,
                                         "414 at once", str(error))) from None
    assert response.status == 414, failure("U14.1 an endless target gets 414 at once", raw, "414",
                                           response.summary())


@pytest.mark.server_args("--max-target", "100")
def test_U14_1_max_target_flag(server):
    """--max-target sets the limit: a target of exactly that many bytes is served, one more byte gets 414."""
    target = "/" + "b" * 99
    expect_served(server, request("GET", target), target, "U14.1 target at --max-target (100) served")
    expect_error(server, request("GET", target + "b"), 414, "U14.1 target over --max-target (100): 414")


@pytest.mark.server_args(*PATIENT)
def test_U14_2_header_section_too_large(server):
    """A header section larger than --max-header-bytes gets 431, then close, even if it never ends."""
    requirement = "U14.2 header section over 16 KiB: 431, then close"
    many = [(f"X-Field-{i}", "v" * 100) for i in range(180)]  # about 20 KiB in 180 lines
    expect_error(server, request("GET", "/", headers=many), 431, requirement)
    expect_error(server, request("GET", "/", headers=[("X-Big", "v" * 20000)]), 431,
                 "U14.2 one header line over 16 KiB: 431, then close")
    raw = b"GET / HTTP/1.1\r\nHost: suite\r\n" + b"X-Endless: " + b"v" * 40000
    with Client.connect(server) as client:
        client.send(raw)
        try:
            response = client.response(timeout=PROMPT)
        except NoResponse as error:
            raise AssertionError(failure("U14.2 an endless header gets 431 at once", raw, "431 at once",
                                         str(error))) from None
    assert response.status == 431, failure("U14.2 an endless header gets 431 at once", raw, "431",
                                           response.summary())


@pytest.mark.server_args("--max-header-bytes", "4096", "--max-target", "1024")
def test_U14_2_max_header_bytes_flag(server):
    """--max-header-bytes sets the limit: a section well under it is served, one over it gets 431."""
    under = [(f"X-F{i}", "u" * 50) for i in range(45)]  # about 2,800 bytes
    over = [(f"X-F{i}", "o" * 50) for i in range(85)]  # about 5,200 bytes
    expect_served(server, request("GET", "/under", headers=under), "/under",
                  "U14.2 header section of 2.8 KB under --max-header-bytes 4096: served")
    expect_error(server, request("GET", "/over", headers=over), 431,
                 "U14.2 header section of 5.2 KB over --max-header-bytes 4096: 431")


def test_U14_3_generous_minimums(server):
    """At the default limits, a request line of 8,000 bytes and a request with 100 header fields are
    served."""
    target = "/" + "t" * (8000 - len("GET / HTTP/1.1"))
    raw = request("GET", target)
    assert len(raw.split(b"\r\n")[0]) == 8000
    expect_served(server, raw, target, "U14.3 a request line of 8,000 bytes is served")
    headers = [("Accept", "application/json")] + [(f"X-Field-{i:02}", f"value {i}") for i in range(98)]
    raw = request("GET", "/hundred", headers=headers)
    response, client = answer_of(server, raw, "U14.3 100 header fields are served")
    client.close()
    document = json.loads(response.body) if response.status == 200 else {}
    assert len(document.get("headers", [])) == 100, failure(
        "U14.3 100 header fields are served", raw, "200 with all 100 headers in the JSON", response.summary())


def _body_then(headers: list[tuple[str, str]], body: bytes, version: str = "HTTP/1.1") -> bytes:
    return request("POST", "/framing", version, headers=headers, body=body)


def test_U15_1_content_length_not_digits(server):
    """A Content-Length that is not all digits gets 400, then close."""
    cases = [_body_then([("Content-Length", value)], b"hello")
             for value in ("+5", "-1", "5a", "0x5", "5 5", "")]
    _errors(server, cases, 400, "U15.1 Content-Length not all digits: 400, then close")


def test_U15_2_conflicting_content_lengths(server):
    """Differing Content-Lengths (two lines, or 5, 6) get 400, then close; identical ones are served or get
    400."""
    cases = [_body_then([("Content-Length", "5"), ("Content-Length", "6")], b"hello!"),
             _body_then([("Content-Length", "5, 6")], b"hello!")]
    _errors(server, cases, 400, "U15.2 differing Content-Lengths: 400, then close")
    requirement = "U15.2 identical Content-Lengths: served with that body length, or 400 then close"
    for headers in ([("Content-Length", "5"), ("Content-Length", "5")], [("Content-Length", "5, 5")]):
        raw = _body_then(headers, b"hello") + request("GET", "/next")
        with Client.connect(server) as client:
            client.send(raw)
            try:
                first = client.response()
                if first.status == 400:
                    closed, extra = client.closes()
                    assert closed and not extra, failure(requirement, raw, "400, then EOF",
                                                         f"closed={closed}, after: {extra!r}")
                    continue
                second = client.response()
            except NoResponse as error:
                raise AssertionError(failure(requirement, raw, "an answer", str(error))) from None
        assert [(first.status, first.body), (second.status, second.body)] == [
            (200, b"/framing"), (200, b"/next")], failure(requirement, raw, "200 /framing, 200 /next",
                                                         f"{first.summary()} / {second.summary()}")


@pytest.mark.smoke
def test_U15_3_content_length_and_transfer_encoding(server):
    """Content-Length with Transfer-Encoding gets 400, then close; the bytes after the headers are never
    served."""
    smuggled = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: suite\r\n\r\n"
    cases = [_body_then([("Content-Length", str(len(smuggled))), ("Transfer-Encoding", "chunked")], smuggled),
             _body_then([("Transfer-Encoding", "chunked"), ("Content-Length", "3")], smuggled),
             _body_then([("Content-Length", "5"), ("Transfer-Encoding", "identity")], b"hello"),
             _body_then([("Transfer-Encoding", "identity"), ("Content-Length", "5")], b"hello")]
    _errors(server, cases, 400, "U15.3 Content-Length and Transfer-Encoding: 400, then close")


def test_U15_4_chunked_not_last(server):
    """A Transfer-Encoding in which chunked is not the last coding, or appears twice, gets 400, then close."""
    body = b"5\r\nhello\r\n0\r\n\r\n"
    cases = [_body_then([("Transfer-Encoding", "chunked, gzip")], body),
             _body_then([("Transfer-Encoding", "chunked, chunked")], body),
             _body_then([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], body),
             _body_then([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "gzip")], body)]
    _errors(server, cases, 400, "U15.4 chunked not last: 400, then close")


def test_U15_5_transfer_encoding_in_http10(server):
    """Transfer-Encoding in an HTTP/1.0 request gets 400, then close."""
    body = b"5\r\nhello\r\n0\r\n\r\n"
    cases = [_body_then([("Transfer-Encoding", "chunked")], body, "HTTP/1.0")]
    _errors(server, cases, 400, "U15.5 Transfer-Encoding in HTTP/1.0: 400, then close",
            then=request("GET", "/smuggled", "HTTP/1.0"))


@pytest.mark.server_args(*SMALL_BODY)
def test_U15_6_bad_chunk(server):
    """A bad chunk (size not hex, empty, too large; data not followed by CRLF) gets 400 (413 if too large),
    then close."""
    chunked = [("Transfer-Encoding", "chunked")]
    cases = [_body_then(chunked, b"zz\r\nhello\r\n0\r\n\r\n"), _body_then(chunked, b"\r\nhello\r\n0\r\n\r\n"),
             _body_then(chunked, b"-5\r\nhello\r\n0\r\n\r\n"), _body_then(chunked, b"5\r\nhelloXX0\r\n\r\n"),
             _body_then(chunked, b"0x5\r\nhello\r\n0\r\n\r\n"),
             _body_then(chunked, b"5 5\r\nhello\r\n0\r\n\r\n")]
    _errors(server, cases, 400, "U15.6 bad chunk: 400, then close")
    oversize = [_body_then(chunked, b"ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
                _body_then(chunked, b"10000\r\nhello\r\n0\r\n\r\n")]
    _errors(server, oversize, (400, 413), "U15.6 chunk size beyond --max-body: 400 or 413, then close")


def test_U15_7_unknown_transfer_coding(server):
    """Any other Transfer-Encoding (gzip, identity, gzip, chunked) gets 501, then close."""
    cases = [_body_then([("Transfer-Encoding", "gzip")], b""),
             _body_then([("Transfer-Encoding", "identity")], b""),
             _body_then([("Transfer-Encoding", "gzip, chunked")], b"5\r\nhello\r\n0\r\n\r\n"),
             _body_then([("Transfer-Encoding", "x-custom, chunked")], b"0\r\n\r\n")]
    _errors(server, cases, 501, "U15.7 unknown transfer coding: 501, then close")


@pytest.mark.smoke
def test_U16_1_declared_body_too_large(server):
    """A declared Content-Length above --max-body gets 413 at once, before any byte of the body is sent, then
    close."""
    # Only the headers are sent: the answer must not wait for the 2 MB body.
    expect_error(server, request("POST", "/big", headers=[("Content-Length", "2000000")]), 413,
                 "U16.1 Content-Length 2,000,000 over the 1 MiB default: 413 at once, then close")


@pytest.mark.server_args(*SMALL_BODY)
def test_U16_1_max_body_flag(server):
    """--max-body sets the limit: a body of exactly that size is served, one byte more gets 413."""
    expect_served(server, request("POST", "/fits", headers=[("Content-Length", "1000")], body=b"x" * 1000),
                  "/fits", "U16.1 a body of exactly --max-body (1000) is served")
    expect_error(server, request("POST", "/big", headers=[("Content-Length", "1001")]), 413,
                 "U16.1 Content-Length 1001 over --max-body 1000: 413, then close")


@pytest.mark.server_args(*SMALL_BODY)
def test_U16_2_chunked_body_too_large(server):
    """A chunked body whose total size grows past --max-body gets 413, then close."""
    chunk = b"258\r\n" + b"c" * 600 + b"\r\n"  # 0x258 = 600
    expect_error(server, request("POST", "/grow", headers=[("Transfer-Encoding", "chunked")], body=chunk * 2),
                 413, "U16.2 chunked body of 1200 bytes over --max-body 1000: 413, then close")
    fits = b"1F4\r\n" + b"c" * 500 + b"\r\n"  # 0x1F4 = 500, twice = exactly 1000
    expect_served(server, request("POST", "/fits", headers=[("Transfer-Encoding", "chunked")],
                                  body=fits * 2 + b"0\r\n\r\n"), "/fits",
                  "U16.2 a chunked body of exactly --max-body (1000) is served")


# -- edge shapes of the limits above (issue 16, item 8) ------------------------------------------

@pytest.mark.server_args(*PATIENT)
def test_U14_2_many_tiny_fields(server):
    """The header-section limit reached in another shape: thousands of tiny fields rather than a few big
    ones get 431, then close, at once."""
    tiny = [(f"t{i}", "v") for i in range(3000)]  # about 26 KiB in 3,000 lines of 6 to 9 bytes
    expect_error(server, request("GET", "/", headers=tiny), 431,
                 "U14.2 3,000 tiny header fields (about 26 KiB) over 16 KiB: 431, then close")


def test_U16_1_number_far_past_limit(server):
    """A Content-Length far past --max-body, past any machine integer too, gets 413 at once, then close."""
    for digits in ("99999999999999999999", "9" * 40, "1" + "0" * 100):
        expect_error(server, request("POST", "/big", headers=[("Content-Length", digits)]), 413,
                     f"U16.1 Content-Length of {len(digits)} digits: 413 at once, then close")


@pytest.mark.server_args(*SMALL_BODY)
def test_U15_6_chunk_size_far_past_limit(server):
    """A chunk size far past --max-body, past any machine integer too, gets 400 or 413, then close."""
    for size in (b"FFFFFFFFFFFFFFFFFFFF", b"1" + b"0" * 40):
        expect_error(server, request("POST", "/grow", headers=[("Transfer-Encoding", "chunked")],
                                     body=size + b"\r\nccc"), (400, 413),
                     f"U15.6 a chunk size of {len(size)} hex digits: 400 or 413, then close")
