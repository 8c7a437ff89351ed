"""TCP echo on Tornado's TCPServer and IOStream (SPEC.md, section E)."""

import asyncio
import socket
import sys

from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer

from impl_tornado import IMPLEMENTATION, PausingAccept, run_loop
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG

# One read takes at most this much (IOStream's read_chunk_size), and its write is awaited
# before the next read.
READ_SIZE = 64 * 1024
# Fairness: awaiting a finished future does not return to the IOLoop, so a client whose data is
# always there already would starve the others. After this many such reads in a row, yield once.
FAIR_SHARE = 16


class EchoStream(IOStream):
    """An IOStream that tells only a reader of the client's EOF (SPEC E3, E10).

    IOStream watches an idle socket to notice a close, and closes itself at EOF at once (Tornado
    has no half-close): bytes read just before the EOF, which the coroutine has yet to write back,
    would then be lost. Here the EOF waits for the next read, which comes only once every write
    before it is done.
    """

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        count = super().read_from_fd(buf)
        if count == 0 and not self.reading():
            return None  # as if nothing had arrived: the next read finds the EOF
        return count


class EchoServer(PausingAccept, TCPServer):
    """Every client gets a coroutine: whatever it sends is written back."""

    async def handle_stream(self, stream: IOStream, address: tuple) -> None:
        """Read what has arrived, write it back, and wait for the write before reading again."""
        # The stream TCPServer made has done no I/O yet: serve the socket on an EchoStream.
        stream = EchoStream(stream.socket, max_buffer_size=self.max_buffer_size)
        ready_in_a_row = 0
        try:
            while True:
                reading = stream.read_bytes(READ_SIZE, partial=True)
                ready_in_a_row = ready_in_a_row + 1 if reading.done() else 0
                if ready_in_a_row == FAIR_SHARE:
                    ready_in_a_row = 0
                    await asyncio.sleep(0)  # the other clients' turn
                data = await reading
                # Backpressure: until the client takes this, we read nothing more from it, and
                # TCP's window pushes back. IOStream keeps the output buffer and partial sends.
                await stream.write(data)
        except StreamClosedError:
            # Half-close: the read after the client's EOF finds the stream closed. Every write was
            # awaited, so nothing is owed any more; a reset client ends up here too.
            pass


def serve(loop: IOLoop, host: str, port: int, config: Config) -> list[socket.socket]:
    """Listen on host:port and give every client to an EchoServer."""
    sockets = bind_sockets(port, host, backlog=BACKLOG)
    EchoServer().add_sockets(sockets)
    return sockets


def main(config: Config) -> None:
    """Listen, announce READY, and run the IOLoop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["echo", *sys.argv[1:]])
