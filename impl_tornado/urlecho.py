"""URL echo on tornado.web and Tornado's HTTPServer, hardened through public hooks (SPEC.md, section U)."""

import asyncio
import contextlib
import functools
import re
import socket
import sys
import time
from collections.abc import Awaitable

from tornado import gen, httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from impl_tornado import IMPLEMENTATION, run_loop
from netrosetta.answer import TEXT, answer
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG, LINGER_TIMEOUT

# RFC 3986 §3.2.2: a name (letters, digits, -._~; an IPv4 address is one too) or an IPv6 literal.
HOST = re.compile(r"(?:[A-Za-z0-9\-._~]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?")
# RFC 9110 §4.2: a target in absolute-form starts with a scheme and "://".
ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*://")
# RFC 9112 §3.2: visible ASCII only, no spaces, no obs-text.
VISIBLE = re.compile(r"[\x21-\x7e]+")
DIGITS = re.compile(r"[0-9]+")
# A request line that ends in an HTTP-version, whatever its major number.
OTHER_VERSION = re.compile(rb" HTTP/([0-9])\.[0-9]\r?$")
# Bytes that no request head holds anywhere (NUL and the other controls but HT, LF and CR).
CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BARE_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"


class AnyMethod:
    """Every method is supported: RequestHandler checks ``method in SUPPORTED_METHODS``."""

    def __contains__(self, method: object) -> bool:
        return True


class UrlEchoHandler(RequestHandler):
    """Any method, any target: the answer is the request-target, as text or JSON."""

    # HTTPServer has already checked that the method is a token; RequestHandler would refuse
    # anything outside its list of seven with 405.
    SUPPORTED_METHODS = AnyMethod()  # type: ignore[assignment]

    def prepare(self) -> None:
        """Answer here, for every method: RequestHandler has a get() or post() per method name only."""
        request = self.request
        body, content_type = answer(request.method, request.uri, request.version,
                                    list(request.headers.get_all()))
        self.set_header("Content-Type", content_type)
        # Tornado closes after "Connection: close" only when that is the header's whole value.
        closing = "close" in request.headers.get("Connection", "").lower().replace(" ", "").split(",")
        if closing:
            self.set_header("Connection", "close")
        # For HEAD, finish() still counts the Content-Length of this body, then sends none.
        sent = self.finish(body)
        if closing:
            sent.add_done_callback(lambda _: request.connection.close())

    def compute_etag(self) -> None:
        """No ETag: an echo is never 304 Not Modified, and hashing every answer costs time."""
        return None


