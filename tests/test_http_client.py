"""The U tests' HTTP client (conformance/http_client.py): it reads good answers and lets no bad one pass."""

import socket

import pytest

from netrosetta_conformance.http_client import Client, NoResponse, check_date, check_length

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n/a"


class _PairClient(Client):
    """A Client on one end of a socketpair; the test plays the server on the other end."""

    def __init__(self, answer: bytes, close: bool) -> None:
        ours, self.peer = socket.socketpair()
        super().__init__(ours)
        self.peer.sendall(answer)
        if close:
            self.peer.close()

    def close(self) -> None:
        super().close()
        self.peer.close()


def _client(answer: bytes, close: bool = True) -> Client:
    """A Client whose peer has already sent ``answer`` (then closed, if ``close``)."""
    return _PairClient(answer, close)


GOOD = [
    # (what the server sent, method, [(status, body, informational), ...])
    (OK, "GET", [(200, b"/a", [])]),
    (OK + OK, "GET", [(200, b"/a", []), (200, b"/a", [])]),  # pipelined answers, one parser each
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD", [(200, b"", [])]),
    (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, "POST", [(200, b"/a", [100])]),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n/aHTTP/1.0 200 OK\r\n"
     b"Connection: keep-alive\r\nContent-Length: 2\r\n\r\n/b", "GET", [(200, b"/a", []), (200, b"/b", [])]),
]

BAD = [
    b"",  # closed without a word
    b"/a",  # a body without a status line (an HTTP/0.9 answer)
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n/a",  # shorter than announced, then closed
    b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n/a",  # not a length
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n/a",  # two lengths
    OK + b"\x00garbage\r\n\r\n",  # bytes after a good answer that are no answer
    b"HTTP/1.1 2000 OK\r\n\r\n",  # not a status code
]


@pytest.mark.parametrize("answer, method, expected", GOOD)
def test_reads_good_answers(answer: bytes, method: str, expected: list) -> None:
    with _client(answer) as client:
        got = [client.response(method, timeout=2) for _ in expected]
    assert [(r.status, r.body, r.informational) for r in got] == expected


@pytest.mark.parametrize("answer", BAD)
def test_rejects_bad_answers(answer: bytes) -> None:
    with _client(answer) as client, pytest.raises(NoResponse):
        client.response(timeout=2)
        client.response(timeout=2)  # for answers whose damage shows in what follows them


def test_silence_is_bounded() -> None:
    with _client(b"HTTP/1.1 200 OK\r\n", close=False) as client, pytest.raises(NoResponse, match="within"):
        client.response(timeout=0.2)


def test_closes_reports_bytes_after_the_answer() -> None:
    with _client(OK + b"junk") as client:
        client.response()
        assert client.closes(timeout=2) == (True, b"junk")


def test_checks() -> None:
    with _client(OK) as client:
        old = client.response()
    assert check_length(old) is None
    assert "off the real time" in check_date(old)
    with _client(b"HTTP/1.1 200 OK\r\nDate: Sunday, 06-Nov-94 08:49:37 GMT\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n2\r\n/a\r\n0\r\n\r\n") as client:
        chunked = client.response()
    assert "IMF-fixdate" in check_date(chunked)
    assert "Transfer-Encoding" in check_length(chunked)
