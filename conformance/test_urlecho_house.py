"""Clauses U20 of SPEC.md (URL echo: house rules), from outside.

Where RFC 9112 lets a server choose, the clauses U1-U19 accept every choice it allows; netrosetta's
own implementations all make the same one, pinned here. These tests fail for our implementations
and only show what an outside server (``--server-cmd``) does: conftest.py marks them so.
"""

import pytest

from netrosetta_conformance.harness import failure
from netrosetta_conformance.http_client import Client, NoResponse, expect_error, expect_served, request

pytestmark = [pytest.mark.behaviour("urlecho"), pytest.mark.house_rule]

AFTER = request("GET", "/after-the-bad-one")  # must never be answered
PATIENT = ("--header-timeout", "30")  # an answer within PROMPT cannot be a timeout's
PROMPT = 10.0
TIMEOUTS = ("--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "10")
BODY_TIMEOUT = 1.0
MARGIN = 4.0  # on top of a timeout, for a loaded machine
# RFC 9110 section 15's reason phrases: the suite's own table, never the implementations'.
RFC9110_PHRASES = {
    400: "Bad Request", 405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large",
    414: "URI Too Long", 431: "Request Header Fields Too Large", 501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


@pytest.mark.server_args(*PATIENT)
def test_U20_1_bare_lf_refused(server):
    """A request whose lines end in a bare LF gets 400 at once, then close."""
    for raw in (b"GET /lf HTTP/1.1\nHost: suite\n\n", b"GET /lf HTTP/1.1\r\nHost: suite\n\n",
                b"GET /lf HTTP/1.1\nHost: suite\r\n\r\n", b"GET /lf HTTP/1.1\r\nHost: suite\r\nX: y\n\r\n",
                # Inside a field line, as a smuggler sends it (U13.8).
                b"POST /lf HTTP/1.1\r\nHost: suite\r\nX: a\nContent-Length: 3\r\n\r\nabc",
                b"POST /lf HTTP/1.1\r\nHost: suite\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"):
        expect_error(server, raw, 400, "U20.1 bare LF: 400 at once, then close", AFTER)
    # The head has not ended, and never will: the bare LF already proves the request bad.
    for raw in (b"GET /lf HTTP/1.1\r\nHost: suite\nX-More: ", b"GET /lf HTTP/1.1\nHost: suite\r\n"):
        expect_error(server, raw, 400, "U20.1 bare LF in a head not yet complete: 400 at once, then close")


def test_U20_2_identical_content_lengths_refused(server):
    """Identical duplicate Content-Lengths, in two lines or in one list, get 400, then close."""
    for headers in ([("Content-Length", "5"), ("Content-Length", "5")], [("Content-Length", "5, 5")],
                    [("Content-Length", "5,5")]):
        raw = request("POST", "/dup", headers=headers, body=b"hello")
        expect_error(server, raw, 400, "U20.2 identical Content-Lengths: 400, then close", AFTER)


@pytest.mark.server_args(*TIMEOUTS)
def test_U20_3_body_deadline_answers_408(server):
    """A body that has not fully arrived at --body-timeout gets 408, then close."""
    requirement = "U20.3 slow body: 408 within --body-timeout (1 s) + margin, then close"
    head = request("POST", "/slow-body", headers=[("Content-Length", "100")])
    with Client.connect(server) as client:
        client.send(head + b"b")
        try:
            response = client.response("POST", timeout=BODY_TIMEOUT + MARGIN)
        except NoResponse as error:
            raise AssertionError(failure(requirement, head + b"b (then nothing)", "408, then close",
                                         str(error))) from None
        closed, extra = client.closes(timeout=2)
    assert (response.status, closed, extra) == (408, True, b""), failure(
        requirement, head + b"b (then nothing)", "408, then EOF",
        f"{response.summary()}; closed={closed}; after: {extra!r}")


@pytest.mark.server_args(*PATIENT)
def test_U20_4_target_limit_first(server):
    """A request-target over --max-target that also overflows --max-header-bytes gets 414, not 431."""
    expect_error(server, request("GET", "/" + "a" * 16384), 414,
                 "U20.4 a 16 KiB target (over both limits): 414, then close", AFTER)
    raw = b"GET /" + b"a" * 40000  # no line end at all: the target limit is passed first
    expect_error(server, raw, 414, "U20.4 an endless 40 KB target: 414 at once, then close")


def test_U20_5_empty_host_and_port(server):
    """An empty Host value and a Host with an empty port are valid (RFC 9112 3.2, RFC 3986 3.2.3) and
    served."""
    for value in ("", "example.com:", "[::1]:"):
        expect_served(server, request("GET", "/h", host=False, headers=[("Host", value)]), "/h",
                      f"U20.5 Host {value!r} served")


@pytest.mark.server_args(*PATIENT, "--max-body", "1000")
def test_U20_6_one_error_answer(server):
    """Every error answer has RFC 9110's reason phrase and a one-line body: status, phrase, a colon,
    the rule broken, LF."""
    cases = [
        (b"GE(T / HTTP/1.1\r\nHost: suite\r\n\r\n", 400),
        (request("CONNECT", "example.com:443"), 405),
        (request("POST", "/big", headers=[("Content-Length", "1001")]), 413),
        (request("GET", "/" + "a" * 8193), 414),
        (request("GET", "/", headers=[("X-Big", "v" * 20000)]), 431),
        (request("POST", "/", headers=[("Transfer-Encoding", "gzip")]), 501),
        (request("GET", "/", "HTTP/2.0"), 505),
    ]
    for raw, status in cases:
        requirement = f"U20.6 the {status} answer: RFC 9110's phrase, body '{status} PHRASE: why' in one line"
        response = expect_error(server, raw, status, requirement)
        phrase = RFC9110_PHRASES[status]
        body = response.body.decode("latin-1")
        expected = f"HTTP/1.1 {status} {phrase}, body '{status} {phrase}: <why>\\n'"
        assert response.reason == phrase, failure(requirement, raw, expected, response.summary())
        assert (body.startswith(f"{status} {phrase}: ") and body.endswith("\n") and body.count("\n") == 1
                and len(body) > len(f"{status} {phrase}: \n")), failure(
            requirement, raw, expected, response.summary())


def test_U20_7_control_characters_in_values_refused(server):
    """A control character other than HTAB anywhere in a header value, VT and FF included, gets 400, then
    close."""
    for value in (b"\x0bvt", b"ff\x0c", b"a\x0bb", b"a\x01b", b"a\x1fb", b"a\x7fb", b"\x0c"):
        raw = b"GET / HTTP/1.1\r\nHost: suite\r\nX-Ctl: %s\r\n\r\n" % value
        expect_error(server, raw, 400, f"U20.7 a control character in a value ({value!r}): 400, then close",
                     AFTER)
