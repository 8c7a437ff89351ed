"""An HTTP/1.1 test client for the U clauses: raw bytes out, strictly parsed responses in.

The suite must be able to send malformed requests, so requests are written as raw bytes. What comes
back is parsed by h11, so a framing error in a server cannot hide: each response gets a fresh
client-role h11 connection fed a synthetic request (only its method matters, for HEAD's bodiless
answer), then the bytes received; whatever h11 did not consume is carried over to the next response.
A fresh parser per response is what lets the suite read pipelined answers, which h11's own client
never has in flight, and HTTP/1.0 keep-alive answers, which h11 would treat as closing.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import h11

from netrosetta_conformance.harness import IO_TIMEOUT, Server, failure

CRLF = "\r\n"
TEXT_PLAIN = "text/plain; charset=utf-8"
# RFC 9110 §5.6.7: IMF-fixdate, the one date form a server may generate.
IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT$")


class NoResponse(AssertionError):
    """No complete, well-formed response arrived (silence, EOF, reset or a framing error)."""


@dataclass
class Response:
    """One parsed response: status, headers as received (names lowercased), body, interim statuses."""

    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    informational: list[int] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        return [value for key, value in self.headers if key == name.lower()]

    def header(self, name: str) -> str | None:
        """The value of ``name`` if it appears exactly once, else None."""
        values = self.values(name)
        return values[0] if len(values) == 1 else None

    def tokens(self, name: str) -> list[str]:
        """A comma-list header's tokens, lowercased (e.g. Connection)."""
        return [t.strip().lower() for value in self.values(name) for t in value.split(",") if t.strip()]

    def summary(self) -> str:
        interim = f"(after {self.informational}) " if self.informational else ""
        headers = ", ".join(f"{k}: {v}" for k, v in self.headers)
        body = self.body if len(self.body) <= 120 else self.body[:120] + b"..."
        return f"{interim}HTTP/{self.http_version} {self.status} {self.reason} [{headers}] body={body!r}"


