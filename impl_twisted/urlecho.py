"""URL echo over HTTP/1.1 with twisted.web: a Site and a leaf Resource (SPEC.md, section U).

twisted.web parses requests, keeps connections alive, pipelines and frames responses; the resource
only says what to answer. Its defaults are lenient where the contract is strict (Host, request-line
grammar, limits, transfer codings, absolute deadlines), so the hardening lives in subclasses of its
public classes: UrlEchoChannel (an HTTPChannel) checks each line before Twisted parses it and keeps
the deadlines, UrlEchoRequest discards bodies. Nothing in Twisted is patched.
"""

import re
import sys
from io import BytesIO

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from zope.interface import implementer

from impl_twisted import IMPLEMENTATION, run_reactor
from netrosetta.answer import TEXT, answer
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG, LINGER_TIMEOUT

# The longest registered method is 17 bytes; a first word longer than this is garbage.
MAX_METHOD = 64
# A chunk-size line is hex digits plus extensions we ignore.
MAX_CHUNK_LINE = 4096
REASONS = {**http.RESPONSES, 431: b"Request Header Fields Too Large"}

# The grammar (RFC 9112, RFC 9110) that twisted.web does not check itself, as compiled patterns.
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# method SP request-target SP HTTP-version; the target is visible ASCII only.
REQUEST_LINE = re.compile(_TOKEN + rb"{1,%d} ([\x21-\x7e]+) HTTP/([0-9]{1,3})\.([0-9]{1,3})" % MAX_METHOD)
# What the first bytes of a request may look like before its line ends: anything that cannot grow
# into a request line (garbage, a TLS ClientHello) is refused at once, not at a timeout.
_PARTIAL_VERSION = rb"(?:H(?:T(?:T(?:P(?:/(?:[0-9]{1,3}(?:\.[0-9]{0,3})?)?)?)?)?)?)?"
REQUEST_START = re.compile(
    rb"(?:\r\n)?" + _TOKEN + rb"{0,%d}(?: (?:[\x21-\x7e]+(?: %s)?)?)?\r?" % (MAX_METHOD, _PARTIAL_VERSION))
# field-name ":" OWS field-value OWS: no whitespace before the colon, no CTL but HTAB in the value;
# a line that starts with whitespace (obs-fold) fails the name.
HEADER_LINE = re.compile(rb"(" + _TOKEN + rb"+):([^\x00-\x08\x0a-\x1f\x7f]*)")
ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*://")
# host[:port]: a bracketed IP literal, or a name or IPv4 address (RFC 3986's unreserved characters).
HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~]*)(?::[0-9]*)?")
DIGITS = re.compile(rb"[0-9]+")
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")

# What a connection is waiting for; each has its own deadline.
IDLE, HEAD, BODY = "idle", "head", "body"
# Where a chunked body is.
SIZE_LINE, CHUNK_DATA, CHUNK_END, TRAILERS = range(4)


class UrlEchoResource(Resource):
    """The one resource: any method, any target, answered with the target (or its JSON)."""

    isLeaf = True

    def render(self, request: Request) -> bytes:
        """Every method comes here (Resource.render would look for render_FOO, and 405 without it)."""
        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                   for name, values in request.requestHeaders.getAllRawHeaders() for value in values]
        version = request.sent_version or request.clientproto
        body, content_type = answer(request.method.decode("ascii"), request.uri.decode("ascii"),
                                    version.decode("ascii"), headers)
        request.setHeader(b"Content-Type", content_type.encode("ascii"))
        request.setHeader(b"Content-Length", b"%d" % len(body))
        # HEAD: the same headers, no body (returning one would make twisted.web log a warning).
        return b"" if request.method == b"HEAD" else body


class UrlEchoRequest(Request):
    """twisted.web's request, except that bodies are read and dropped, never kept."""

    # The version as the client sent it, where the channel had Twisted see HTTP/1.1 (HTTP/1.2+).
    sent_version: bytes | None = None

    def gotLength(self, length: int | None) -> None:
        """Twisted would spool a body over 100 kB to a temporary file; ours are discarded."""
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        """Discard the body (the channel has already checked its size)."""

    def process(self) -> None:
        """Send every request to the resource: Twisted answers a target of `*` itself, empty."""
        if self.path != b"*":
            super().process()
            return
        self.site = self.channel.site
        self.setHeader(b"Date", http.datetimeToString())
        self.prepath, self.postpath = [], []
        self.render(self.site.resource)


