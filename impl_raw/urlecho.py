"""URL echo over HTTP/1.1 on raw non-blocking sockets and impl_raw's own event loop (SPEC.md, section U).

The HTTP rules live in netrosetta/rules.py (a sans-IO parser: bytes in, events out, written by hand
for this package and shared as every implementation's rules); this file is the I/O around it:
buffering, pipelining, backpressure, timeouts and closing. ``--model threaded`` serves the same
answers with blocking calls instead (UrlEchoHandler, on impl_raw/blocking.py).
"""

import logging
import socket
import socketserver
import sys
import time
from collections.abc import Callable

from impl_raw import IMPLEMENTATION, run_loop
from impl_raw.blocking import serve_blocking
from impl_raw.loop import EventLoop, Timer, listen
from netrosetta.answer import TEXT, answer
from netrosetta.launch import Config, run
from netrosetta.registry import LINGER_TIMEOUT
from netrosetta.rules import (
    CONTINUE,
    Data,
    EndOfMessage,
    Error,
    Event,
    Request,
    RequestParser,
    error_response,
    http_date,
)

log = logging.getLogger("impl_raw.urlecho")

# Backpressure: stop reading from a client while this much waits to be sent to it (a pipelining
# client that never reads would otherwise grow the buffer without bound)...
HIGH_WATER = 1024 * 1024
# ...and read again once it has drained below this.
LOW_WATER = 256 * 1024
# Requests are small; 64 KiB holds hundreds of pipelined ones and a good slice of a body.
READ_SIZE = 64 * 1024

OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nDate: %s\r\n%s\r\n"
# The head and the body in one template: one formatting operation builds the whole answer...
OK = OK_HEAD + b"%s"
TEXT_BYTES = TEXT.encode("ascii")
# ...and the most common answer (text, no Connection field) has one of its own, with fewer values.
OK_TEXT = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
           b"Date: %s\r\n\r\n%s")


def render(request: Request, date: bytes) -> bytes:
    """The answer: 200, the URL (or its JSON), exact length, Date, and the keep-alive verdict."""
    body, content_type = answer(request.method, request.target, request.version, request.headers)
    if not request.keep_alive:
        connection = b"Connection: close\r\n"
    elif request.version == "HTTP/1.0":
        connection = b"Connection: keep-alive\r\n"
    else:
        connection = b""
    if content_type is TEXT and not connection and request.method != "HEAD":
        return OK_TEXT % (len(body), date, body)
    content_type = TEXT_BYTES if content_type is TEXT else content_type.encode("ascii")
    if request.method == "HEAD":
        return OK_HEAD % (content_type, len(body), date, connection)
    return OK % (content_type, len(body), date, connection, body)


def peer_name(sock: socket.socket) -> str:
    """host:port of the client, for the access log ("?" if it is gone already)."""
    try:
        address = sock.getpeername()
    except OSError:
        return "?"
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else address or "?"


def log_access(peer: str, request: Request, status: int) -> None:
    """One access-log line on stderr per answered request."""
    log.info('%s "%s %s %s" %d', peer, request.method, request.target, request.version, status)


def log_refusal(peer: str, status: int, reason: str) -> None:
    """One log line on stderr per refused request."""
    log.info("%s refused: %d %s", peer, status, reason)


