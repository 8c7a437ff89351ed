"""What Tornado's HTTPServer needs to meet SPEC.md section U, and where Tornado lets you hook it in.

Tornado parses each request itself, and answers what its parser refuses with a bare
``HTTP/1.1 400 Bad Request`` (no Date, no Content-Length), or closes without a word: a head over
``max_header_size``, a body past ``body_timeout``. No public hook shows an application a request
before that parser has read it, except the stream it reads from. So this module sits there, and
applies the one copy of the rules (netrosetta/rules.py) to the bytes Tornado is about to parse:

- ``HTTPServer.handle_stream``: TCPServer has just wrapped an accepted socket in an IOStream that
  has done no I/O yet; GuardedServer serves it on a GuardedStream instead.
- ``IOStream.read_from_fd``: every byte read from the socket passes here before it reaches
  Tornado's buffer. GuardedStream feeds it to a ``RequestParser`` and hands Tornado only the bytes
  of requests the rules accept: Tornado never parses a byte they refuse.
- ``IOStream.read_until_regex``: HTTP1Connection reads each request's head with it, once it has
  answered the request before. A refusal goes out there, after every earlier answer.
- ``IOStream.read_until`` and ``read_bytes``: chunk-size lines, whose extensions and trailers
  Tornado's chunked reader refuses.
- ``IOStream.write``: Tornado's bare 400, for a head the rules accept and Tornado's parser does not.
- ``OutputTransform`` (``Application.add_transform``): the answer's headers, for a connection's
  last request whose ``Connection`` header Tornado did not read as ``close``.

Deadlines follow the parser's phase (idle, head, body): Tornado has one timer from the end of a
request to the end of the next head, where SPEC has two, and none that answers 408.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import socket
from asyncio import Future
from collections.abc import Callable

from tornado import gen, httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream, StreamClosedError
from tornado.web import Application, OutputTransform

from impl_tornado import PausingAccept
from netrosetta.launch import Config
from netrosetta.registry import LINGER_TIMEOUT
from netrosetta.rules import EndOfMessage, Error, Request, RequestParser, error_response

# HTTP1Connection writes exactly this when its own parser refuses a head, then closes.
TORNADO_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"
DRAIN_SIZE = 64 * 1024


# SPEC: U4.2
def accepted_length(start: Callable[[], RequestParser], data: bytes, complete: int) -> int:
    """How many bytes of ``data`` it takes to complete its first ``complete`` requests.

    ``start()`` gives a parser as it was before ``data``. Only a refusal or a last request needs
    this, so it may replay: is ``data`` short of its last byte still enough (the usual case: no), and
    if so, a binary search for the shortest prefix that is.
    """
    def enough(length: int) -> bool:
        events = start().feed(data[:length])
        return sum(type(event) is EndOfMessage for event in events) >= complete

    if complete == 0:
        return 0
    if not enough(len(data) - 1):
        return len(data)
    low, high = 0, len(data) - 1
    while low < high:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return low


# SPEC: U1.2 U1.3 U17.3 U20.6
async def say_last_word(stream: IOStream, last_word: bytes) -> None:
    """Send the last answer (if any), then close without resetting it away: stop sending, and read
    and drop what the client still sends, for LINGER_TIMEOUT at most."""
    with contextlib.suppress(StreamClosedError, OSError, gen.TimeoutError):
        if last_word:
            await stream.write(last_word)
        stream.socket.shutdown(socket.SHUT_WR)
        await gen.with_timeout(stream.io_loop.time() + LINGER_TIMEOUT, drain(stream),
                               quiet_exceptions=(StreamClosedError,))
    stream.close()


# SPEC: U17.3
async def drain(stream: IOStream) -> None:
    """Read and drop everything until the client closes."""
    with contextlib.suppress(StreamClosedError):
        while True:
            await stream.read_bytes(DRAIN_SIZE, partial=True)


class GuardedStream(IOStream):
    """The IOStream HTTP1Connection reads and writes, with the rules in front of Tornado's parser."""

    # One stream per open connection. IOStream's own attributes share their keys across instances
    # (a compact dict), but only up to 30 of them: ours, added to its 27, would turn every stream's
    # dict into a full one of its own, so ours live in slots.
    __slots__ = ("config", "parser", "complete", "heads", "last", "last_word", "owed_crlf", "phase",
                 "phase_requests", "timer", "timer_at", "due", "on_deadline")

    def __init__(self, sock: socket.socket, config: Config, **options: object) -> None:
        super().__init__(sock, **options)
        self.config = config
        self.parser = self.new_parser()
        self.complete = 0  # requests whose every byte the rules accepted: Tornado answers these
        self.heads = 0  # requests whose head HTTP1Connection has begun to read
        self.last: int | None = None  # the number of the request after which the connection ends
        # Once set, Tornado gets no more bytes, and this goes out (b"": nothing) instead of the
        # next request, as soon as Tornado has answered every request before it.
        self.last_word: bytes | None = None
        self.owed_crlf = False  # read along with a chunked body's trailers, not yet handed on
        # What the deadline was last armed for: the parser's phase, in which request.
        self.phase = "idle"
        self.phase_requests = 0
        # One IOLoop timeout per connection, moved only to fire sooner (see arm).
        self.timer: object | None = None
        self.timer_at = 0.0
        self.due = 0.0
        # What the deadline does, as a function of the class (a bound method would be an object
        # per connection).
        self.on_deadline: Callable[[GuardedStream], None] = GuardedStream.close
        # Before its first request, a new connection is idle like a kept-alive one.
        self.arm(config.idle_timeout, GuardedStream.close)

    def new_parser(self) -> RequestParser:
        return RequestParser(self.config.max_target, self.config.max_header_bytes, self.config.max_body)

    # -- reading: the rules first -------------------------------------------------------------

    # No tag: Tornado alone passes U17.1 (half-close); this stream needs the EOF branch below not
    # to lose the answer (without it, U17.1 fails with the hardening on, and through the proxy).
    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        """Every read from the socket: the rules see the bytes before Tornado's buffer does."""
        count = super().read_from_fd(buf)
        if count == 0 and (not self.reading() or self.heads <= self.complete):
            # Half-close: IOStream closes itself at EOF, even between reading a request and writing
            # its answer (it watches an idle socket to notice a close). So that the answer still
            # goes out, only a reader waiting for a request that can no longer complete is told of
            # the EOF. A head read whose request is complete may meet it too: IOStream reads on past
            # the head's end (it looks for the delimiter again only when its buffer has doubled), and
            # closing then would hand Tornado the request on a closed stream, its answer lost. Held
            # back (None, as for EAGAIN), the EOF stays in the socket for the next request's read.
            return None
        if not count:
            return count
        if self.last_word is not None:
            return None  # the last request is known: what follows it is never parsed
        return self.rule_on(bytes(buf[:count]))

    # SPEC: U7.2 U8.2 U9.3 U10.2 U11.4 U12.1 U12.2 U12.3 U13.1 U13.2 U13.3 U13.4 U13.5 U13.6
    # SPEC: U14.1 U14.2 U15.1 U15.2 U15.3 U15.4 U15.5 U15.6 U15.7 U16.1 U16.2 U20.1 U20.2 U20.4
    # SPEC: U6.3 U8.3 U13.8 U13.9 U20.7
    def rule_on(self, data: bytes) -> int | None:
        """Feed ``data`` to the rules: how many of its bytes Tornado may parse (0: the end)."""
        parser = self.parser
        # Replaying needs the parser as it was; between requests, a new one is the same.
        before = None if parser.phase == "idle" else copy.copy(parser)
        events = parser.feed(data)
        complete = 0
        for event in events:
            kind = type(event)
            if kind is EndOfMessage:
                complete += 1
            elif kind is Request:
                if not event.keep_alive:
                    self.last = self.complete + complete + 1
            elif kind is Error:
                self.complete += complete
                if self.refuse(event.status, event.reason):
                    return 0  # HTTP1Connection waits for the refused request: EOF ends it
                break
        else:
            self.complete += complete
            if parser.phase != "done":
                self.rearm()
                return len(data)
            self.end(b"")  # the last request: the connection ends after its answer
        start = self.new_parser if before is None else functools.partial(copy.copy, before)
        return accepted_length(start, data, complete) or None

    # SPEC: U4.2 U17.3
    def read_until_regex(self, regex: bytes, max_bytes: int | None = None) -> Future[bytes]:
        """HTTP1Connection reads each head with this, once it has answered the request before."""
        self.heads += 1
        if self.last_word is not None and self.heads > self.complete:
            # No such request will ever be complete: the refusal (or nothing) instead.
            self.hand_over()
            self.close()
            raise StreamClosedError()
        return super().read_until_regex(regex, max_bytes)

    # -- chunked bodies: what Tornado's chunked reader does not take -------------------------------

    # SPEC: U6.2
    def read_until(self, delimiter: bytes, max_bytes: int | None = None) -> Future[bytes]:
        """HTTP1Connection reads each chunk-size line with this: hand it the size alone."""
        # The rules have checked the line (its length included): Tornado's 64-byte cap is moot.
        return gen.convert_yielded(self.chunk_size_line(super().read_until(delimiter)))

    # SPEC: U6.2
    async def chunk_size_line(self, reading: Future[bytes]) -> bytes:
        """The size line without its extensions; after the last chunk, skip the trailer section."""
        # RFC 9112 7.1.1: extensions are ignored; 7.1.2: trailer fields may follow the last chunk.
        size = (await reading)[:-2].split(b";", 1)[0].rstrip(b" \t")
        if int(size, 16) == 0:
            while await super().read_until(b"\r\n") != b"\r\n":
                pass  # a trailer field, dropped
            self.owed_crlf = True  # the blank line that ends the body: Tornado reads it next
        return size + b"\r\n"

    # SPEC: U6.2
    def read_bytes(self, num_bytes: int, partial: bool = False) -> Future[bytes]:
        """The CRLF after the last chunk, if chunk_size_line has read it already."""
        if self.owed_crlf and num_bytes == 2:
            self.owed_crlf = False
            done: Future[bytes] = Future()
            done.set_result(b"\r\n")
            return done
        return super().read_bytes(num_bytes, partial)

    # -- refusing and ending ------------------------------------------------------------------------

    # SPEC: U1.2 U1.3 U17.3 U20.6
    def write(self, data: bytes | memoryview) -> Future[None]:
        """Tornado's bare 400 (for a head the rules accept and Tornado's parser does not) made whole."""
        if data == TORNADO_400:
            self.last_word = error_response(400, "refused by Tornado's request parser")
            self.hand_over()  # HTTP1Connection closes this stream next
            done: Future[None] = Future()
            done.set_result(None)
            return done
        return super().write(data)

    # SPEC: U1.2 U1.3 U17.3 U20.6
    def refuse(self, status: int, reason: str) -> bool:
        """Refuse the request under way with the one error answer; True if it went out now."""
        return self.end(error_response(status, reason))

    # SPEC: U17.3
    def end(self, last_word: bytes) -> bool:
        """No request after this one: Tornado gets no more bytes, and ``last_word`` goes out once it
        has answered every request before (now, if it already has: True)."""
        self.last_word = last_word
        # A client that never reads its answers must not keep the connection for ever.
        self.arm(self.config.idle_timeout, GuardedStream.close)
        if self.heads <= self.complete:
            return False  # at the next head read
        self.hand_over()
        return True

    # SPEC: U17.3
    def hand_over(self) -> None:
        """Say the last word on a copy of the socket: this stream is about to close, and a close with
        unread input would reset the answer away."""
        if self.closed():
            return
        with contextlib.suppress(OSError):  # out of descriptors: the connection just closes
            self.io_loop.add_callback(say_last_word, IOStream(self.socket.dup()), self.last_word or b"")

    # -- deadlines ---------------------------------------------------------------------------------

    # SPEC: U18.1 U18.3 U20.3
    def rearm(self) -> None:
        """Point the deadline at what the connection now waits for, if that changed."""
        waiting_for = self.parser.phase
        if waiting_for == self.phase and self.complete == self.phase_requests:
            return  # deadlines are absolute: more bytes of the same request do not extend them
        self.phase = waiting_for
        self.phase_requests = self.complete
        if waiting_for == "head":
            self.arm(self.config.header_timeout, GuardedStream.too_late)
        elif waiting_for == "body":
            self.arm(self.config.body_timeout, GuardedStream.too_late)
        else:
            self.arm(self.config.idle_timeout, GuardedStream.close)

    # SPEC: U18.1 U18.3 U20.3
    def arm(self, seconds: float, on_deadline: Callable[[GuardedStream], None]) -> None:
        """Call ``on_deadline`` in ``seconds`` unless armed again first: one IOLoop timeout, moved
        only when it must fire sooner (on the hot path it fires, finds a later deadline, re-arms)."""
        if self.closed():
            return  # a timer armed now would keep the dead stream alive until it fired
        self.due = self.io_loop.time() + seconds
        self.on_deadline = on_deadline
        if self.timer is not None and self.timer_at <= self.due:
            return
        if self.timer is not None:
            self.io_loop.remove_timeout(self.timer)
        self.timer_at = self.due
        self.timer = self.io_loop.call_at(self.due, self.check_deadline)

    # SPEC: U18.1 U18.3 U20.3
    def check_deadline(self) -> None:
        self.timer = None
        if self.closed():
            return
        if self.due > self.io_loop.time():
            self.arm(self.due - self.io_loop.time(), self.on_deadline)
        else:
            self.on_deadline(self)

    # SPEC: U18.1 U20.3
    def too_late(self) -> None:
        """A request's head or body did not arrive in time (slowloris): 408, then close."""
        if self.refuse(408, "the request did not arrive in time"):
            self.close()

    def close(self, exc_info: object = False) -> None:
        """Closed: its timer goes too, so that nothing is kept per finished connection."""
        if self.timer is not None:
            self.io_loop.remove_timeout(self.timer)
            self.timer = None
        super().close(exc_info)


