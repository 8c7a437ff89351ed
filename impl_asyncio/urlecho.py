"""URL echo on an asyncio Protocol and h11, the sans-IO HTTP/1.1 state machine (SPEC.md, section U).

h11 turns the bytes a client sends into events and our answers into bytes; this file moves the
bytes, as h11's docs teach: hand h11 what arrived (here in a Protocol's ``data_received``, as most
asyncio servers on h11 do), act on its events until it needs more. What SPEC section U asks beyond
h11 is impl_asyncio/hardening.py, one call: harden().
"""

import asyncio
import functools
import logging
import sys

import h11

from impl_asyncio import CLIENTS, IMPLEMENTATION, bind, run_loop
from impl_asyncio.hardening import harden
from netrosetta.answer import answer
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG, LINGER_TIMEOUT
from netrosetta.rules import error_response, http_date

log = logging.getLogger("impl_asyncio.urlecho")

# h11's one limit is on the bytes of an event not yet complete: a request's head. Ours are on its
# parts, so h11's is their sum plus room for the method, the version and the line ends.
HEAD_OVERHEAD = 1024


class UrlEchoProtocol(asyncio.Protocol):
    """One client: h11 parses and frames, the transport reads and writes, we answer in between."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.conn = self.new_conn()
        self.request: h11.Request | None = None  # the request whose body h11 is reading
        self.paused = False  # the client does not read our answers: answer no more until it does
        self.closing = False  # our FIN is sent: what still comes is read and dropped

    def new_conn(self) -> h11.Connection:
        """h11's state machine for one connection, with a limit on a head that fits ours."""
        limit = self.config.max_target + self.config.max_header_bytes + HEAD_OVERHEAD
        return h11.Connection(h11.SERVER, max_incomplete_event_size=limit)

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        CLIENTS.add(transport)
        # The access log names the client; with --quiet there is none, not even a formatted line.
        peer = transport.get_extra_info("peername")
        self.peer = None if self.config.quiet else f"{peer[0]}:{peer[1]}" if peer else "?"

    def data_received(self, data: bytes) -> None:
        if not self.closing:
            self.handle(data)

    def eof_received(self) -> bool:
        """The client has shut down its side; it still reads what we owe it (True keeps us open)."""
        if self.closing:
            self.transport.close()
        else:
            self.handle(b"")  # tells h11 the client has shut down its side
        return True

    def receive(self, data: bytes) -> None:
        """Hand what arrived to h11."""
        self.conn.receive_data(data)

    def next_cycle(self) -> None:
        """Keep-alive: on to the next request on this connection (maybe already here: pipelining)."""
        self.conn.start_next_cycle()

    def need_data(self) -> None:
        """h11 needs more bytes: they come with the next data_received."""
        if self.conn.they_are_waiting_for_100_continue:
            self.transport.write(self.conn.send(h11.InformationalResponse(status_code=100, headers=[])))

    def handle(self, data: bytes | None = None) -> None:
        """Hand h11 ``data``, then answer every request it completes, in order, until it needs more."""
        try:
            if data is not None:
                self.receive(data)
            while not self.paused:
                event = self.conn.next_event()
                if event is h11.NEED_DATA:
                    return self.need_data()
                if event is h11.PAUSED:  # never, as we start each next cycle at once: but never spin
                    return None
                if type(event) is h11.Request:
                    self.request = event
                elif type(event) is h11.EndOfMessage:  # the body (dropped) is read: answer
                    self.respond(self.request)
                    if self.conn.our_state is h11.MUST_CLOSE:
                        return self.shutdown()
                    self.next_cycle()
                elif type(event) is h11.ConnectionClosed:
                    return self.shutdown()
        except h11.RemoteProtocolError as error:
            self.send_error(error.error_status_hint, str(error))
        except Exception:
            # A bug here must cost this one connection, never the server and everyone on it.
            log.exception("failed to serve a request")
            self.send_error(500, "internal error")

    def respond(self, request: h11.Request) -> None:
        """Answer with the request's target, as text or JSON, in one write."""
        method, target = request.method.decode("ascii"), request.target.decode("ascii")
        version = "HTTP/" + request.http_version.decode("ascii")
        body, content_type = answer(method, target, version, [
            (name.decode("ascii"), value.decode("latin-1")) for name, value in request.headers.raw_items()])
        # h11 adds Connection: close when this is the last answer (Connection: close, HTTP/1.0).
        response = h11.Response(status_code=200, reason=b"OK", headers=[
            (b"Content-Type", content_type.encode("ascii")), (b"Content-Length", b"%d" % len(body)),
            (b"Date", http_date.now())])
        # HEAD: the same head, and no body (h11 would refuse one). One write for the whole answer.
        conn = self.conn
        data = h11.Data(data=b"" if method == "HEAD" else body)
        self.transport.write(conn.send(response) + conn.send(data) + conn.send(h11.EndOfMessage()))
        if self.peer:
            log.info('%s "%s %s %s" 200', self.peer, method, target, version)

    def send_error(self, status: int, reason: str) -> None:
        """The error answer (netrosetta.rules, the same for every implementation), then we close."""
        self.transport.write(error_response(status, reason))
        if self.peer:
            log.info("%s refused: %d %s", self.peer, status, reason)
        self.shutdown()

    def shutdown(self) -> None:
        """Send our FIN, then read and drop what the client still sends, for LINGER_TIMEOUT at most."""
        # Closing with unread input would send a TCP RST, which can destroy our last answer in the
        # client's receive buffer before it reads it ("lingering close").
        self.closing = True
        self.paused = True  # answer nothing more
        self.linger = asyncio.get_running_loop().call_later(LINGER_TIMEOUT, self.transport.close)
        self.transport.write_eof()
        self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closing:
            self.linger.cancel()

    def pause_writing(self) -> None:
        """Backpressure: a pipelining client that does not read gets no more answers until it does."""
        self.paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The client reads again: answer what it has already asked (h11 holds it), then read on."""
        if not self.closing:
            self.paused = False
            self.transport.resume_reading()
            self.handle()


async def serve(loop: asyncio.AbstractEventLoop, host: str, port: int, config: Config) -> asyncio.Server:
    """Listen on host:port and give every client a (hardened) UrlEchoProtocol."""
    protocol = functools.partial(harden(UrlEchoProtocol, config), config)
    return await loop.create_server(protocol, sock=bind(host, port), backlog=BACKLOG)


def main(config: Config) -> None:
    """Listen, announce READY, and run the loop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["urlecho", *sys.argv[1:]])
