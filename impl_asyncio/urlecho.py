"""URL echo on asyncio streams and h11, the sans-IO HTTP/1.1 state machine (SPEC.md, section U).

h11 turns the bytes a client sends into events and our answers into bytes; this file moves the
bytes, as h11's own example server does: a wrapper around each connection, and a loop that acts on
its events. What SPEC section U asks beyond h11 is impl_asyncio/hardening.py, one call: harden().
"""

import asyncio
import functools
import logging
import sys

import h11

from impl_asyncio import IMPLEMENTATION, bind, run_loop
from impl_asyncio.hardening import harden
from netrosetta.answer import answer
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG, LINGER_TIMEOUT
from netrosetta.rules import error_response, http_date

log = logging.getLogger("impl_asyncio.urlecho")

# Requests are small; 64 KiB holds hundreds of pipelined ones and a good slice of a body.
READ_SIZE = 64 * 1024
# h11's one limit is on the bytes of an event not yet complete: a request's head. Ours are on its
# parts, so h11's is their sum plus room for the method, the version and the line ends.
HEAD_OVERHEAD = 1024


class UrlEchoConnection:
    """One client, wrapped as in h11's example server: h11 parses and frames, we read and write."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: Config) -> None:
        self.reader = reader
        self.writer = writer
        self.config = config
        self.conn = self.new_conn()
        # The access log names the client; with --quiet there is none, not even a formatted line.
        peer = writer.get_extra_info("peername")
        self.peer = None if config.quiet else f"{peer[0]}:{peer[1]}" if peer else "?"

    def new_conn(self) -> h11.Connection:
        """h11's state machine for one connection, with a limit on a head that fits ours."""
        config = self.config
        return h11.Connection(h11.SERVER, max_incomplete_event_size=config.max_target
                              + config.max_header_bytes + HEAD_OVERHEAD)

    async def read(self) -> bytes:
        """The next bytes the client sends (b"" once it has shut down its side)."""
        return await self.reader.read(READ_SIZE)

    def receive(self, data: bytes) -> None:
        """Hand what arrived to h11."""
        self.conn.receive_data(data)

    async def next_event(self) -> h11.Event:
        """h11's next event, reading from the client whenever h11 needs more."""
        while (event := self.conn.next_event()) is h11.NEED_DATA:
            if self.conn.they_are_waiting_for_100_continue:
                self.send(h11.InformationalResponse(status_code=100, reason=b"Continue", headers=[]))
            self.receive(await self.read())
        return event

    def send(self, *events: h11.Event) -> None:
        """Have h11 turn events into bytes, written at once (the transport buffers what it must)."""
        self.writer.write(b"".join([self.conn.send(event) for event in events]))

    async def respond(self, request: h11.Request) -> None:
        """Read (and drop) the request's body, then answer with its target, as text or JSON."""
        while type(await self.next_event()) is not h11.EndOfMessage:
            pass
        method, target = request.method.decode("ascii"), request.target.decode("ascii")
        version = "HTTP/" + request.http_version.decode("ascii")
        body, content_type = answer(method, target, version, [
            (name.decode("ascii"), value.decode("latin-1")) for name, value in request.headers.raw_items()])
        # h11 adds Connection: close when this is the last answer (Connection: close, HTTP/1.0).
        response = h11.Response(status_code=200, reason=b"OK", headers=[
            (b"Content-Type", content_type.encode("ascii")), (b"Content-Length", b"%d" % len(body)),
            (b"Date", http_date.now())])
        # HEAD: the same head, and no body (h11 would refuse one).
        if method == "HEAD":
            self.send(response, h11.EndOfMessage())
        else:
            self.send(response, h11.Data(data=body), h11.EndOfMessage())
        if self.peer:
            log.info('%s "%s %s %s" 200', self.peer, method, target, version)
        # Backpressure: a pipelining client that does not read gets no more answers until it does.
        await self.writer.drain()

    def send_error(self, status: int, reason: str) -> None:
        """The error answer (netrosetta.rules, the same for every implementation); then we close."""
        self.writer.write(error_response(status, reason))
        if self.peer:
            log.info("%s refused: %d %s", self.peer, status, reason)

    async def shutdown(self) -> None:
        """Send our FIN, then read and drop what the client still sends, for LINGER_TIMEOUT at most."""
        # Closing with unread input would send a TCP RST, which can destroy our last answer in the
        # client's receive buffer before it reads it ("lingering close").
        self.writer.write_eof()
        async with asyncio.timeout(LINGER_TIMEOUT):
            while await self.reader.read(READ_SIZE):
                pass

    def close(self) -> None:
        """Send what is still buffered, then close."""
        self.writer.close()


async def handle_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      connection_class: type[UrlEchoConnection], config: Config) -> None:
    """Every client gets this coroutine: answer its requests in order, until one is the last."""
    connection = connection_class(reader, writer, config)
    try:
        while True:
            try:
                event = await connection.next_event()
                if type(event) is h11.Request:
                    await connection.respond(event)
            except h11.RemoteProtocolError as error:
                connection.send_error(error.error_status_hint, str(error))
                break
            except ConnectionError:
                raise  # the client is gone: see below
            except Exception:
                # A bug here must cost this one connection, never the server and everyone on it.
                log.exception("failed to serve a request")
                connection.send_error(500, "internal error")
                break
            if connection.conn.our_state is h11.MUST_CLOSE:
                break
            # Keep-alive: the next request on this connection (maybe already buffered: pipelining).
            connection.conn.start_next_cycle()
        await connection.shutdown()
    except (ConnectionError, TimeoutError):
        pass  # the client is gone, or never let go: nothing more can be delivered
    finally:
        connection.close()


async def serve(loop: asyncio.AbstractEventLoop, host: str, port: int, config: Config) -> asyncio.Server:
    """Listen on host:port and give every client a (hardened) UrlEchoConnection and its coroutine."""
    handle = functools.partial(handle_http, connection_class=harden(UrlEchoConnection, config), config=config)
    return await asyncio.start_server(handle, sock=bind(host, port), backlog=BACKLOG)


def main(config: Config) -> None:
    """Listen, announce READY, and run the loop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["urlecho", *sys.argv[1:]])
