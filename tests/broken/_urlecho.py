"""A correct URL echo (SPEC.md, section U) for the broken URL-echo servers to break one rule each.

asyncio, one Protocol, driving the project's one copy of the HTTP rules (netrosetta/rules.py) the
way impl_raw does, so that a broken server is correct everywhere but at its flaw and restates no
rule. It is the suite's own test subject, not an implementation: each broken server subclasses
UrlEchoProtocol and overrides one hook (``echoed``, ``received``, ``head_progress``) to break
exactly one rule.
"""

from __future__ import annotations

import argparse
import asyncio

from _contract import Tracked

from netrosetta.answer import answer
from netrosetta.rules import (
    CONTINUE,
    Data,
    EndOfMessage,
    Error,
    Request,
    RequestParser,
    error_response,
    http_date,
)

OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nDate: %s\r\n%s\r\n"


def add_options(parser: argparse.ArgumentParser) -> None:
    """The urlecho limits and timeouts of the launch contract."""
    parser.add_argument("--max-target", type=int, default=8192)
    parser.add_argument("--max-header-bytes", type=int, default=16384)
    parser.add_argument("--max-body", type=int, default=1024 * 1024)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--body-timeout", type=float, default=30.0)
    parser.add_argument("--idle-timeout", type=float, default=60.0)


class UrlEchoProtocol(Tracked):
    """One connection: requests parsed in order by the rules, each answered with its target."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.parser = RequestParser(args.max_target, args.max_header_bytes, args.max_body)
        self.request: Request | None = None
        self.phase = ("idle", 0)  # what the connection waits for, and how many requests it answered
        self.answered = 0
        self.closing = False
        self.timer: asyncio.TimerHandle | None = None

    # -- hooks a broken server overrides --------------------------------------------------------

    def echoed(self, target: str) -> str:
        """The target as the answer shows it: exactly as received."""
        return target

    def received(self, data: bytes) -> bytes:
        """The bytes handed to the rules: exactly those received."""
        return data

    def head_progress(self) -> None:
        """Bytes of a request head arrived: the header deadline runs from the first one, never reset."""

    # -- connection events ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.arm(self.args.idle_timeout, self.close)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        for event in self.parser.feed(self.received(data)):
            if isinstance(event, Request):
                self.request = event
                if event.expect_continue:
                    self.transport.write(CONTINUE)
            elif isinstance(event, EndOfMessage):
                self.respond(self.request)
                if self.closing:
                    return
            elif isinstance(event, Error):
                self.refuse(event.status, event.reason)
                return
            elif not isinstance(event, Data):
                raise TypeError(event)
        self.rearm()

    def pause_writing(self) -> None:
        """Answers pile up unread: read no more requests until they drain (U19.4)."""
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()

    def eof_received(self) -> bool:
        return False  # everything owed is already queued; asyncio closes once it is sent

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.disarm()
        super().connection_lost(exc)

    # -- deadlines ------------------------------------------------------------------------------

    def rearm(self) -> None:
        """Point the deadline at what the connection now waits for, if that changed."""
        phase = (self.parser.phase, self.answered)
        if phase == self.phase:
            if phase[0] == "head":
                self.head_progress()
            return
        self.phase = phase
        if phase[0] == "head":
            self.arm(self.args.header_timeout, self.timed_out)
        elif phase[0] == "body":
            self.arm(self.args.body_timeout, self.timed_out)
        else:
            self.arm(self.args.idle_timeout, self.close)

    def arm(self, seconds: float, callback) -> None:
        self.disarm()
        self.timer = asyncio.get_running_loop().call_later(seconds, callback)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def timed_out(self) -> None:
        self.refuse(408, "the request did not arrive in time")

    # -- writing --------------------------------------------------------------------------------

    def respond(self, request: Request) -> None:
        body, content_type = answer(request.method, self.echoed(request.target), request.version,
                                    request.headers)
        connection = b""
        if not request.keep_alive:
            connection = b"Connection: close\r\n"
        elif request.version == "HTTP/1.0":
            connection = b"Connection: keep-alive\r\n"
        head = OK_HEAD % (content_type.encode("ascii"), len(body), http_date.now(), connection)
        self.transport.write(head if request.method == "HEAD" else head + body)
        self.answered += 1
        if not request.keep_alive:
            self.close()

    def refuse(self, status: int, reason: str) -> None:
        if not self.closing:
            self.transport.write(error_response(status, reason))
            self.close()

    def close(self) -> None:
        self.closing = True
        self.disarm()
        self.transport.close()
