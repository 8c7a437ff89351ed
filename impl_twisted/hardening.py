"""What twisted.web needs to meet SPEC section U, added where Twisted lets you intercept.

twisted.web parses HTTP/1.1 by itself, and leniently: it checks no Host, refuses HTTP/1.2, never
keeps an HTTP/1.0 connection alive, answers a `*` target itself, refuses with a bare `400` and
restarts its one timeout with every byte. Nothing in Twisted is patched: ``harden(site, config)``
hands the Site two classes of ours through its public hooks, ``site.protocol`` and
``site.requestFactory``.

- HardenedChannel, an HTTPChannel. Its ``dataReceived`` feeds every byte, before HTTPChannel parses
  it, to netrosetta.rules.RequestParser, the one home of the rules, and refuses what that refuses
  with its one error answer; HTTPChannel only ever parses requests the rules accept. The parser's
  events also decide keep-alive (``checkPersistence``) and, by its ``phase``, the deadlines. As the
  transport's producer (``pauseProducing``) it stops reading while answers wait to be sent.
- HardenedRequest, a twisted.web Request: the version as sent, bodies dropped, `*` served.

Twisted's own chunked decoder stays: it reads chunk extensions and trailers itself, and the parser
has refused every bad chunk before it sees one. It is stricter than the rules only in corners no
clause tests (whitespace before a chunk extension's `;`, a chunk-size line over 1 KiB), where it
answers its own bare 400: no public hook replaces it, and a decoder of our own would be the second
copy of the grammar that this module exists not to be.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from io import BytesIO

from twisted.internet.interfaces import IDelayedCall, IHalfCloseableProtocol
from twisted.web import http
from twisted.web.server import Request, Site
from zope.interface import implementer

from netrosetta.launch import Config
from netrosetta.registry import LINGER_TIMEOUT
from netrosetta.rules import EndOfMessage, Error, RequestParser, error_response
from netrosetta.rules import Request as Head

# HTTPChannel's own limits (line length, header bytes, header count) are set this far beyond the
# parser's, so the parser always answers a limit first, with 414 or 431 and the one error answer.
SLACK = 1024
TIMED_OUT = "the request did not arrive in time"


class HardenedRequest(Request):
    """twisted.web's Request, with the version as sent, bodies dropped and `*` sent to the resource."""

    # SPEC: U9.2
    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """The resource sees the version as sent (HTTP/1.2) where HTTPChannel was shown HTTP/1.1."""
        super().requestReceived(command, path, self.channel.sent_version or version)

    def gotLength(self, length: int | None) -> None:
        """Twisted would spool a body over 100 kB to a temporary file; ours are dropped as they come."""
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        """Drop the body: the parser has already counted it against --max-body."""

    # SPEC: U11.3
    def process(self) -> None:
        """Twisted answers a `*` target itself (an empty 200): send it to the resource like any other."""
        if self.path != b"*":
            super().process()
            return
        self.site = self.channel.site
        self.setHeader(b"Date", http.datetimeToString())
        self.prepath, self.postpath = [], []
        self.render(self.site.resource)