# SPEC: U4.2
class ConnectionClose(OutputTransform):
    """Says ``Connection: close`` on the answer to a connection's last request: Tornado reads
    ``close`` only as the header's whole value (not in ``foo, close``)."""

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        self.request = request

    def transform_first_chunk(self, status_code: int, headers: httputil.HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, httputil.HTTPHeaders, bytes]:
        stream = getattr(self.request.connection, "stream", None)
        if isinstance(stream, GuardedStream) and stream.heads == stream.last:
            headers["Connection"] = "close"
        return status_code, headers, chunk


class GuardedServer(PausingAccept, HTTPServer):
    """Tornado's HTTPServer, serving every connection on a GuardedStream."""

    def initialize(self, request_callback: Application, config: Config, **options: object) -> None:
        self.config = config
        super().initialize(request_callback, **options)

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        """Serve the connection on a GuardedStream (the stream TCPServer made has done no I/O yet)."""
        stream = GuardedStream(stream.socket, self.config, max_buffer_size=self.max_buffer_size,
                               read_chunk_size=self.read_chunk_size)
        super().handle_stream(stream, address)


# SPEC: U14.2 U18.3 U20.3
def backstops(config: Config) -> dict[str, float]:
    """Tornado's own limits, moved where they never act first: each closes without a word."""
    return {
        # The rules check the target and the header section apart, each at its own limit; Tornado
        # has one limit for the whole head, widened here to hold both.
        "max_header_size": 2 * (config.max_target + config.max_header_bytes),
        # Tornado has one timer for the idle wait and the head together, and a body timer that
        # closes silently: GuardedStream keeps SPEC's three deadlines, with a 408 for two of them.
        "idle_connection_timeout": 2 * (config.idle_timeout + config.header_timeout),
        "body_timeout": 2 * config.body_timeout,
    }


def hardened_server(application: Application, config: Config, **options: object) -> HTTPServer:
    """An HTTPServer for ``application`` with Tornado's ``options``, the rules in front of its
    parser; with the hardening off (NETROSETTA_HARDENING=off), Tornado's own HTTPServer alone."""
    if not config.hardening:
        return HTTPServer(application, **options)
    application.add_transform(ConnectionClose)
    return GuardedServer(application, config, **{**options, **backstops(config)})
