"""--host: every implementation listens where it is told, IPv4 loopback, the IPv4 wildcard and IPv6
loopback alike, and its READY line names that address (SPEC.md, section L)."""

from __future__ import annotations

import socket

import pytest

from netrosetta.registry import IMPLEMENTATIONS
from netrosetta_conformance.clients import pump
from netrosetta_conformance.harness import VARIANTS, launch

HOSTS = ["127.0.0.1", "0.0.0.0", "::1"]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def listed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_host(impl: str, host: str) -> None:
    if host == "::1" and not ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    variant = next(v for v in VARIANTS if v.id == impl)
    # Connect through the address listened on; the wildcard through the loopback it covers.
    reach = "127.0.0.1" if host == "0.0.0.0" else host
    # 127.0.0.1 is the default every other test runs on: one behaviour is enough to check the option.
    behaviours = {"127.0.0.1": ["echo"], "0.0.0.0": ["echo", "urlecho"],
                  "::1": ["echo", "urlecho", "multiport"]}[host]
    for behaviour in behaviours:
        ports = 2 if behaviour == "multiport" else 1
        server = launch(variant, behaviour, ports, ("--host", host, "--quiet"))
        try:
            assert [h for h, _ in server.addresses] == [host] * ports, (behaviour, server.addresses)
            for port in server.ports:
                with socket.create_connection((reach, port), timeout=10) as sock:
                    if behaviour == "urlecho":
                        target = b"/over/" + listed(host).encode()
                        got, closed = pump(sock, [b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                                  % target], shut_wr=True)
                        assert closed and got.startswith(b"HTTP/1.1 200 ") and got.endswith(target), got
                    else:
                        got, _ = pump(sock, [b"hello\n"], expect=len(f"{port} hello\n"))
                        expected = f"{port} hello\n" if behaviour == "multiport" else "hello\n"
                        assert got == expected.encode(), (behaviour, got)
        finally:
            status, stderr = server.stop()
        assert status == 0, (behaviour, stderr)