@implementer(IHalfCloseableProtocol)
class HardenedChannel(http.HTTPChannel):
    """One client connection: HTTPChannel, parsing only what netrosetta's rules have accepted."""

    # One channel per open connection. HTTPChannel's own attributes share their keys across
    # instances (a compact dict), but only up to 30 of them: ours, added to its 23, would turn every
    # channel's dict into a full one of its own, so ours live in slots.
    __slots__ = ("config", "parser", "MAX_LENGTH", "totalHeadersSize", "maxHeaders", "keep_alive",
                 "complete", "received", "refusal", "at_request_line", "sent_version", "checking",
                 "closing", "deadline", "on_deadline", "phase", "phase_requests")

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.parser = RequestParser(config.max_target, config.max_header_bytes, config.max_body)
        self.MAX_LENGTH = self.totalHeadersSize = self.maxHeaders = (
            config.max_target + config.max_header_bytes + SLACK)
        # The parser runs ahead of HTTPChannel: its verdicts wait here for HTTPChannel to catch up.
        # A list, not a deque: it is almost always empty, and an empty deque still holds a block.
        self.keep_alive: list[bool] = []  # one per request HTTPChannel has not reached yet
        self.complete = 0  # requests the parser has read whole
        self.received = 0  # requests HTTPChannel has read whole (and answered: the resource is synchronous)
        self.refusal: Error | None = None  # the parser's verdict on the first request it refused
        self.at_request_line = True  # is HTTPChannel's next line a request line?
        self.sent_version: bytes | None = None  # the current request's version, where Twisted sees 1.1
        self.checking = False  # inside dataReceived: bytes HTTPChannel hands back were checked already
        self.closing = False  # the last answer is out: read and drop whatever the client still sends
        self.deadline: IDelayedCall | None = None
        # What the deadline does, as a function of the class (a bound method would be an object
        # per connection).
        self.on_deadline: Callable[[HardenedChannel], None] = HardenedChannel.idle_timeout
        # What the connection waits for: the parser's phase, in which request.
        self.phase: str | None = None
        self.phase_requests = 0

    def connectionMade(self) -> None:
        """Before its first request, a new connection is idle like a kept-alive one."""
        super().connectionMade()
        self.follow_phase()

    # -- the rules: every byte is checked before HTTPChannel parses it --------------------------

    # SPEC: U8.2 U9.3 U10.2 U11.4 U12.1 U12.2 U12.3 U13.1 U13.2 U13.3 U13.4 U13.5 U13.6 U13.7 U20.1
    # SPEC: U8.3 U13.8 U13.9 U20.7
    def dataReceived(self, data: bytes) -> None:
        """Feed the parser first; HTTPChannel then parses what it accepted, up to a refusal."""
        if self.checking:
            # HTTPChannel hands back the pipelined bytes it held while answering (requestDone).
            super().dataReceived(data)
            return
        if self.closing:
            return
        for event in self.parser.feed(data):
            kind = type(event)
            if kind is Head:
                self.keep_alive.append(event.keep_alive)
            elif kind is EndOfMessage:
                self.complete += 1
            elif kind is Error:
                self.refusal = event
        self.checking = True
        try:
            if self.refusal is None or not self.refuse_if_reached():
                super().dataReceived(data)
                if self.refusal is not None:
                    # HTTPChannel has answered every request before the refused one, whose bytes
                    # (garbage, a TLS ClientHello...) may hold no line end for it to stop at.
                    self.refuse_if_reached()
        finally:
            self.checking = False
        if not self.closing:
            self.follow_phase()

    # SPEC: U7.2 U14.1 U14.2 U15.1 U15.2 U15.3 U15.4 U15.5 U15.6 U15.7 U16.1 U16.2 U20.2 U20.4
    # SPEC: U6.3
    def refuse_if_reached(self) -> bool:
        """Refuse once HTTPChannel has answered every request before the refused one.

        The refused request may be the one whose head HTTPChannel is reading, one whose body it is
        reading (a bad chunk, a body past --max-body), or one pipelined behind answered ones: it is
        refused before HTTPChannel acts on it, and nothing after it is ever parsed, so no byte that
        follows a framing error is ever served as a request.
        """
        if self.received < self.complete:
            return False
        self.refuse(self.refusal.status, self.refusal.reason)
        return True

    # SPEC: U1.3 U17.3 U20.6
    def refuse(self, status: int, reason: str) -> None:
        """Answer the one error answer (every one closes), and let HTTPChannel parse nothing more."""
        if self.closing:
            return
        self.transport.write(error_response(status, reason))
        self.loseConnection()

    # -- what Twisted decides by itself, decided as the rules say -------------------------------

    # SPEC: U9.2
    def lineReceived(self, line: bytes) -> None:
        """HTTPChannel refuses HTTP/1.2 and up, which are served as HTTP/1.1: show it HTTP/1.1."""
        if self.at_request_line and line:  # HTTPChannel skips one empty line before a request
            self.at_request_line = False
            if line.endswith((b" HTTP/1.1", b" HTTP/1.0")):
                self.sent_version = None
            else:
                start, _, self.sent_version = line.rpartition(b" ")
                minor = int(self.sent_version.rpartition(b".")[2])  # the parser has checked it
                line = start + (b" HTTP/1.1" if minor else b" HTTP/1.0")
        super().lineReceived(line)

    # SPEC: U9.2
    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: http.Headers) -> None:
        """The status line carries the server's version (RFC 9110 6.2), not the request's HTTP/1.2."""
        super().writeHeaders(b"HTTP/1.1", code, reason, headers)

    # SPEC: U4.4
    def checkPersistence(self, request: Request, version: bytes) -> bool:
        """Keep-alive as the parser decided (Twisted never keeps HTTP/1.0 and reads one Connection line)."""
        keep_alive = self.keep_alive.pop(0)
        if not keep_alive:
            request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
        elif version == b"HTTP/1.0":
            request.responseHeaders.setRawHeaders(b"Connection", [b"keep-alive"])
        return keep_alive

    def allContentReceived(self) -> None:
        """A request is whole: HTTPChannel answers it, then reads on, unless the next one is refused."""
        self.received += 1
        self.at_request_line = True
        super().allContentReceived()
        if self.refusal is not None:
            # Stop HTTPChannel before the first line of a refused request pipelined behind this one.
            self.refuse_if_reached()

    # -- deadlines: absolute, never pushed back by more bytes of the same request ----------------

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def follow_phase(self) -> None:
        """Arm the deadline of what the connection now waits for, from when it began to wait."""
        phase = self.parser.phase
        if phase == self.phase and self.complete == self.phase_requests:  # a new request is a new phase
            return
        self.phase = phase
        self.phase_requests = self.complete
        if phase == "idle":
            self.arm(self.config.idle_timeout, HardenedChannel.idle_timeout)
        elif phase == "head":
            self.arm(self.config.header_timeout, HardenedChannel.request_timeout)
        elif phase == "body":
            self.arm(self.config.body_timeout, HardenedChannel.request_timeout)

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def arm(self, seconds: float, on_deadline: Callable[[HardenedChannel], None]) -> None:
        """One timer per connection, moved to whatever the connection now waits for."""
        self.on_deadline = on_deadline
        if self.deadline is not None and self.deadline.active():
            self.deadline.reset(seconds)
        else:
            self.deadline = self.callLater(seconds, self.deadline_passed)

    # SPEC: U18.1 U18.2 U18.3 U20.3
    def deadline_passed(self) -> None:
        self.deadline = None
        self.on_deadline(self)

    # SPEC: U18.3
    def idle_timeout(self) -> None:
        """No request for too long (or a client that stopped reading): close without a word."""
        self.loseConnection()

    # SPEC: U18.1 U18.2 U20.3
    def request_timeout(self) -> None:
        """A request's head or body did not arrive in time (slowloris): 408, then close."""
        self.refuse(408, TIMED_OUT)

    # SPEC: U17.3
    def linger_timeout(self) -> None:
        """The client neither closed nor stopped sending after our last answer: cut it off."""
        self.transport.abortConnection()

    # -- backpressure: the transport is the consumer of the answers, the channel their producer ----

    # SPEC: U19.4
    def pauseProducing(self) -> None:
        """More than the transport's bufferSize (64 KiB) of answers waits to be sent: stop reading.

        HTTPChannel pauses its transport here only between requests. While it handles one it just
        notes the wait, and requestDone then leaves the transport as it is; our resource writes its
        whole answer while it is handled, so a client pipelining requests without reading was read
        on and on, its answers piling up in the write buffer. When the buffer has drained, the
        transport calls resumeProducing, which HTTPChannel does right: it reads again between
        requests.
        """
        super().pauseProducing()
        self.transport.pauseProducing()

    # -- closing ---------------------------------------------------------------------------------

    # SPEC: U17.3
    def loseConnection(self) -> None:
        """After the last answer: send it, then FIN, and read and drop what the client still sends."""
        self.closing = True
        # Nothing after the last answer is parsed: HTTPChannel stops at a closing transport, and
        # ours stays open for the lingering close.
        self.clearLineBuffer()
        self.transport.unregisterProducer()  # HTTPChannel is the transport's producer
        self.transport.resumeProducing()  # keep reading, so unread input never turns into a RST
        self.transport.loseWriteConnection()
        self.arm(LINGER_TIMEOUT, HardenedChannel.linger_timeout)

    # SPEC: U17.1
    def readConnectionLost(self) -> None:
        """Half-close: the client sends no more, but still reads the answers we owe it."""
        self.closing = True
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    # SPEC: U17.1
    def writeConnectionLost(self) -> None:
        """Our FIN is out (lingering close): the client's EOF or the linger deadline ends it."""

    def connectionLost(self, reason: object) -> None:
        if self.deadline is not None and self.deadline.active():
            self.deadline.cancel()
        super().connectionLost(reason)


def harden(site: Site, config: Config) -> Site:
    """The site with our channel and request classes; as it is with NETROSETTA_HARDENING=off."""
    if not config.hardening:
        return site
    site.protocol = partial(HardenedChannel, config)
    site.requestFactory = HardenedRequest
    # Twisted's one timeout restarts with every byte, so a client trickling a byte at a time is
    # never cut off: the channel keeps absolute deadlines instead.
    site.timeOut = None
    return site