@implementer(IHalfCloseableProtocol)
class UrlEchoChannel(http.HTTPChannel):
    """One client connection: HTTPChannel, with each line checked before Twisted parses it."""

    # LF ends a line, so a bare LF is seen (and refused) at once instead of leaving the request hanging.
    delimiter = b"\n"

    def connectionMade(self) -> None:
        """Set the limits from the command line, and start waiting for the first request."""
        super().connectionMade()
        config = self.config = self.site.config
        # The contract's limits are ours to answer (414, 431): keep Twisted's own 400s out of reach.
        self.totalHeadersSize = config.max_target + config.max_header_bytes + 1024
        self.maxHeaders = config.max_header_bytes
        self.request_line_limit = MAX_METHOD + config.max_target + 16
        self.MAX_LENGTH = self.request_line_limit
        self.closing = False  # an answer was the last: drop whatever the client still sends
        self.deadline = None
        self.on_deadline = None
        self.phase = IDLE
        self.in_head = False
        self.skipped_crlf = False
        self.at_line_start = True  # did the last bytes received end a line?
        self.chunks: bytes | None = None  # the unparsed part of a chunked body, while in one
        self.arm(config.idle_timeout, self.idle_timed_out)

    # -- reading: every byte passes here first -------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """Start a request's header deadline at its first byte; refuse garbage before its line ends."""
        if self.closing:
            return
        at_line_start, self.at_line_start = self.at_line_start, data.endswith(b"\n")
        if self.phase == IDLE:
            self.start_request()
            # Only when no partial line can wait in LineReceiver's buffer: data then starts a line.
            line_end = data.find(b"\n")
            if at_line_start and REQUEST_START.fullmatch(data if line_end == -1 else data[:line_end]) is None:
                self.refuse(400, b"malformed request line")
                return
        super().dataReceived(data)

    def start_request(self) -> None:
        self.phase = HEAD
        self.arm(self.config.header_timeout, self.request_timed_out)

    def lineReceived(self, line: bytes) -> None:
        """Check one line of a request head, then hand it to HTTPChannel."""
        if self.closing:
            return  # LineReceiver goes on with the lines it already has; none is answered now
        if not line.endswith(b"\r"):
            self.refuse(400, b"bare LF line ending")
            return
        line = line[:-1]
        if self.phase == IDLE:
            self.start_request()  # a pipelined request, already buffered
        if not self.in_head:
            if not line and not self.skipped_crlf:
                self.skipped_crlf = True  # one empty line before a request line is ignored
                return
            self.request_line_received(line)
        elif line:
            self.header_line_received(line)
        else:
            self.end_of_head()

    def request_line_received(self, line: bytes) -> None:
        config = self.config
        match = REQUEST_LINE.fullmatch(line)
        if match is None:
            parts = line.split(b" ")
            if len(parts) >= 2 and len(parts[1]) > config.max_target:
                self.refuse(414, b"request target over %d bytes" % config.max_target)
            else:
                self.refuse(400, b"malformed request line")
            return
        target, major, minor = match.groups()
        if len(target) > config.max_target:
            self.refuse(414, b"request target over %d bytes" % config.max_target)
            return
        if major != b"1":
            self.refuse(505, b"only HTTP/1.x is served")
            return
        if line.startswith(b"CONNECT "):
            self.refuse(405, b"CONNECT is not served: this is not a proxy")
            return
        if target[0] != 47:  # not "/": the common case is origin-form
            if target == b"*":
                if not line.startswith(b"OPTIONS "):
                    self.refuse(400, b"'*' is only a target for OPTIONS")
                    return
            elif ABSOLUTE_FORM.match(target) is None:
                self.refuse(400, b"target is neither origin-form nor absolute-form")
                return
        sent_version = None
        if minor not in (b"0", b"1"):
            # HTTP/1.2 and up are served as HTTP/1.1, which is what Twisted must see.
            sent_version = line[match.end(1) + 1:]
            line = line[:match.end(1) + 1] + b"HTTP/1.1"
        self.http11 = minor != b"0"
        self.in_head = True
        self.skipped_crlf = False
        self.head_bytes = 0
        self.hosts = 0
        self.content_length: bytes | None = None
        self.codings: list[bytes] | None = None
        self.MAX_LENGTH = config.max_header_bytes
        super().lineReceived(line)
        self.requests[-1].sent_version = sent_version

    def header_line_received(self, line: bytes) -> None:
        config = self.config
        self.head_bytes += len(line) + 2
        if self.head_bytes > config.max_header_bytes:
            self.refuse(431, b"header section over %d bytes" % config.max_header_bytes)
            return
        # The longest line that still fits the header section (LineReceiver's own limit).
        self.MAX_LENGTH = max(config.max_header_bytes - self.head_bytes - 1, 1)
        match = HEADER_LINE.fullmatch(line)
        if match is None:
            self.refuse(400, header_fault(line))
            return
        name = match.group(1).lower()
        # Framing is checked here, at its own line: HTTPChannel acts on it when the next line comes.
        if name == b"host":
            self.hosts += 1
            if self.hosts > 1:
                self.refuse(400, b"more than one Host header")
                return
            if HOST.fullmatch(match.group(2).strip(b" \t")) is None:
                self.refuse(400, b"Host is not host[:port]")
                return
        elif name == b"content-length":
            value = match.group(2).strip(b" \t")
            if self.codings is not None:
                self.refuse(400, b"both Content-Length and Transfer-Encoding")
                return
            if self.content_length is not None or b"," in value:
                self.refuse(400, b"more than one Content-Length")
                return
            if DIGITS.fullmatch(value) is None:
                self.refuse(400, b"Content-Length is not a number")
                return
            self.content_length = value
        elif name == b"transfer-encoding":
            if self.content_length is not None:
                self.refuse(400, b"both Content-Length and Transfer-Encoding")
                return
            if not self.http11:
                self.refuse(400, b"Transfer-Encoding in an HTTP/1.0 request")
                return
            codings = self.codings = (self.codings or []) + [
                coding.split(b";", 1)[0].strip(b" \t").lower() for coding in match.group(2).split(b",")]
            if b"chunked" in codings and (codings[-1] != b"chunked" or codings.count(b"chunked") > 1):
                self.refuse(400, b"chunked is not the final transfer coding")
                return
            if not all(codings):
                self.refuse(400, b"empty transfer coding")
                return
            if any(coding != b"chunked" for coding in codings):
                self.refuse(501, b"only the chunked transfer coding is implemented")
                return
        super().lineReceived(line)

    def end_of_head(self) -> None:
        """The blank line: last checks, then HTTPChannel reads the body or answers at once."""
        config = self.config
        if self.http11 and not self.hosts:
            self.refuse(400, b"an HTTP/1.1 request needs a Host header")
            return
        if self.content_length is not None and int(self.content_length) > config.max_body:
            # Decided from the headers alone: no 100 Continue, no waiting for the body.
            self.refuse(413, b"Content-Length over %d bytes" % config.max_body)
            return
        self.in_head = False
        self.MAX_LENGTH = self.request_line_limit
        if self.codings or (self.content_length is not None and int(self.content_length)):
            self.phase = BODY
            self.arm(config.body_timeout, self.request_timed_out)
            if self.codings:
                # Twisted's chunked decoder hides chunk sizes and answers errors without framing,
                # so chunked bodies are read here (rawDataReceived); Content-Length ones by Twisted.
                self.chunks, self.chunk_state, self.body_size, self.trailer_bytes = b"", SIZE_LINE, 0, 0
        super().lineReceived(b"")

    def lineLengthExceeded(self, line: bytes) -> None:
        """A line that outgrew its limit, ended or not: the target or the header section is too long."""
        if self.in_head:
            self.refuse(431, b"header section over %d bytes" % self.config.max_header_bytes)
        else:
            # LineReceiver passes the long line with whatever followed it: look at the line only.
            parts = line.split(b"\n", 1)[0].split(b" ", 2)
            if len(parts) >= 2 and len(parts[1]) > self.config.max_target:
                self.refuse(414, b"request target over %d bytes" % self.config.max_target)
            else:
                self.refuse(400, b"malformed request line")

    def rawDataReceived(self, data: bytes) -> None:
        """Body bytes: HTTPChannel reads Content-Length bodies; chunked ones are read here."""
        if self.closing:
            return
        if self.chunks is None:
            super().rawDataReceived(data)
            return
        buffer = self.chunks + data if self.chunks else data
        position, end = 0, len(buffer)
        while position < end:
            if self.chunk_state == CHUNK_DATA:
                size = min(self.chunk_left, end - position)
                position += size
                self.chunk_left -= size
                if not self.chunk_left:
                    self.chunk_state = CHUNK_END
            elif self.chunk_state == CHUNK_END:
                if not buffer.startswith(b"\r\n"[:end - position], position):
                    self.refuse(400, b"chunk data not followed by CRLF")
                    return
                if end - position < 2:
                    break
                position += 2
                self.chunk_state = SIZE_LINE
            else:
                line_end = buffer.find(b"\r\n", position)
                if line_end == -1:
                    if end - position > MAX_CHUNK_LINE or buffer.find(b"\n", position) != -1:
                        self.refuse(400, b"bad chunk size line or trailer")
                        return
                    break
                line = buffer[position:line_end]
                position = line_end + 2
                if self.chunk_state == TRAILERS:
                    if line:
                        self.trailer_bytes += len(line) + 2
                        if self.trailer_bytes > self.config.max_header_bytes:
                            self.refuse(431, b"trailer section over %d bytes" % self.config.max_header_bytes)
                            return
                        if HEADER_LINE.fullmatch(line) is None:
                            self.refuse(400, b"bad trailer: " + header_fault(line))
                            return
                        continue
                    # The end of the body: answer, then parse what follows as the next request.
                    self.chunks = None
                    self.allContentReceived()
                    if position < end:
                        self.dataReceived(buffer[position:])
                    return
                match = CHUNK_SIZE.fullmatch(line)
                if match is None:
                    self.refuse(400, b"bad chunk size")
                    return
                self.chunk_left = int(match.group(1), 16)
                self.body_size += self.chunk_left
                if self.body_size > self.config.max_body:
                    self.refuse(413, b"chunked body over %d bytes" % self.config.max_body)
                    return
                self.chunk_state = CHUNK_DATA if self.chunk_left else TRAILERS
        self.chunks = buffer[position:]

    def allContentReceived(self) -> None:
        """The request is complete: HTTPChannel has it answered; we wait for the next one."""
        self.phase = IDLE
        self.arm(self.config.idle_timeout, self.idle_timed_out)
        super().allContentReceived()
        # Bytes of the next request that came with this one wait in LineReceiver's buffer, where
        # nothing would look at them before their line ends: that request has begun, so its header
        # deadline runs. Take them out and feed them back in, through dataReceived, like new bytes
        # that start a line. (Those after a body come back through dataReceived by themselves.)
        rest = self.clearLineBuffer()
        if rest:
            self.at_line_start = True
            self.dataReceived(rest)

    def checkPersistence(self, request: Request, version: bytes) -> bool:
        """Keep-alive by the version's default, `Connection: close` or HTTP/1.0's `keep-alive`."""
        connection = request.requestHeaders.getRawHeaders(b"Connection")
        tokens = {token.strip(b" \t").lower() for value in connection or () for token in value.split(b",")}
        if b"close" in tokens or (version == b"HTTP/1.0" and b"keep-alive" not in tokens):
            request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
            return False
        if version == b"HTTP/1.0":
            request.responseHeaders.setRawHeaders(b"Connection", [b"keep-alive"])
        return True

    # -- answering errors ------------------------------------------------------------------

    def refuse(self, status: int, reason: bytes) -> None:
        """Answer an error (every one closes the connection), and parse nothing after it."""
        if self.closing:
            return
        body = b"%d %s: %s\n" % (status, REASONS[status], reason)
        # Written by hand, as HTTPChannel writes its own 400 and 100 Continue: there may be no
        # Request yet (a bad request line), and nothing else will be answered on this connection.
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n"
            b"Date: %s\r\n\r\n%s" % (status, REASONS[status], TEXT.encode("ascii"), len(body),
                                     http.datetimeToString(), body))
        self.loseConnection()

    # -- deadlines: absolute, never pushed back by more bytes of the same request ------------

    def arm(self, seconds: float, on_deadline) -> None:
        """One timer per connection, moved to whatever the connection now waits for."""
        self.on_deadline = on_deadline
        if self.deadline is not None and self.deadline.active():
            self.deadline.reset(seconds)
        else:
            self.deadline = self.callLater(seconds, self.deadline_passed)

    def deadline_passed(self) -> None:
        self.deadline = None
        self.on_deadline()

    def idle_timed_out(self) -> None:
        """No request for too long (or a client that stopped reading): close without a word."""
        self.loseConnection()

    def request_timed_out(self) -> None:
        """A request's head or body did not arrive in time (slowloris): 408, then close."""
        self.refuse(408, b"the request did not arrive in time")

    # -- closing ---------------------------------------------------------------------------

    def loseConnection(self) -> None:
        """After the last answer: send it, then FIN, and drop what the client still sends."""
        self.closing = True
        self.transport.unregisterProducer()  # HTTPChannel is the transport's producer
        self.transport.resumeProducing()  # keep reading (and dropping), so no unread input resets
        self.transport.loseWriteConnection()
        self.arm(LINGER_TIMEOUT, self.transport.abortConnection)

    def readConnectionLost(self) -> None:
        """Half-close: the client sends no more, but still reads the answers we owe it."""
        self.closing = True
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        """Our FIN is out (lingering close): the client's EOF or the linger deadline ends it."""

    def connectionLost(self, reason: object) -> None:
        if self.deadline is not None and self.deadline.active():
            self.deadline.cancel()
        super().connectionLost(reason)


