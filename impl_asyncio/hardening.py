"""What SPEC section U asks of the URL echo beyond h11, hooked in where h11 lets you: at every byte.

h11 is sans-IO: it never reads a socket, so every byte it parses passes through our hands first,
and it keeps no clock. ``harden(UrlEchoProtocol, config)`` mixes HardenedConnection into the
core's Protocol, where it overrides the Protocol's seams:

- ``receive``: the bytes h11 is about to parse go to netrosetta.rules' RequestParser first. A
  request the rules refuse is refused (``refuse``: h11's own RemoteProtocolError, so the core
  answers it as it answers h11's) at once, or, in a pipeline, in ``next_cycle`` once every request
  before it is answered: h11 delivers nothing of it, as it starts on no request before then.
  h11 checks the framing and the Host count itself; it lets through a Host that is not
  host[:port], any HTTP major version, CONNECT, any target form, duplicate Content-Lengths, CL
  with TE, bare LF line ends, obs-fold, control bytes in values, and has one limit (a head's
  size) for our three (target 414, header section 431, body 413).
- ``receive`` and ``next_cycle`` again: h11 refuses an empty line before a request line, which
  RFC 9112 2.2 asks a server to ignore; such a line is skipped before h11 parses it.
- ``need_data``: the deadlines, by what the connection waits for (a head, a body, the next
  request), on one timer per connection, which ``connection_lost`` cancels.

With the hardening off (NETROSETTA_HARDENING=off) the core runs alone: ``harden`` returns its class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn

import h11

from netrosetta.launch import Config
from netrosetta.rules import EndOfMessage, Error, RequestParser

EMPTY_LINE = b"\r\n"


def harden(connection_class: type, config: Config) -> type:
    """The core's connection class with HardenedConnection mixed in; unchanged with the hardening off."""
    if not config.hardening:
        return connection_class
    return type(f"Hardened{connection_class.__name__}", (HardenedConnection, connection_class), {})


def refuse(status: int, reason: str) -> NoReturn:
    """Refuse the request: the core answers rules.error_response(status, reason), then closes."""
    raise h11.RemoteProtocolError(reason, error_status_hint=status)


