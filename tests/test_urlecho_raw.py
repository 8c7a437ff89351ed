"""In-process tests of impl_raw/urlecho.py's UrlEchoConnection: what the suite cannot see from outside."""

from __future__ import annotations

import socket

import pytest

from impl_raw import urlecho
from impl_raw.loop import EventLoop
from netrosetta import rules
from netrosetta.launch import Config
from netrosetta.rules import RequestParser

REQUEST = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def pair():
    """(connection, client socket) on a socketpair; the loop is driven by hand, one callback at a time."""
    loop = EventLoop("default")
    server, client = socket.socketpair()
    server.setblocking(False)
    client.settimeout(5)
    connection = urlecho.UrlEchoConnection(loop, server, Config(impl="raw", behaviour="urlecho"))
    yield connection, client
    connection.close()
    client.close()
    loop.close()


def read_available(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    chunks = []
    try:
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(5)
    return b"".join(chunks)


def test_pipelined_answers_in_order(pair) -> None:
    connection, client = pair
    client.sendall(REQUEST + b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n" + REQUEST.replace(b"/a", b"/c"))
    connection.on_readable()
    data = read_available(client)
    first, head, third = data.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(b"\r\n\r\n/a")
    assert b"Content-Length: 2\r\n" in head and head.endswith(b"\r\n\r\n")  # HEAD: no body
    assert third.endswith(b"\r\n\r\n/c")


def test_backpressure_stops_reading_then_resumes(pair) -> None:
    connection, client = pair
    # Enough pipelined requests that their answers pass the high-water mark in one read.
    burst = REQUEST * (urlecho.READ_SIZE // len(REQUEST))
    client.setblocking(False)
    sent = 0
    while connection.reading:
        try:
            sent += client.send(burst)
        except BlockingIOError:
            pass
        connection.on_readable()
    assert len(connection.outgoing) >= urlecho.HIGH_WATER
    client.settimeout(5)
    while not connection.reading:
        read_available(client)
        connection.flush()
    assert len(connection.outgoing) < urlecho.LOW_WATER


def test_a_parser_bug_costs_one_connection_not_the_server(pair, monkeypatch) -> None:
    connection, client = pair

    def broken(self, data):
        raise IndexError("a bug")

    monkeypatch.setattr(RequestParser, "feed", broken)
    client.sendall(REQUEST)
    connection.on_readable()
    assert read_available(client).startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert connection.closing


def test_date_formatted_once_per_second() -> None:
    date = rules.HttpDate()
    first = date.now()
    assert first.endswith(b" GMT") and len(first) == 29
    second = date.second
    assert date.now() is first or date.second != second  # the same bytes until the clock ticks


def test_keep_alive_requests_do_not_pile_up_timers(pair) -> None:
    connection, client = pair
    for _ in range(200):
        client.sendall(REQUEST)
        connection.on_readable()
        read_available(client)
    # One lazily re-armed timer per connection, not one per request.
    assert len(connection.loop._timers) <= 2


def test_the_common_answer_template_is_the_general_one() -> None:
    """OK_TEXT, the shortcut for a text answer without a Connection field, renders the same bytes."""
    date = rules.http_date.now()
    assert urlecho.OK_TEXT % (2, date, b"/a") == urlecho.OK % (urlecho.TEXT_BYTES, 2, date, b"", b"/a")
