"""The re-cutting proxy (conformance/proxy.py): it changes the cuts of a byte stream and nothing else,
and through it the suite finds a server that assumes a request arrives in one piece."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path

from netrosetta_conformance.clients import reset
from netrosetta_conformance.harness import recv_until_eof
from netrosetta_conformance.proxy import Proxy

REPO = Path(__file__).resolve().parent.parent
REQUEST = b"GET /some/target HTTP/1.1\r\nHost: suite\r\nX-Field: value\r\n\r\n"


class Recorder:
    """A one-connection-at-a-time server that records the size of every read, then echoes it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.reads: list[list[bytes]] = []  # per connection
        self.ends: list[str] = []  # per connection: "eof" or "reset"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            reads: list[bytes] = []
            self.reads.append(reads)
            with conn:
                try:
                    while data := conn.recv(65536):
                        reads.append(data)
                        conn.sendall(data)
                    conn.sendall(b"bye")  # after the client's half-close, still owed
                    self.ends.append("eof")
                except ConnectionResetError:
                    self.ends.append("reset")


def test_proxy_recuts_and_changes_nothing_else() -> None:
    recorder = Recorder()
    proxy = Proxy(recorder.address)
    try:
        for _ in range(40):
            with socket.create_connection(proxy.address, timeout=10) as sock:
                sock.sendall(REQUEST * 3)
                sock.shutdown(socket.SHUT_WR)
                got, closed = recv_until_eof(sock)
            assert (got, closed) == (REQUEST * 3 + b"bye", True)
        with socket.create_connection(proxy.address, timeout=10) as sock:
            sock.sendall(REQUEST)
            assert sock.recv(65536)
            reset(sock)
        for _ in range(100):
            if len(recorder.ends) == 41:
                break
            threading.Event().wait(0.05)
    finally:
        proxy.close()
        recorder.listener.close()
    assert recorder.ends == ["eof"] * 40 + ["reset"]
    reads = recorder.reads[:40]
    assert all(b"".join(each) == REQUEST * 3 for each in reads)
    # Re-cut: some streams arrived in more pieces than they were sent in, some cut between CR and LF.
    assert sum(len(each) > 1 for each in reads) >= 10
    assert any(piece.endswith(b"\r") for each in reads for piece in each[:-1])


def run_clauses(via_proxy: bool) -> subprocess.CompletedProcess:
    broken = shlex.join([sys.executable, str(REPO / "tests/broken/urlecho_whole_reads.py")])
    command = [sys.executable, "-m", "pytest", "conformance/test_urlecho_answer.py", "-q",
               "-p", "no:cacheprovider", "-n", "0", "-k", "test_U1_1_ or test_U2_ or test_U5_",
               "--server-cmd", broken]
    if via_proxy:
        command.append("--via-proxy")
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_proxy_column_finds_a_server_that_expects_whole_reads() -> None:
    alone, through = run_clauses(False), run_clauses(True)
    assert alone.returncode == 0, f"without the proxy it should pass:\n{alone.stdout[-2000:]}"
    assert through.returncode == 1, f"through the proxy it should fail:\n{through.stdout[-2000:]}"
