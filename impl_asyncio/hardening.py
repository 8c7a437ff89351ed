"""What SPEC section U asks of the URL echo beyond h11, hooked in where h11 lets you: at every byte.

h11 is sans-IO: it never reads a socket, so every byte it parses passes through our hands first,
and it keeps no clock. ``harden(UrlEchoConnection, config)`` mixes HardenedConnection into the
core's connection wrapper, where it overrides the wrapper's seams:

- ``receive``: the bytes h11 is about to parse go to netrosetta.rules' RequestParser first. A
  request the rules refuse is refused (``refuse``: h11's own RemoteProtocolError, so the core
  answers it as it answers h11's) once h11 has delivered every request before it, and never reaches
  the core. h11 checks the framing and the Host count itself; it lets through a Host that is not
  host[:port], any HTTP major version, CONNECT, any target form, duplicate Content-Lengths, CL with
  TE, bare LF line ends, obs-fold, control bytes in values, and has one limit (a head's size) for
  our three (target 414, header section 431, body 413).
- ``next_event``: h11 refuses an empty line before a request line, which RFC 9112 2.2 asks a
  server to ignore; such a line is skipped before h11 sees it.
- ``read``: the deadlines, by what the connection waits for (a head, a body, the next request),
  on one timer per connection, which ``close`` cancels.

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
    """Mixed in before the core's UrlEchoConnection: the rules see every byte before h11 does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: Config) -> None:
        super().__init__(reader, writer, config)
        self.rules = RequestParser(config.max_target, config.max_header_bytes, config.max_body)
        self.accepted = 0  # requests the rules have passed whole
        self.delivered = 0  # requests h11 has delivered whole
        self.refusal: Error | None = None
        self.loop = asyncio.get_running_loop()
        # What the deadline was last armed for: the rules' phase, in which request.
        self.waiting_for: str | None = None
        self.waiting_in = 0
        self.deadline = 0.0
        # What the deadline does, as a function of the class (a bound method would be an object
        # per connection).
        self.on_deadline: Callable[[HardenedConnection], bytes] = HardenedConnection.idle_timeout
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.reading: asyncio.Task | None = None  # the task whose read the deadline interrupts
        self.expired = False

    # SPEC: U7.2 U9.3 U10.2 U11.4 U12.3 U13.5 U14.1 U14.2 U15.3 U15.4 U15.5 U15.6 U16.1 U16.2 U17.3
    # SPEC: U20.1 U20.2 U20.4 U20.6
    def receive(self, data: bytes) -> None:
        """Feed the rules first: h11 never delivers a request they refuse, nor anything after it."""
        handed = self.without_empty_line(data)
        for event in self.rules.feed(data):
            if type(event) is EndOfMessage:
                self.accepted += 1
            elif type(event) is Error:
                self.refusal = event
        self.refuse_when_due()
        if handed or not data:  # b"" tells h11 the client has shut down its side
            super().receive(handed)

    # SPEC: U7.2 U9.3 U10.2 U11.4 U12.3 U13.5 U14.1 U14.2 U15.3 U15.4 U15.5 U15.6 U16.1 U16.2 U17.3
    # SPEC: U20.1 U20.2 U20.4 U20.6
    def refuse_when_due(self) -> None:
        """Refuse once h11 has delivered every request the rules passed before the refused one."""
        if self.refusal is not None and self.delivered == self.accepted:
            refuse(self.refusal.status, self.refusal.reason)

    # SPEC: U7.2 U9.3 U10.2 U11.4 U12.3 U13.5 U14.1 U14.2 U15.3 U15.4 U15.5 U15.6 U16.1 U16.2 U17.3
    # SPEC: U20.1 U20.2 U20.4 U20.6
    async def next_event(self) -> h11.Event:
        """h11's next event, unless the next request is refused; count the requests delivered."""
        if (self.accepted > self.delivered or not self.rules.idle) and self.conn.their_state is h11.IDLE:
            self.skip_empty_line()  # pipelined: the next request's bytes are in h11's buffer already
        self.refuse_when_due()
        event = await super().next_event()
        if type(event) is h11.EndOfMessage:
            self.delivered += 1
        return event

    # SPEC: U8.1
    def without_empty_line(self, data: bytes) -> bytes:
        """What to hand h11 of ``data``: without an empty line before a request line (RFC 9112 2.2)."""
        if self.rules.idle and data.startswith(EMPTY_LINE):
            return data[len(EMPTY_LINE):]  # h11 would refuse it
        return data

    # SPEC: U8.1
    def skip_empty_line(self) -> None:
        """Drop an empty line before a buffered request line: h11 would refuse it (RFC 9112 2.2)."""
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
    async def read(self) -> bytes:
        """The next bytes, or the deadline of what the connection waits for: a head, a body, a request."""
        waiting_for = self.rules.phase
        if waiting_for != self.waiting_for or self.accepted != self.waiting_in:
            # Deadlines are absolute: more bytes of the same head or body do not extend them.
            self.waiting_for = waiting_for
            self.waiting_in = self.accepted
            if waiting_for == "head":
                self.arm(self.config.header_timeout, HardenedConnection.request_timeout)
            elif waiting_for == "body":
                self.arm(self.config.body_timeout, HardenedConnection.request_timeout)
            else:
                self.arm(self.config.idle_timeout, HardenedConnection.idle_timeout)
        if self.loop.time() >= self.deadline:
            return self.on_deadline(self)  # it passed while we were answering
        self.reading = asyncio.current_task()
        try:
            return await super().read()
        except asyncio.CancelledError:
            if not self.expired or self.reading.uncancel():
                raise  # a stop, not our deadline
            return self.on_deadline(self)
        finally:
            self.reading = None
            self.expired = False

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def arm(self, seconds: float, on_deadline: Callable[[HardenedConnection], bytes]) -> None:
        """From now on, a read ends ``seconds`` from now in on_deadline()."""
        self.deadline = self.loop.time() + seconds
        self.on_deadline = on_deadline
        # One timer per connection, moved only to fire sooner: one that fires early re-arms itself,
        # so a keep-alive request costs no new timer (asyncio.timeout() around each read would).
        if self.timer is None or self.timer_at > self.deadline:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self.on_timer)

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def on_timer(self) -> None:
        """At the deadline, interrupt the read in progress (as asyncio.timeout() does: cancel it)."""
        self.timer = None
        if self.loop.time() < self.deadline:
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self.on_timer)
        elif self.reading is not None:
            self.expired = True
            self.reading.cancel()

    def close(self) -> None:
        """A finished connection keeps no timer, nor is kept alive by one until it fires."""
        if self.timer is not None:
            self.timer.cancel()
        super().close()

    # SPEC: U18.3
    def idle_timeout(self) -> bytes:
        """No request for too long: as if the client had shut down its side, so we close in silence."""
        return b""

    # SPEC: U18.1 U18.2 U20.3
    def request_timeout(self) -> NoReturn:
        """A request's head or body did not arrive in time (slowloris): 408, then close."""
        refuse(408, "the request did not arrive in time")