class UrlEchoSite(Site):
    """twisted.web's Site, building our channel and request, with the limits of the command line."""

    protocol = UrlEchoChannel
    requestFactory = UrlEchoRequest

    def __init__(self, config: Config) -> None:
        # timeout=None: the channel keeps its own deadlines (Twisted's idle timeout is reset by
        # every byte, so a client trickling a byte at a time would never be cut off).
        super().__init__(UrlEchoResource(), timeout=None)
        self.config = config

    def log(self, request: Request) -> None:
        """The access log goes to stderr with the other logs; with --quiet it is not even formatted."""
        if not self.config.quiet:
            super().log(request)


def header_fault(line: bytes) -> bytes:
    """Why a header line failed the grammar, for the 400's body (off the hot path)."""
    name, colon, _ = line.partition(b":")
    if line[:1] in (b" ", b"\t"):
        return b"obs-fold or whitespace before a header line"
    if not colon:
        return b"header line without a colon"
    if not name:
        return b"empty header name"
    if name != name.rstrip(b" \t"):
        return b"whitespace before the colon"
    if re.fullmatch(_TOKEN + rb"+", name) is None:
        return b"header name is not a token"
    return b"control character (CR, LF, NUL...) in a header value"


def serve(reactor: object, host: str, port: int, config: Config) -> Deferred:
    """Listen on host:port and serve the URL echo site; fires with the listening port."""
    endpoint = TCP4ServerEndpoint(reactor, port, backlog=BACKLOG, interface=host)
    return endpoint.listen(UrlEchoSite(config))


def main(config: Config) -> None:
    """Listen, announce READY, and run the reactor until SIGINT or SIGTERM."""
    from twisted.internet import reactor  # only now: --loop has installed the reactor it names

    run_reactor(reactor, config.host, [serve(reactor, config.host, config.ports[0], config)])


if __name__ == "__main__":
    run(IMPLEMENTATION, ["urlecho", *sys.argv[1:]])
