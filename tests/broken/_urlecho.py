"""A correct-enough URL echo (SPEC.md, section U) for the broken URL-echo servers to break one rule each.

Stdlib only, asyncio, one Protocol: a compact, strict HTTP/1.1 request reader with the limits and
deadlines of the U clauses. It is the suite's own test subject, not an implementation: each
broken server subclasses UrlEchoProtocol and overrides one hook (``echoed``, ``framing``,
``head_progress``) to break exactly one rule.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from email.utils import formatdate

from _contract import Tracked

TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
METHOD_PREFIX = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]*( |$)")
REQUEST_LINE = re.compile(rb"(" + TOKEN + rb") ([\x21-\x7e]+) HTTP/(\d)\.(\d)")
ANY_REQUEST_LINE = re.compile(rb"\S+ (\S+) \S+")
HEADER_NAME = re.compile(TOKEN)
BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://")
HOST = re.compile(rb"(?:[A-Za-z0-9._~%!$&'()*+,;=-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?")
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;.*)?")
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 405: "Method Not Allowed",
           408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
           431: "Request Header Fields Too Large", 501: "Not Implemented", 505: "HTTP Version Not Supported"}


def add_options(parser: argparse.ArgumentParser) -> None:
    """The urlecho limits and timeouts of the launch contract."""
    parser.add_argument("--max-target", type=int, default=8192)
    parser.add_argument("--max-header-bytes", type=int, default=16384)
    parser.add_argument("--max-body", type=int, default=1024 * 1024)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--body-timeout", type=float, default=30.0)
    parser.add_argument("--idle-timeout", type=float, default=60.0)


class HttpError(Exception):
    """A request that gets an error status, then close."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class UrlEchoProtocol(Tracked):
    """One connection: read requests (pipelined too), answer each with its target, enforce limits."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.buffer = bytearray()
        self.phase = "idle"  # idle -> head -> body -> idle ...; "closed" once closing
        self.timer: asyncio.TimerHandle | None = None
        self.request: dict | None = None

    # -- hooks a broken server overrides --------------------------------------------------------

    def echoed(self, target: bytes) -> bytes:
        """The target as the answer shows it: exactly as received."""
        return target

    def framing(self, version: tuple[int, int], lengths: list[bytes],
                codings: list[bytes]) -> tuple[str, int]:
        """("length", n) or ("chunked", 0) for a request's body; HttpError if it cannot be framed."""
        if codings:
            if version < (1, 1) or lengths:
                raise HttpError(400)
            if b"chunked" in codings and (codings[-1] != b"chunked" or codings.count(b"chunked") > 1):
                raise HttpError(400)
            if any(coding != b"chunked" for coding in codings):
                raise HttpError(501)
            return "chunked", 0
        values = {value.strip() for line in lengths for value in line.split(b",")}
        if any(not value.isdigit() for value in values) or len(values) > 1:
            raise HttpError(400)
        return "length", int(values.pop()) if values else 0

    def head_progress(self) -> None:
        """Bytes of a request head arrived: the header deadline runs from the first one, never reset."""

    # -- connection events ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.arm(self.args.idle_timeout, self.close)

    def data_received(self, data: bytes) -> None:
        if self.phase == "closed":
            return
        self.buffer += data
        try:
            self.process()
        except HttpError as error:
            reason = REASONS[error.status].encode()
            self.respond(error.status, b"%d %s\n" % (error.status, reason), close=True)

    def eof_received(self) -> bool:
        return False  # everything owed is already queued; asyncio closes once it is sent

    def connection_lost(self, exc: Exception | None) -> None:
        self.phase = "closed"
        self.disarm()
        super().connection_lost(exc)

    # -- timers ---------------------------------------------------------------------------------

    def arm(self, seconds: float, callback) -> None:
        self.disarm()
        self.timer = asyncio.get_running_loop().call_later(seconds, callback)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close(self) -> None:
        self.phase = "closed"
        self.disarm()
        self.transport.close()

    def timed_out(self) -> None:
        if self.phase != "closed":
            self.respond(408, b"408 Request Timeout\n", close=True)

    # -- reading --------------------------------------------------------------------------------

    def process(self) -> None:
        while self.phase != "closed":
            if self.phase == "idle":
                while self.buffer[:2] == b"\r\n":  # empty lines before a request are ignored
                    del self.buffer[:2]
                if not self.buffer:
                    return
                self.phase = "head"
                self.arm(self.args.header_timeout, self.timed_out)
            if self.phase == "head":
                self.head_progress()
                if not self.read_head():
                    return
            if self.phase == "body" and not self.read_body():
                return

    def read_head(self) -> bool:
        line_end = self.buffer.find(b"\r\n")
        first = bytes(self.buffer if line_end < 0 else self.buffer[:line_end])
        if b"\n" in first:
            raise HttpError(400)  # bare LF line endings are answered 400 at once
        if not METHOD_PREFIX.match(first):
            raise HttpError(400)  # not a method: garbage or TLS, no need to wait for a line end
        target = first.split(b" ")[1] if first.count(b" ") else b""
        if len(target) > self.args.max_target:
            raise HttpError(414)
        if line_end < 0:
            return False
        end = self.buffer.find(b"\r\n\r\n")
        section = (len(self.buffer) if end < 0 else end + 2) - (line_end + 2)
        if section > self.args.max_header_bytes:
            raise HttpError(431)
        if b"\n" in self.buffer[line_end + 2:len(self.buffer) if end < 0 else end + 4].replace(b"\r\n", b""):
            raise HttpError(400)
        if end < 0:
            return False
        head = bytes(self.buffer[:end])
        del self.buffer[:end + 4]
        self.start(head)
        return True

    def start(self, head: bytes) -> None:
        line, *lines = head.split(b"\r\n")
        match = REQUEST_LINE.fullmatch(line)
        if not match:
            raise HttpError(400)
        method, target = match.group(1), match.group(2)
        major, minor = int(match.group(3)), int(match.group(4))
        if major != 1:
            raise HttpError(505)
        if method == b"CONNECT":
            raise HttpError(405)
        if target == b"*" and method != b"OPTIONS" or target != b"*" and not (
                target.startswith(b"/") or ABSOLUTE.match(target)):
            raise HttpError(400)
        headers = []
        for header in lines:
            name, colon, value = header.partition(b":")
            if not colon or not HEADER_NAME.fullmatch(name) or BAD_VALUE.search(value):
                raise HttpError(400)
            headers.append((name.lower(), value.strip(b" \t")))
        hosts = [value for name, value in headers if name == b"host"]
        if len(hosts) > 1 or (not hosts and minor >= 1) or (hosts and not HOST.fullmatch(hosts[0])):
            raise HttpError(400)
        lengths = [value for name, value in headers if name == b"content-length"]
        codings = [c.strip().lower() for name, value in headers if name == b"transfer-encoding"
                   for c in value.split(b",")]
        kind, length = self.framing((major, minor), lengths, codings)
        if length > self.args.max_body:
            raise HttpError(413)
        connection = {t.strip().lower() for name, value in headers if name == b"connection"
                      for t in value.split(b",")}
        keep = b"keep-alive" in connection if minor == 0 else b"close" not in connection
        self.request = {"method": method, "target": target, "version": line.rsplit(b" ", 1)[1],
                        "headers": headers, "keep": keep, "http10": minor == 0, "kind": kind,
                        "left": length, "total": 0}
        expects = any(name == b"expect" and value.lower() == b"100-continue" for name, value in headers)
        if kind == "chunked" or length:
            if expects and minor >= 1:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.phase = "body"
            self.arm(self.args.body_timeout, self.timed_out)
        else:
            self.answer()

    def read_body(self) -> bool:
        request = self.request
        if request["kind"] == "length":
            taken = min(request["left"], len(self.buffer))
            del self.buffer[:taken]
            request["left"] -= taken
            if request["left"]:
                return False
            self.answer()
            return True
        while True:
            if request["left"] > 0:  # inside a chunk's data, then its CRLF
                if len(self.buffer) < request["left"] + 2:
                    return False
                if self.buffer[request["left"]:request["left"] + 2] != b"\r\n":
                    raise HttpError(400)
                del self.buffer[:request["left"] + 2]
                request["left"] = 0
            elif request["left"] == 0:  # a chunk-size line
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    if len(self.buffer) > 4096:
                        raise HttpError(400)
                    return False
                match = CHUNK_SIZE.fullmatch(bytes(self.buffer[:end]))
                if not match:
                    raise HttpError(400)
                size = int(match.group(1), 16)
                del self.buffer[:end + 2]
                request["total"] += size
                if request["total"] > self.args.max_body:
                    raise HttpError(413)
                request["left"] = size if size else -1
            else:  # trailer section, up to its empty line
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    if len(self.buffer) > self.args.max_header_bytes:
                        raise HttpError(431)
                    return False
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                if not line:
                    self.answer()
                    return True
                if b":" not in line:
                    raise HttpError(400)

    # -- writing --------------------------------------------------------------------------------

    def answer(self) -> None:
        request = self.request
        target = self.echoed(request["target"])
        accept = b",".join(value for name, value in request["headers"] if name == b"accept")
        if wants_json(accept.decode("latin-1")):
            path, question, query = target.decode("latin-1").partition("?")
            groups: dict[str, list[str]] = {}
            for name, value in request["headers"]:
                groups.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
            document = {"method": request["method"].decode(), "target": target.decode("latin-1"),
                        "path": path, "query": query if question else None,
                        "version": request["version"].decode(),
                        "headers": [[name, value] for name, values in groups.items() for value in values]}
            body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")
            content_type = b"application/json"
        else:
            body, content_type = target, b"text/plain; charset=utf-8"
        head = request["method"] == b"HEAD"
        self.respond(200, body, close=not request["keep"], content_type=content_type, head=head,
                     keep_alive_header=request["keep"] and request["http10"])

    def respond(self, status: int, body: bytes, close: bool,
                content_type: bytes = b"text/plain; charset=utf-8",
                head: bool = False, keep_alive_header: bool = False) -> None:
        lines = [b"HTTP/1.1 %d %s" % (status, REASONS[status].encode()), b"Content-Type: " + content_type,
                 b"Content-Length: %d" % len(body), b"Date: " + formatdate(usegmt=True).encode()]
        if close:
            lines.append(b"Connection: close")
        elif keep_alive_header:
            lines.append(b"Connection: keep-alive")
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else body))
        self.request = None
        if close:
            self.close()
        else:
            self.phase = "idle"
            self.arm(self.args.idle_timeout, self.close)


def wants_json(accept: str) -> bool:
    """True if the Accept value lists application/json with a q-value other than 0."""
    for media_range in accept.split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        if media_type.lower() != "application/json":
            continue
        q = next((p.split("=", 1)[1] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            return True
    return False