class RequestGuard(httputil.HTTPMessageDelegate):
    """Checks a request's head before the Application sees it; refuses it with a complete answer.

    Tornado's own parser has checked the request line and header syntax already; what is left
    is what RFC 9112 asks of a server beyond syntax: Host, framing (request smuggling), limits.
    """

    def __init__(self, delegate: httputil.HTTPMessageDelegate, connection: httputil.HTTPConnection,
                 config: Config) -> None:
        self.delegate = delegate
        self.connection = connection
        self.config = config
        self.received = 0

    def refusal(self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders) -> int | None:
        """The status that refuses this request, or None if the Application may answer it."""
        method, target, version = start_line
        if method == "CONNECT":
            return 405  # no tunnels here
        if len(target) > self.config.max_target:
            return 414
        if not VISIBLE.fullmatch(target):
            return 400
        if target == "*" and method != "OPTIONS":
            return 400
        if not (target.startswith("/") or target == "*" or ABSOLUTE_FORM.match(target)):
            return 400
        hosts = headers.get_list("Host")
        if len(hosts) > 1 or (not hosts and version != "HTTP/1.0"):
            return 400
        if hosts and not HOST.fullmatch(hosts[0]):
            return 400
        lengths = headers.get_list("Content-Length")
        codings = headers.get_list("Transfer-Encoding")
        if codings:
            if lengths or version == "HTTP/1.0":
                return 400  # which framing wins is how requests get smuggled: refuse both
            names = [name.strip().lower() for value in codings for name in value.split(",")]
            if names.count("chunked") > 1 or ("chunked" in names and names[-1] != "chunked"):
                return 400
            if names != ["chunked"]:
                return 501
        if lengths:
            values = {part.strip() for value in lengths for part in value.split(",")}
            if len(values) != 1 or not all(DIGITS.fullmatch(value) for value in values):
                return 400
            if int(values.pop()) > self.config.max_body:
                return 413  # before any 100 Continue: Tornado sends that after this method
        return None

    def headers_received(self, start_line: httputil.RequestStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        """Refuse a bad head at once; hand a good one to the Application."""
        status = self.refusal(start_line, headers)
        if status is None:
            return self.delegate.headers_received(start_line, headers)
        # Take the stream from HTTP1Connection: it would otherwise go on to read the body.
        return refuse(self.connection.detach(), status)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Count the body as it comes: a chunked one is refused with 413 once it passes --max-body."""
        self.received += len(chunk)
        if self.received > self.config.max_body:
            # HTTP1Connection waits for this coroutine before it reads on, so the stream is ours.
            return refuse(self.connection.stream, 413)
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


def render_error(status: int) -> bytes:
    """A complete error response: Date, Content-Length, Connection: close, a one-line body."""
    reason = httputil.responses.get(status, "Error")
    body = f"{status} {reason}\n"
    return (f"HTTP/1.1 {status} {reason}\r\nDate: {httputil.format_timestamp(time.time())}\r\n"
            f"Content-Type: {TEXT}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            f"{body}").encode("ascii")


async def refuse(stream: IOStream, status: int) -> None:
    """Send a complete error response, then close without resetting it away."""
    with contextlib.suppress(StreamClosedError, OSError, gen.TimeoutError):
        await stream.write(render_error(status))
        stream.socket.shutdown(socket.SHUT_WR)
        await gen.with_timeout(stream.io_loop.time() + LINGER_TIMEOUT, drain(stream),
                               quiet_exceptions=(StreamClosedError,))
    stream.close()


async def drain(stream: IOStream) -> None:
    """Read and drop everything until the client closes."""
    with contextlib.suppress(StreamClosedError):
        while True:
            await stream.read_bytes(64 * 1024, partial=True)


class UrlEchoStream(IOStream):
    """The IOStream HTTP1Connection reads and writes, doing through its public methods what
    HTTP1Connection leaves undone: complete error answers, the idle and header deadlines, chunk
    extensions and trailers, and half-close."""

    head: "asyncio.Future[bytes] | None" = None  # the read of the current request's head
    in_head = False  # is the read in progress (or last failed) the one of a head?
    line_ended = False  # has its request line ended (a head over the limit: 431, else 414)?
    owed_crlf = False  # has the CRLF that ends a chunked body been read with its trailers?
    max_trailers = 16 * 1024

    def __init__(self, sock: socket.socket, idle_timeout: float, header_timeout: float,
                 **options: object) -> None:
        super().__init__(sock, **options)
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.head_awaited = 0.0  # when the read of the current head began (the idle wait)
        self.head_started: float | None = None  # when the current head's first byte arrived
        self.deadline: object | None = None  # the IOLoop timeout that checks them
        self.deadline_at = 0.0  # when it fires
        # Bytes read from the socket, and bytes handed to HTTP1Connection: more of the first means
        # that the next request has begun in IOStream's buffer, where no read_from_fd shows it.
        self.bytes_received = 0
        self.bytes_consumed = 0

    def write(self, data: bytes | memoryview) -> "asyncio.Future[None]":
        """Turn Tornado's bare 400 (sent for a head its parser rejects) into a complete one, sent
        by refuse_now with a lingering close."""
        # HTTP1Connection answers a malformed head with exactly these bytes, then closes: no Date,
        # no Content-Length, no Connection: close, and no public hook to change that.
        if data == BARE_400:
            self.refuse_now(505 if self.other_major_version() else 400)
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return super().write(data)

    def read_until_regex(self, regex: bytes, max_bytes: int | None = None) -> "asyncio.Future[bytes]":
        """HTTP1Connection reads each request's head with this: keep it, to say why it was refused."""
        self.line_ended = False
        self.head_awaited = self.io_loop.time()
        self.head_started = None
        self.in_head = True
        self.head = None
        if self.bytes_received > self.bytes_consumed:
            # Its first bytes came with the last request (pipelined): the head has begun, so only
            # the header deadline runs, from now, the earliest Tornado lets us see them.
            self.head_started = self.head_awaited
            self.arm(self.head_started + self.header_timeout)
        else:
            # The idle wait: Tornado's own timer (idle_connection_timeout) would run on to the end
            # of the head, and cut off a request begun in time; here it ends at the head's first byte.
            self.arm(self.head_awaited + self.idle_timeout)
        self.head = self.consumed(super().read_until_regex(regex, max_bytes))
        return self.head

    def read_until(self, delimiter: bytes, max_bytes: int | None = None) -> "asyncio.Future[bytes]":
        """HTTP1Connection reads a chunk's size line with this (a line over its limit is a 400)."""
        self.in_head = False
        reading = self.consumed(super().read_until(delimiter, max_bytes))
        return asyncio.ensure_future(self.chunk_size_line(reading))

    async def chunk_size_line(self, reading: "asyncio.Future[bytes]") -> bytes:
        """The size line without its chunk extensions; after the last chunk, skip the trailers."""
        # Tornado's chunked reader takes neither (RFC 9112 §7.1.1: extensions are ignored, and
        # §7.1.2: trailer fields may follow the last chunk), so hand it what it does take.
        line = await reading
        size = line[:-2].split(b";", 1)[0].rstrip(b" \t")
        if size and not size.strip(b"0"):
            # The trailer section and its final CRLF, which Tornado will ask for as two bytes.
            await self.consumed(super().read_until_regex(rb"^\r\n|\r\n\r\n", max_bytes=self.max_trailers))
            self.owed_crlf = True
        return size + b"\r\n"

    def read_bytes(self, num_bytes: int, partial: bool = False) -> "asyncio.Future[bytes]":
        """The CRLF after the last chunk, if chunk_size_line has already read it."""
        if self.owed_crlf and num_bytes == 2:
            self.owed_crlf = False
            done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            done.set_result(b"\r\n")
            return done
        return self.consumed(super().read_bytes(num_bytes, partial))

    def consumed(self, reading: "asyncio.Future[bytes]") -> "asyncio.Future[bytes]":
        """Count the bytes a read takes from the buffer, before whoever awaits the read sees them."""
        if reading.done():
            self.count_consumed(reading)  # awaiting a done future does not yield: count it now
        else:
            reading.add_done_callback(self.count_consumed)  # the first callback, so it runs first
        return reading

    def count_consumed(self, reading: "asyncio.Future[bytes]") -> None:
        if not reading.cancelled() and reading.exception() is None:
            self.bytes_consumed += len(reading.result())

    def close(self, exc_info: object = False) -> None:
        """A head over max_header_size makes IOStream close at once: answer 414 or 431 first."""
        if isinstance(exc_info, UnsatisfiableReadError) and self.in_head:
            self.refuse_now(431 if self.line_ended else 414)
        if self.deadline is not None:
            self.io_loop.remove_timeout(self.deadline)
            self.deadline = None
        super().close(exc_info)

    def refuse_now(self, status: int) -> None:
        """Send an error response on a copy of the socket, as the stream is about to close."""
        if not self.closed() and not self.writing():
            # IOStream (or HTTP1Connection) closes this stream's socket at once; a duplicate keeps
            # the connection open for the answer and a lingering close, on a stream of its own.
            with contextlib.suppress(OSError):
                self.io_loop.add_callback(refuse, IOStream(self.socket.dup()), status)

    def other_major_version(self) -> bool:
        """Did the last head read ask for an HTTP major version other than 1 (505, not 400)?"""
        head = self.head
        if head is None or not head.done() or head.exception() is not None:
            return False
        version = OTHER_VERSION.search(head.result().split(b"\n", 1)[0])
        return version is not None and version.group(1) != b"1"

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        """Watch what arrives: an EOF between requests, and the bytes of each head."""
        count = super().read_from_fd(buf)
        if count == 0 and not self.reading():
            # Half-close: IOStream watches an idle socket to notice a close, and closes itself at
            # EOF at once, even between reading a request and writing its answer (Tornado has no
            # half-close). So that the answer still goes out, only a reader is told of the EOF.
            return None
        if count and self.in_head and (self.head is None or not self.head.done()):
            count = self.head_received(buf, count)
        if count:
            self.bytes_received += count
        return count

    def head_received(self, buf: bytearray | memoryview, count: int) -> int:
        """Bytes of a head: start its deadline; refuse at once what no request line holds."""
        if self.head_started is None:
            # Slowloris: the head must be complete header_timeout after its first byte, however
            # slowly it trickles in (Tornado's own timer counts from the end of the last request).
            self.head_started = self.io_loop.time()
            self.arm(self.head_started + self.header_timeout)
        if not self.line_ended:
            # Still in the request line (body bytes come after a LF, never before).
            end = buf.find(b"\n", 0, count)
            if CONTROL.search(buf, 0, count if end == -1 else end):
                # No request line holds these bytes (a TLS ClientHello does): answer now.
                self.refuse_now(400)
                return 0
            self.line_ended = end != -1
        return count

    def arm(self, due: float) -> None:
        """Have check_deadline run by ``due``: one timer, moved only to fire sooner."""
        if self.closed():
            # HTTP1Connection asks a closed stream for the next head, and gets StreamClosedError;
            # a timer armed now would keep the dead stream alive until it fired.
            return
        # On the hot path a timer already runs that fires sooner; it checks, and re-arms itself.
        if self.deadline is not None and self.deadline_at <= due:
            return
        if self.deadline is not None:
            self.io_loop.remove_timeout(self.deadline)
        self.deadline_at = due
        self.deadline = self.io_loop.call_at(due, self.check_deadline)

    def check_deadline(self) -> None:
        """Close a connection idle for idle_timeout; 408 for a head still incomplete
        header_timeout after its first byte, then close."""
        self.deadline = None
        if self.closed() or self.head is None or self.head.done():
            return  # no head awaited: the next read of one arms the timer again
        if self.head_started is None:
            due = self.head_awaited + self.idle_timeout
        else:
            due = self.head_started + self.header_timeout
        if due > self.io_loop.time():
            self.arm(due)
        elif self.head_started is None:
            self.close()  # idle: no request was begun, so none is answered
        else:
            self.refuse_now(408)
            self.close()


class UrlEchoServer(HTTPServer):
    """Tornado's HTTPServer, with a RequestGuard in front of the Application for every request."""

    def initialize(self, request_callback: Application, config: Config, **options: object) -> None:
        self.config = config
        super().initialize(request_callback, **options)

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        """Serve the connection on an UrlEchoStream (the stream TCPServer made has done no I/O yet)."""
        stream = UrlEchoStream(stream.socket, self.config.idle_timeout, self.config.header_timeout,
                               max_buffer_size=self.max_buffer_size, read_chunk_size=self.read_chunk_size)
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> RequestGuard:
        return RequestGuard(super().start_request(server_conn, request_conn), request_conn, self.config)


def serve(server: UrlEchoServer, host: str, port: int) -> list[socket.socket]:
    """Listen on host:port with the one HTTPServer."""
    sockets = bind_sockets(port, host, backlog=BACKLOG)
    server.add_sockets(sockets)
    return sockets


def main(config: Config) -> None:
    """Listen, announce READY, and run the IOLoop until SIGINT or SIGTERM."""
    # The access log is Tornado's own (tornado.access); with --quiet it is not even formatted.
    quiet = {"log_function": lambda handler: None} if config.quiet else {}
    application = Application([(r".*", UrlEchoHandler)], **quiet)
    server = UrlEchoServer(
        application, config,
        # A head (request line included, as the contract allows) over max_header_size makes
        # IOStream close the connection: UrlEchoStream.close answers 414 or 431 first.
        max_header_size=config.max_header_bytes,
        # Twice ours, so that RequestGuard sees a chunked body pass ours and answers 413; Tornado's
        # own check (a bare 400) is left for a single chunk announced larger than that.
        max_body_size=2 * config.max_body,
        # Tornado has one timer for an idle connection and for a request's head together, from
        # the end of one request to the end of the next head; UrlEchoStream keeps the two
        # deadlines apart, and this one is only a backstop that never fires first.
        idle_connection_timeout=2 * (config.idle_timeout + config.header_timeout),
        body_timeout=config.body_timeout,
    )
    run_loop(config.host, config.ports, functools.partial(serve, server))


if __name__ == "__main__":
    run(IMPLEMENTATION, ["urlecho", *sys.argv[1:]])
