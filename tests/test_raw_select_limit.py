"""impl_raw under ``--loop select``: clients beyond FD_SETSIZE are refused cleanly and logged, not a crash.

select(2) takes bit sets of FD_SETSIZE (1,024) bits, so a descriptor at or above it cannot be watched
at all; impl_raw/loop.py closes such a client at once and says so on stderr. This test opens more
connections than that and checks the server survives, logs the reason, keeps serving the clients it
has, and serves new ones again once the crowd has gone.
"""

from __future__ import annotations

import socket

from netrosetta_conformance.clients import pump, raise_own_fd_limit, wait_until
from netrosetta_conformance.harness import VARIANTS, failure, launch

CROWD = 1100  # more than FD_SETSIZE (1,024) descriptors on the server side


def echoes(sock: socket.socket, message: bytes) -> bool:
    got, _ = pump(sock, [message], expect=len(message))
    return got == message


def test_select_refuses_clients_beyond_fd_setsize() -> None:
    raise_own_fd_limit()
    variant = next(v for v in VARIANTS if v.id == "raw-select")
    server = launch(variant, "echo")
    crowd: list[socket.socket] = []
    try:
        early = server.connect()
        assert echoes(early, b"first in\n")
        for _ in range(CROWD):
            crowd.append(server.connect())
        logged = wait_until(lambda: "FD_SETSIZE" in server.stderr_text())
        assert logged, failure("clients beyond FD_SETSIZE are refused and logged",
                               f"{CROWD} connections to --loop select", "a log line naming FD_SETSIZE",
                               server.stderr_text()[-1000:])
        # The last client got a descriptor beyond the limit: it was closed, not left hanging.
        last_got, last_closed = pump(crowd[-1], [b"anyone there?\n"])
        assert server.alive(), failure("the select loop survives the crowd", f"{CROWD} connections",
                                       "the server still running", server.stderr_text()[-2000:])
        assert last_closed, failure("a refused client is closed", f"connection {CROWD} of {CROWD}",
                                    "EOF", last_got)
        assert echoes(early, b"still here\n"), "an early connection stopped being served"
        assert echoes(crowd[100], b"one of the crowd\n"), "an accepted client of the crowd is not served"
        for sock in crowd:
            sock.close()
        crowd.clear()
        # With the crowd gone, descriptors are free again and a new client is served.
        with server.connect() as late:
            assert echoes(late, b"after the crowd\n"), "a new client is not served after the crowd left"
        assert "Traceback" not in server.stderr_text()
        early.close()
    finally:
        for sock in crowd:
            sock.close()
        status, stderr = server.stop()
    assert status == 0, f"exit status {status} after SIGTERM; stderr:\n{stderr[-2000:]}"