class UrlEchoConnection:
    """One client: its requests are parsed in order and each is answered with its own URL."""

    def __init__(self, loop: EventLoop, sock: socket.socket, config: Config) -> None:
        self.loop = loop
        self.sock = sock
        self.config = config
        self.parser = RequestParser(config.max_target, config.max_header_bytes, config.max_body)
        self.outgoing = bytearray()
        self.request: Request | None = None
        self.reading = True
        self.writing = False
        self.closing = False  # no more requests: close once everything owed is sent
        self.eof = False  # the client half-closed: nothing more will arrive
        self.closed = False
        self.answered = 0  # requests completed, so a new request restarts its header deadline
        # One timer per connection, re-armed lazily: it fires at its time, and if the deadline
        # has moved later since, it sleeps again. Keep-alive requests then cost no heap push each.
        self.timer: Timer | None = None
        self.deadline = 0.0
        self.on_deadline = self.idle_timeout
        self.phase = ("idle", 0)
        # The access log names the client; with --quiet there is none, not even a formatted line.
        self.peer = None if config.quiet else peer_name(sock)
        loop.add_reader(sock, self.on_readable)
        # Before its first request, a new connection is idle like a kept-alive one.
        self.arm(config.idle_timeout, self.idle_timeout)

    # -- reading --------------------------------------------------------------------------

    def on_readable(self) -> None:
        """Feed what arrived to the parser and queue an answer for each complete request."""
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.close()  # reset by the peer: nothing more can be delivered
            return
        if not data:
            # Half-close: the client sends no more, but still reads the answers we owe it; a
            # request it left unfinished will never complete, so it gets no answer.
            self.eof = True
            self.finish()
            return
        if self.closing:
            return  # the last answer is decided: whatever follows it is never parsed
        try:
            self.events_received(self.parser.feed(data))
        except Exception:
            # A bug here must cost this one connection, never the server and everyone on it.
            log.exception("failed to serve a request")
            self.refuse(500, "internal error")
        if not self.closing:
            self.rearm()
        self.flush()
        if len(self.outgoing) >= HIGH_WATER and not self.closing and not self.closed:
            # The client is not reading: stop reading from it, and TCP's window pushes back.
            self.reading = False
            self.loop.remove_reader(self.sock)
            self.arm(self.config.idle_timeout, self.idle_timeout)
            self.phase = ("paused", self.answered)

    def events_received(self, events: list[Event]) -> None:
        """Act on the parser's events, in order: answers go out in the order requests came."""
        continue_owed = False
        for event in events:
            event_type = type(event)
            if event_type is Request:
                self.request = event
                continue_owed = event.expect_continue
            elif event_type is EndOfMessage:
                # Complete: queue its answer; after one that closes the connection, read no more.
                continue_owed = False
                request = self.request
                self.outgoing += render(request, http_date.value)
                if self.peer:
                    log_access(self.peer, request, 200)
                self.answered += 1
                if not request.keep_alive:
                    self.stop_reading()
                    return
            elif event_type is Data:
                continue_owed = False  # the client sent its body without waiting
            elif event_type is Error:
                self.refuse(event.status, event.reason)
                return
        if continue_owed:
            self.outgoing += CONTINUE

    def refuse(self, status: int, reason: str) -> None:
        """Queue an error response; the connection closes once it is sent (every error closes)."""
        self.outgoing += error_response(status, reason)
        if self.peer:
            log_refusal(self.peer, status, reason)
        self.stop_reading()

    def stop_reading(self) -> None:
        """This answer is the last: parse nothing more, and give up if the client never reads it."""
        self.closing = True
        self.arm(self.config.idle_timeout, self.close)

    # -- timeouts -------------------------------------------------------------------------

    def rearm(self) -> None:
        """Point the deadline at what the connection now waits for, if that changed."""
        waiting_for = self.parser.phase
        if waiting_for == "idle" or waiting_for == "done":
            # Idle again after an answer: the idle deadline starts afresh. If it was idle already,
            # only the deadline moves (later: the lazy timer follows it); else arm() sets it up.
            if self.on_deadline == self.idle_timeout:
                self.deadline = self.loop.now + self.config.idle_timeout
            else:
                self.arm(self.config.idle_timeout, self.idle_timeout)
            return
        phase = (waiting_for, self.answered)
        if phase == self.phase:
            return  # deadlines are absolute: more bytes of the same request do not extend them
        self.phase = phase
        if waiting_for == "head":
            self.arm(self.config.header_timeout, self.request_timeout)
        else:
            self.arm(self.config.body_timeout, self.request_timeout)

    def arm(self, delay: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline = self.loop.now + delay
        self.on_deadline = callback
        timer = self.timer
        if timer is None or timer.when > deadline:
            if timer is not None:
                timer.cancel()
            self.timer = self.loop.call_later(delay, self.on_timer)

    def on_timer(self) -> None:
        self.timer = None
        if self.closed:
            return
        remaining = self.deadline - self.loop.now
        if remaining > 0:
            self.timer = self.loop.call_later(remaining, self.on_timer)
            return
        self.on_deadline()

    def idle_timeout(self) -> None:
        """No request for too long (or a client that stopped reading): close without a word."""
        self.close()

    def request_timeout(self) -> None:
        """A request's head or body did not arrive in time (slowloris): 408, then close."""
        self.refuse(408, "the request did not arrive in time")
        self.flush()

    # -- writing and closing ----------------------------------------------------------------

    def finish(self) -> None:
        """Read no more; close once everything owed has been sent."""
        self.stop_reading()
        self.loop.remove_reader(self.sock)
        self.flush()

    def flush(self) -> None:
        """Send what the kernel takes; keep the rest and ask to be woken when it can take more."""
        outgoing = self.outgoing
        if outgoing:
            try:
                sent = self.sock.send(outgoing)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close()
                return
            # Most often the kernel takes it all, and emptying a bytearray costs less than cutting it.
            if sent == len(outgoing):
                outgoing.clear()
            else:
                del outgoing[:sent]
            if sent and not self.reading:
                # Paused for a client that reads slowly: it is alive while it takes our bytes.
                self.deadline = self.loop.now + self.config.idle_timeout
        if not self.reading and not self.closing and len(outgoing) < LOW_WATER:
            self.reading = True
            self.loop.add_reader(self.sock, self.on_readable)
            self.rearm()
        if outgoing:
            self.writing = True
            self.loop.add_writer(self.sock, self.flush)
            return
        if self.writing:
            # Write interest only while output is pending, or the loop would spin.
            self.writing = False
            self.loop.remove_writer(self.sock)
        if self.closing:
            self.linger()

    def linger(self) -> None:
        """Everything is sent: send FIN, then drop what the client still sends until it closes."""
        if self.eof:
            self.close()
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return
        self.loop.add_reader(self.sock, self.on_lingering_readable)
        self.arm(LINGER_TIMEOUT, self.close)

    def on_lingering_readable(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        self.loop.forget(self.sock)
        self.sock.close()


class UrlEchoHandler(socketserver.BaseRequestHandler):
    """The blocking version, for --model threaded: read, parse and answer in turn, in one thread."""

    config: Config  # set by main(): socketserver builds handlers from the class alone

    def handle(self) -> None:
        sock, config = self.request, self.config
        peer = None if config.quiet else peer_name(sock)
        parser = RequestParser(config.max_target, config.max_header_bytes, config.max_body)
        request: Request | None = None
        answered = 0
        phase = None
        deadline = time.monotonic() + config.idle_timeout
        while True:
            # The same deadlines as the event loop, as socket timeouts: absolute for a request's
            # head and body, fresh for each wait between requests.
            state = parser.phase
            if (state, answered) != phase:
                phase = (state, answered)
                wait = {"head": config.header_timeout, "body": config.body_timeout}
                deadline = time.monotonic() + wait.get(state, config.idle_timeout)
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                data = sock.recv(READ_SIZE)
            except TimeoutError:
                if state in ("head", "body"):
                    self.last_answer(error_response(408, "the request did not arrive in time"))
                return
            if not data:
                return  # the client is done (an unfinished request gets no answer)
            outgoing = bytearray()
            closing = continue_owed = False
            for event in parser.feed(data):
                event_type = type(event)
                if event_type is Request:
                    request = event
                    continue_owed = event.expect_continue
                elif event_type is EndOfMessage:
                    continue_owed = False
                    outgoing += render(request, http_date.now())
                    if peer:
                        log_access(peer, request, 200)
                    answered += 1
                    if not request.keep_alive:
                        closing = True
                        break
                elif event_type is Data:
                    continue_owed = False  # the client sent its body without waiting
                elif event_type is Error:
                    outgoing += error_response(event.status, event.reason)
                    if peer:
                        log_refusal(peer, event.status, event.reason)
                    closing = True
                    break
            if continue_owed:
                outgoing += CONTINUE
            # sendall blocks until the kernel takes everything: backpressure comes for free, at
            # the price of this thread waiting (bounded by the idle timeout).
            sock.settimeout(config.idle_timeout)
            if closing:
                self.last_answer(bytes(outgoing))
                return
            sock.sendall(outgoing)

    def last_answer(self, data: bytes) -> None:
        """Send the last response, then FIN, then drop what the client still sends (lingering close)."""
        sock = self.request
        sock.settimeout(self.config.idle_timeout)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(LINGER_TIMEOUT)
            deadline = time.monotonic() + LINGER_TIMEOUT
            while sock.recv(READ_SIZE) and time.monotonic() < deadline:
                pass
        except OSError:
            pass


def keep_date(loop: EventLoop) -> None:
    """Format the Date value now and again as each second begins: an answer then reads it, and
    never the clock (nginx, likewise, reads the time once per round of its loop)."""
    http_date.now()
    loop.call_later(1 - time.time() % 1, lambda: keep_date(loop))


def serve(loop: EventLoop, host: str, port: int, config: Config) -> socket.socket:
    """Listen on host:port and give every client a UrlEchoConnection."""
    keep_date(loop)
    return listen(loop, host, port, lambda sock: UrlEchoConnection(loop, sock, config))


def main(config: Config) -> None:
    """Bind, announce READY, and run the loop until SIGINT or SIGTERM."""
    if config.model != "eventloop":
        UrlEchoHandler.config = config
        serve_blocking(config, UrlEchoHandler, threaded=config.model == "threaded")
        return
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["urlecho", *sys.argv[1:]])
