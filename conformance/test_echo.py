"""Clauses E (TCP echo) of SPEC.md, checked from outside through sockets."""

import os
import socket

import pytest

from conformance.harness import failure, recv_exactly, recv_until_eof

pytestmark = pytest.mark.behaviour("echo")


@pytest.mark.smoke
def test_E1_echo_bytes_unchanged(server):
    """Every byte received is sent back on the same connection, unchanged and in order."""
    payload = os.urandom(100_000) + bytes(range(256))
    with server.connect() as sock:
        sock.sendall(payload)
        got = recv_exactly(sock, len(payload))
    assert got == payload, failure("E1 echo unchanged", f"{len(payload)} random bytes",
                                   f"the same {len(payload)} bytes", f"{len(got)} bytes, equal prefix="
                                   f"{got == payload[:len(got)]}")


@pytest.mark.smoke
def test_E3_half_close(server):
    """After the client shuts down its sending side, everything owed comes back, then EOF."""
    payload = os.urandom(3 * 1024 * 1024)
    with server.connect() as sock:
        sock.sendall(payload[:1024])
        sock.shutdown(socket.SHUT_WR)  # harmless race: the server may see EOF with data pending
        got, closed = recv_until_eof(sock)
    assert (got, closed) == (payload[:1024], True), failure(
        "E3 half-close: send everything owed, then close", "1024 bytes then SHUT_WR",
        "1024 bytes then EOF", f"{len(got)} bytes, closed={closed}")