class Client:
    """One TCP connection to the server: send raw bytes, read parsed responses, see the close."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sent = b""
        self.buffer = b""  # received but not yet parsed
        self.received = b""  # everything received, for failure messages
        self.eof = False
        self.reset = False
        self.send_failed = False

    @classmethod
    def connect(cls, server: Server, timeout: float = IO_TIMEOUT) -> Client:
        return cls(server.connect(timeout=timeout))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes | str) -> bool:
        """Send raw bytes; False (and no exception) if the server has already closed or reset."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sent += data
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.send_failed = True
            return False
        return True

    def _fill(self, deadline: float) -> bool:
        """Receive more bytes into the buffer; False on EOF, reset or deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            self.eof = self.reset = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        self.received += chunk
        return True

    def response(self, method: str = "GET", timeout: float = IO_TIMEOUT) -> Response:
        """The next response, parsed by h11; NoResponse if none arrives complete within ``timeout``.

        ``method`` is the method of the request this answers (HEAD's answer has no body).
        """
        deadline = time.monotonic() + timeout
        start = len(self.received) - len(self.buffer)
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method="HEAD" if method == "HEAD" else "GET", target="/",
                              headers=[("Host", "suite")]))
        conn.send(h11.EndOfMessage())
        if self.buffer:  # h11 takes b"" to mean EOF
            conn.receive_data(self.buffer)
        self.buffer = b""
        informational: list[int] = []
        head: h11.Response | None = None
        body = b""
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as error:
                if self.eof and len(self.received) == start:
                    what = "reset" if self.reset else "closed"
                    raise NoResponse(self._why(f"connection {what} with no (further) response")) from None
                raise NoResponse(self._why(f"not valid HTTP/1.1 ({error})")) from None
            if event is h11.NEED_DATA:
                if self._fill(deadline):
                    conn.receive_data(self.buffer)
                    self.buffer = b""
                    continue
                if self.eof:
                    conn.receive_data(b"")
                    continue
                raise NoResponse(self._why(f"no complete response within {timeout:.0f}s"))
            if isinstance(event, h11.InformationalResponse):
                informational.append(event.status_code)
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                what = "reset" if self.reset else "closed"
                raise NoResponse(self._why(f"connection {what} before a response"))
            else:  # PAUSED cannot happen before EndOfMessage for a client
                raise NoResponse(self._why(f"unexpected parser event {event!r}"))
        self.buffer = conn.trailing_data[0] + self.buffer
        return Response(
            status=head.status_code, reason=head.reason.decode("latin-1"),
            http_version=head.http_version.decode("ascii"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers],
            body=body, informational=informational)

    def interim(self, timeout: float = IO_TIMEOUT) -> int | None:
        """Wait for the status line of whatever comes next; its status code, or None if nothing came.

        Used for 100-continue, where the body may only be sent once `100 Continue` has arrived:
        this reads only up to the first status line's end and leaves the bytes for response().
        """
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer and self._fill(deadline):
            pass
        match = re.match(rb"HTTP/\d\.\d (\d{3})", self.buffer)
        return int(match.group(1)) if match else None

    def closes(self, timeout: float = IO_TIMEOUT) -> tuple[bool, bytes]:
        """Wait for the server to close: (closed within ``timeout``, bytes that came after the last
        response)."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        extra, self.buffer = self.buffer, b""
        return self.eof, extra

    def idle(self, seconds: float) -> bytes:
        """Read for ``seconds``: the bytes that arrive (normally none). Ends early on EOF."""
        deadline = time.monotonic() + seconds
        while self._fill(deadline):
            pass
        extra, self.buffer = self.buffer, b""
        return extra

    def _why(self, reason: str) -> str:
        got = self.received if len(self.received) <= 400 else self.received[:400] + b"..."
        return f"{reason}; received so far: {got!r}"


def request(method: str = "GET", target: str = "/", version: str = "HTTP/1.1",
            headers: list[tuple[str, str]] | None = None, body: bytes = b"", host: bool = True) -> bytes:
    """A well-formed request as raw bytes (Host first unless ``host`` is false)."""
    lines = [f"{method} {target} {version}"]
    if host:
        lines.append("Host: suite")
    lines += [f"{name}: {value}" for name, value in headers or []]
    return (CRLF.join(lines) + CRLF + CRLF).encode("latin-1") + body


# -- checks shared by the U tests ----------------------------------------------------------------

def answer_of(server: Server, raw: bytes, requirement: str, method: str = "GET") -> tuple[Response, Client]:
    """Send ``raw`` on a new connection and return its first response (and the still-open client)."""
    client = Client.connect(server)
    client.send(raw)
    try:
        return client.response(method), client
    except NoResponse as error:
        client.close()
        raise AssertionError(failure(requirement, raw, "a complete HTTP/1.1 response", str(error))) from None


def expect_served(server: Server, raw: bytes, target: str, requirement: str, method: str = "GET") -> Response:
    """``raw`` gets 200 with the text body ``target`` (HEAD: no body)."""
    response, client = answer_of(server, raw, requirement, method)
    client.close()
    body = b"" if method == "HEAD" else target.encode("latin-1")
    assert (response.status, response.body) == (200, body), failure(
        requirement, raw, f"200 with body {body!r}", response.summary())
    return response


def expect_error(server: Server, raw: bytes, statuses: int | tuple[int, ...], requirement: str,
                 then: bytes = b"") -> Response:
    """``raw`` (then ``then``) gets one response with one of ``statuses``, Connection: close, then EOF.

    Nothing may come after it: in particular ``then``, sent after the bad request on the same
    connection, is never answered.
    """
    statuses = (statuses,) if isinstance(statuses, int) else statuses
    sent = raw + then
    response, client = answer_of(server, sent, requirement)
    with client:
        closed, extra = client.closes()
    expected = f"{' or '.join(map(str, statuses))} with Connection: close, then EOF and nothing more"
    got = f"{response.summary()}; closed={closed}; after it: {extra!r}"
    assert response.status in statuses, failure(requirement, sent, expected, got)
    assert "close" in response.tokens("connection"), failure(requirement, sent, expected, got)
    assert closed and not extra, failure(requirement, sent, expected, got)
    return response


def check_date(response: Response) -> str | None:
    """Why the response's Date header breaks U1.2, or None if it is fine."""
    values = response.values("date")
    if len(values) != 1:
        return f"{len(values)} Date headers"
    if not IMF_FIXDATE.match(values[0]):
        return f"Date {values[0]!r} is not IMF-fixdate"
    skew = abs(parsedate_to_datetime(values[0]).timestamp() - time.time())
    if skew > 60:
        return f"Date {values[0]!r} is {skew:.0f}s off the real time"
    return None


def check_length(response: Response, head: bool = False) -> str | None:
    """Why the response's framing breaks U1.3, or None if it is fine."""
    values = response.values("content-length")
    if response.values("transfer-encoding"):
        return "Transfer-Encoding in a response"
    if len(values) != 1:
        return f"{len(values)} Content-Length headers"
    if not head and values[0] != str(len(response.body)):
        return f"Content-Length {values[0]} but a body of {len(response.body)} bytes"
    return None
