"""Unit tests for impl_raw/response.py: table-driven cases per rule, chunking-independence by hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl_raw.response import Data, EndOfMessage, Error, Response, ResponseParser

MAX_BODY = 1000


def summary(events: list) -> list[tuple]:
    """Events as comparable tuples, body bytes joined (their split depends on chunking)."""
    out: list[tuple] = []
    for event in events:
        if isinstance(event, Response):
            out.append(("response", event.status, event.reason, tuple(event.headers), event.keep_alive))
        elif isinstance(event, Data):
            if out and out[-1][0] == "data":
                out[-1] = ("data", out[-1][1] + bytes(event.data))
            else:
                out.append(("data", bytes(event.data)))
        elif isinstance(event, EndOfMessage):
            out.append(("end",))
        else:
            assert isinstance(event, Error)
            out.append(("error", event.kind))
    return out


def parse(data: bytes, cuts: list[int] = (), eof: bool = False) -> tuple[list[tuple], ResponseParser]:
    parser = ResponseParser(MAX_BODY)
    events: list = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        events += parser.feed(data[start:cut])
        start = max(start, cut)
    if eof:
        events += parser.eof()
    return summary(events), parser


def ok(body: bytes, headers: tuple = (), keep_alive: bool = True, status: int = 200,
       reason: str = "OK") -> list[tuple]:
    events = [("response", status, reason, headers, keep_alive)]
    if body:
        events.append(("data", body))
    return [*events, ("end",)]


CL5 = (("Content-Length", "5"),)
CHUNKED = (("Transfer-Encoding", "chunked"),)

# (id, bytes, eof after them?, expected summary)
VALID = [
    ("content-length", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", False, ok(b"hello", CL5)),
    ("empty body", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False,
     ok(b"", (("Content-Length", "0"),))),
    ("identical lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", False,
     ok(b"hello", (("Content-Length", "5, 5"),))),
    ("chunked, extension and trailer", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"3;a=b\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n", False, ok(b"hello", CHUNKED)),
    ("read to close", b"HTTP/1.1 200 OK\r\n\r\nhello", True, ok(b"hello", keep_alive=False)),
    ("other coding: read to close", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", True,
     ok(b"zzz", (("Transfer-Encoding", "gzip"),), keep_alive=False)),
    ("TE wins over CL, no reuse", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n", False,
     ok(b"hello", (("Content-Length", "99"), ("Transfer-Encoding", "chunked")), keep_alive=False)),
    ("1xx skipped", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", False, ok(b"hello", CL5)),
    ("204 has no body", b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", False,
     ok(b"", (("Content-Length", "7"),), status=204, reason="No Content")),
    ("304 has no body", b"HTTP/1.1 304 Not Modified\r\n\r\n", False,
     ok(b"", status=304, reason="Not Modified")),
    ("no reason phrase", b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", False,
     ok(b"", (("Content-Length", "0"),), status=404, reason="")),
    ("Connection: close", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", False,
     ok(b"hello", (("Connection", "close"), *CL5), keep_alive=False)),
    ("HTTP/1.0 closes", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", False,
     ok(b"hello", CL5, keep_alive=False)),
    ("HTTP/1.0 keep-alive", b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\nhello",
     False, ok(b"hello", (("Connection", "Keep-Alive"), *CL5))),
    ("body of exactly max", b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * MAX_BODY, True,
     ok(b"x" * MAX_BODY, keep_alive=False)),
]

# (id, bytes, eof after them?, expected error kind)
INVALID = [
    ("not HTTP", b"hello world\r\n\r\n", False, "bad-response"),
    ("garbage refused before a blank line", b"SSH-2.0-OpenSSH", False, "bad-response"),
    ("no status code", b"HTTP/1.1 OK\r\n\r\n", False, "bad-response"),
    ("HTTP/2", b"HTTP/2.0 200 OK\r\n\r\n", False, "bad-response"),
    ("bare LF", b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", False, "bad-response"),
    ("obs-fold", b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", False, "bad-response"),
    ("length not a number", b"HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\nhello", False, "bad-response"),
    ("differing lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", False,
     "bad-response"),
    ("chunk size not hex", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", False,
     "bad-response"),
    ("chunk without CRLF", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX", False,
     "bad-response"),
    ("101 never asked for", b"HTTP/1.1 101 Switching Protocols\r\n\r\n", False, "bad-response"),
    ("declared too large", b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", False, "too-large"),
    ("chunked too large", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", False,
     "too-large"),
    ("read to close too large", b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (MAX_BODY + 1), False, "too-large"),
    ("closed in the head", b"HTTP/1.1 200 OK\r\nContent-Le", True, "reset"),
    ("closed in the body", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello", True, "reset"),
    ("closed in the chunks", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", True,
     "reset"),
]


@pytest.mark.parametrize("data, eof, expected", [case[1:] for case in VALID], ids=[case[0] for case in VALID])
def test_valid_answers(data: bytes, eof: bool, expected: list[tuple]) -> None:
    assert parse(data, eof=eof)[0] == expected


@pytest.mark.parametrize("data, eof, kind", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_refused_answers_end_with_one_error(data: bytes, eof: bool, kind: str) -> None:
    events, parser = parse(data, eof=eof)
    assert events[-1] == ("error", kind)
    assert parser.feed(b"HTTP/1.1 200 OK\r\n\r\n") == []  # nothing more is parsed


def test_bytes_after_the_answer_are_left_over() -> None:
    events, parser = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200")
    assert events == ok(b"hi", (("Content-Length", "2"),))
    assert parser.leftover == b"HTTP/1.1 200"


def test_no_byte_at_all_is_a_reset_before_the_head() -> None:
    parser = ResponseParser(MAX_BODY)
    [error] = parser.eof()
    assert (error.kind, error.reason) == ("reset", "connection closed before the head")


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(case=st.sampled_from(VALID + INVALID),
       cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_any_chunking_gives_the_same_events(case: tuple, cuts: list[int]) -> None:
    _, data, eof, _ = case
    assert parse(data, cuts, eof)[0] == parse(data, eof=eof)[0]
