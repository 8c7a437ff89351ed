"""Port-tagged line echo on several ports, one process, one Tornado IOLoop (SPEC.md, section M)."""

import asyncio
import contextlib
import errno
import socket
import sys
from collections.abc import Awaitable

from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer

from impl_tornado import IMPLEMENTATION, OUT_OF_FILES, PausingAccept, run_loop
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG

# A line longer than this (without its line ending) is refused, so one client can't grow a buffer.
MAX_LINE = 64 * 1024
TOO_LONG = b"ERROR line too long"
# Fairness: awaiting a finished future does not return to the IOLoop, so a client whose lines
# are always buffered already would starve the others. After this many in a row, yield once.
FAIR_SHARE = 16


class TaggedLineServer(PausingAccept, TCPServer):
    """Every client gets a coroutine: each line it sends comes back prefixed with the port that
    accepted it."""

    def handle_stream(self, stream: IOStream, address: tuple) -> Awaitable[None] | None:
        """Take the connection's second descriptor at once, then answer its lines in a coroutine."""
        # IOStream closes its socket as soon as it reads EOF or refuses a line (Tornado has no
        # half-close), before we could answer. A second descriptor keeps the connection open.
        try:
            last_word = IOStream(stream.socket.dup())
        except OSError as error:
            if error.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            # Out of descriptors (SPEC L12): without its second one this client cannot be served.
            # Taken here, before the accept handler returns, so it knows this client was refused.
            OUT_OF_FILES.refused()
            stream.close()
            return None
        return self.answer_lines(stream, last_word)

    async def answer_lines(self, stream: IOStream, last_word: IOStream) -> None:
        """Answer line after line; the last answer (a tail, or a refusal) may come after EOF."""
        tag = b"%d " % stream.socket.getsockname()[1]
        last = None
        ready_in_a_row = 0
        try:
            while True:
                # +2: the line ending counts, and the CR of a CRLF may follow a line of MAX_LINE.
                reading = stream.read_until(b"\n", max_bytes=MAX_LINE + 2)
                ready_in_a_row = ready_in_a_row + 1 if reading.done() else 0
                if ready_in_a_row == FAIR_SHARE:
                    ready_in_a_row = 0
                    await asyncio.sleep(0)  # the other clients' turn
                line = await reading
                line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
                if len(line) > MAX_LINE:
                    last = TOO_LONG
                    break
                # Backpressure: until the client takes this answer, we read nothing more from it.
                await stream.write(tag + line + b"\n")
        except StreamClosedError as closed:
            if isinstance(closed.real_error, UnsatisfiableReadError):
                last = TOO_LONG  # no LF within MAX_LINE + 2 bytes
            elif tail := await stream.read_until_close():
                # Half-close: what is left in the stream's buffer is the unterminated tail.
                last = tail if len(tail) <= MAX_LINE else TOO_LONG
        stream.close()
        if last is not None:
            with contextlib.suppress(StreamClosedError):  # a client that is gone hears nothing
                await last_word.write(tag + last + b"\n")
        last_word.close()


def serve(loop: IOLoop, host: str, port: int, config: Config) -> list[socket.socket]:
    """Listen on host:port and give every client to a TaggedLineServer (one per port, one IOLoop)."""
    sockets = bind_sockets(port, host, backlog=BACKLOG)
    TaggedLineServer().add_sockets(sockets)
    return sockets


def main(config: Config) -> None:
    """Listen on every port, announce READY, and run the one IOLoop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["multiport", *sys.argv[1:]])
