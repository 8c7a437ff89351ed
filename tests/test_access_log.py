"""The URL echo's access log: one line on stderr per answered request, unless --quiet.

Not a conformance clause (a server in another language may log as it likes, or not at all), but
netrosetta's implementations agree on it, each in its framework's own format: twisted.web's
combined log, Tornado's tornado.access line, impl_raw's own.
"""

from __future__ import annotations

import pytest

from netrosetta_conformance.clients import wait_until
from netrosetta_conformance.harness import VARIANTS, Variant, launch, recv_exactly

PROBE = "/access-log-probe?n=1"
# Every implementation and model that serves the URL echo (other loops log alike).
URLECHO_VARIANTS = [v for v in VARIANTS if v.default and "urlecho" in v.behaviours]


@pytest.mark.parametrize("quiet", [False, True], ids=["logging", "quiet"])
@pytest.mark.parametrize("variant", URLECHO_VARIANTS, ids=lambda v: v.id)
def test_urlecho_logs_each_answered_request_unless_quiet(variant: Variant, quiet: bool) -> None:
    variant_id = variant.id
    server = launch(variant, "urlecho", args=("--quiet",) if quiet else ())
    try:
        with server.connect() as sock:
            sock.sendall(f"GET {PROBE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = recv_exactly(sock, 4096)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(PROBE.encode()), answer
        logged = wait_until(lambda: PROBE in server.stderr_text(), timeout=0 if quiet else 5)
    finally:
        status, stderr = server.stop()
    assert status == 0, stderr
    if quiet:
        assert stderr == "", f"{variant_id} --quiet wrote to stderr:\n{stderr}"
    else:
        assert logged, f"{variant_id}: no access-log line with the target:\n{stderr}"
        line = next(x for x in stderr.splitlines() if PROBE in x)
        assert "200" in line and "GET" in line, line