class HardenedConnection:
    """Mixed in before the core's UrlEchoProtocol: the rules see every byte before h11 does."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.rules = RequestParser(config.max_target, config.max_header_bytes, config.max_body)
        self.accepted = 0  # requests the rules have passed whole
        self.answered = 0  # requests h11 has delivered whole, and we have answered
        self.refusal: Error | None = None
        self.loop = asyncio.get_running_loop()
        self.waiting_for: tuple[str, int] | None = None
        self.deadline = 0.0
        self.on_deadline = self.idle_timeout
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.waiting = False  # for bytes from the client (not for it to read our answers)

    # SPEC: U7.2 U9.3 U10.2 U11.4 U12.3 U13.5 U14.1 U14.2 U15.3 U15.4 U15.5 U15.6 U16.1 U16.2 U17.3
    # SPEC: U6.3 U13.8 U20.1 U20.2 U20.4 U20.6 U20.7
    def receive(self, data: bytes) -> None:
        """Feed the rules first: h11 never delivers a request they refuse, nor anything after it."""
        self.waiting = False
        handed = self.without_empty_line(data)
        for event in self.rules.feed(data):
            if type(event) is EndOfMessage:
                self.accepted += 1
            elif type(event) is Error:
                self.refusal = event
        self.refuse_when_due()
        if handed or not data:  # b"" tells h11 the client has shut down its side
            super().receive(handed)
            self.skip_empty_line()

    # SPEC: U7.2 U9.3 U10.2 U11.4 U12.3 U13.5 U14.1 U14.2 U15.3 U15.4 U15.5 U15.6 U16.1 U16.2 U17.3
    # SPEC: U6.3 U13.8 U20.1 U20.2 U20.4 U20.6 U20.7
    def next_cycle(self) -> None:
        """A request is answered: refuse the next one now if it is the refused one."""
        self.answered += 1
        self.refuse_when_due()
        super().next_cycle()
        self.skip_empty_line()

    # SPEC: U7.2 U9.3 U10.2 U11.4 U12.3 U13.5 U14.1 U14.2 U15.3 U15.4 U15.5 U15.6 U16.1 U16.2 U17.3
    # SPEC: U6.3 U13.8 U20.1 U20.2 U20.4 U20.6 U20.7
    def refuse_when_due(self) -> None:
        """Refuse once every request the rules passed before the refused one is answered."""
        if self.refusal is not None and self.answered == self.accepted:
            refuse(self.refusal.status, self.refusal.reason)

    # SPEC: U8.1
    def without_empty_line(self, data: bytes) -> bytes:
        """What to hand h11 of ``data``: without an empty line before a request line (RFC 9112 2.2)."""
        if self.rules.phase == "idle" and data.startswith(EMPTY_LINE):
            return data[len(EMPTY_LINE):]  # h11 would refuse it
        return data

    # SPEC: U8.1
    def skip_empty_line(self) -> None:
        """Drop an empty line before a buffered request line: h11 would refuse it (RFC 9112 2.2)."""
        # Only where h11 waits for a request line, and may hold one: in a pipeline, or after an
        # empty line split in two reads ("\r", then "\n" and the request).
        if self.accepted == self.answered and self.rules.phase == "idle":
            return
        if self.conn.their_state is not h11.IDLE:
            return
        data, closed = self.conn.trailing_data
        if data.startswith(EMPTY_LINE):
            # h11 offers no way to drop bytes it holds, but hands them over (trailing_data, meant
            # for switching protocols): a new h11 connection takes the rest, at the same state.
            self.conn = self.new_conn()
            if len(data) > len(EMPTY_LINE):
                self.conn.receive_data(data[len(EMPTY_LINE):])
            if closed:
                self.conn.receive_data(b"")

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def need_data(self) -> None:
        """Wait for the client by the deadline of what the connection waits for: a head, a body, a request."""
        super().need_data()
        waiting_for = (self.rules.phase, self.accepted)
        if waiting_for != self.waiting_for:
            # Deadlines are absolute: more bytes of the same head or body do not extend them.
            self.waiting_for = waiting_for
            if waiting_for[0] == "head":
                self.arm(self.config.header_timeout, self.request_timeout)
            elif waiting_for[0] == "body":
                self.arm(self.config.body_timeout, self.request_timeout)
            else:
                self.arm(self.config.idle_timeout, self.idle_timeout)
        # A timer that fired while we were answering is gone: one is set again, maybe for now.
        if self.timer is None:
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self.on_timer)
        self.waiting = True

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def arm(self, seconds: float, on_deadline: Callable[[], None]) -> None:
        """From now on, a wait for the client ends ``seconds`` from now in on_deadline()."""
        self.deadline = self.loop.time() + seconds
        self.on_deadline = on_deadline
        # One timer per connection, moved only to fire sooner: one that fires early re-arms itself,
        # so a keep-alive request costs no new timer.
        if self.timer is None or self.timer_at > self.deadline:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self.on_timer)

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def on_timer(self) -> None:
        """At the deadline, if we still wait for the client, act (not while it reads our answers)."""
        self.timer = None
        if self.loop.time() < self.deadline:
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self.on_timer)
        elif self.waiting:
            self.waiting = False
            self.on_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """A finished connection keeps no timer, nor is kept alive by one until it fires."""
        if self.timer is not None:
            self.timer.cancel()
        super().connection_lost(exc)

    # SPEC: U18.3
    def idle_timeout(self) -> None:
        """No request for too long: as if the client had shut down its side, so we close in silence."""
        self.eof_received()

    # SPEC: U18.1 U18.2 U20.3
    def request_timeout(self) -> None:
        """A request's head or body did not arrive in time (slowloris): 408, then close."""
        self.send_error(408, "the request did not arrive in time")
