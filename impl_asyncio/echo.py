"""TCP echo on asyncio streams, or an asyncio Protocol under --model protocol (SPEC.md, section E)."""

import asyncio
import sys

from impl_asyncio import CLIENTS, IMPLEMENTATION, bind, run_loop
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG

# One read takes at most this much; its write is drained before the next read. No fairness
# counter as in Tornado's echo: the loop alone fills a StreamReader, so a client whose buffer we
# have emptied makes the next read wait, and the other clients get their turn.
READ_SIZE = 64 * 1024


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Every client gets this coroutine: read what has arrived, write it back, drain, again."""
    try:
        while data := await reader.read(READ_SIZE):
            # Partial sends are the transport's job: write() sends what the socket takes at once
            # and buffers the rest. Backpressure: drain() waits while more than the transport's
            # high-water mark (64 KiB) is buffered; until then we read nothing more from this
            # client, its StreamReader fills and stops reading the socket, and TCP's window pushes back.
            writer.write(data)
            await writer.drain()
        # Half-close: read() returns b"" once the client has sent its FIN (reader.at_eof()); it
        # still reads what we owe it. write_eof() sends our FIN after everything buffered.
        writer.write_eof()
    except ConnectionError:
        pass  # reset by the peer: nothing more can be delivered
    finally:
        writer.close()  # sends what is still buffered, then closes


class EchoProtocol(asyncio.Protocol):
    """The callback style, for --model protocol: whatever arrives is written back at once."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        CLIENTS.add(transport)

    def data_received(self, data: bytes) -> None:
        """As soon as any data is received, write it back."""
        # Partial sends are the transport's job: write() buffers what the socket does not take.
        self.transport.write(data)

    def pause_writing(self) -> None:
        """More than the high-water mark (64 KiB) waits to be sent: stop reading from the client."""
        # Backpressure: the client is not reading, so neither do we, and TCP's window pushes back.
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The buffer has drained below the low-water mark: read from the client again."""
        self.transport.resume_reading()

    def eof_received(self) -> bool:
        """Half-close: the client will send no more, but still reads what we owe it."""
        # close() sends what is still buffered before it closes (abort() would drop it); True keeps
        # the transport from closing itself, which it would do the same way.
        self.transport.close()
        return True


async def serve(loop: asyncio.AbstractEventLoop, host: str, port: int, config: Config) -> asyncio.Server:
    """Listen on host:port: a handle_echo coroutine per client, or an EchoProtocol under --model protocol."""
    if config.model == "protocol":
        return await loop.create_server(EchoProtocol, sock=bind(host, port), backlog=BACKLOG)
    return await asyncio.start_server(handle_echo, sock=bind(host, port), backlog=BACKLOG)


def main(config: Config) -> None:
    """Listen, announce READY, and run the loop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["echo", *sys.argv[1:]])
