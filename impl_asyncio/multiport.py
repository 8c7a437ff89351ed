"""Port-tagged line echo on several ports, one process, one asyncio loop (SPEC.md, section M).

Streams by default (a handle_lines coroutine per client, reading with readuntil); under
``--model protocol`` a TaggedLineProtocol splits the lines itself.
"""

import asyncio
import sys

from impl_asyncio import CLIENTS, IMPLEMENTATION, bind, run_loop
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG

# A line longer than this (without its line ending) is refused, so one client can't grow a buffer.
MAX_LINE = 64 * 1024
TOO_LONG = b"ERROR line too long"


async def handle_lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Every client gets this coroutine: each line it sends comes back prefixed with our port."""
    tag = b"%d " % writer.get_extra_info("sockname")[1]
    try:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                # No LF within the StreamReader's limit (MAX_LINE + 1, see serve).
                writer.write(tag + TOO_LONG + b"\n")
                break
            except asyncio.IncompleteReadError as eof:
                # Half-close: what is left is the unterminated tail, a line too (its CR is kept).
                if eof.partial:
                    writer.write(tag + (eof.partial if len(eof.partial) <= MAX_LINE else TOO_LONG) + b"\n")
                break
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            if len(line) > MAX_LINE:
                writer.write(tag + TOO_LONG + b"\n")
                break
            # Backpressure: drain() waits while the transport holds more than its high-water mark,
            # and meanwhile we read nothing more from this client.
            writer.write(tag + line + b"\n")
            await writer.drain()
    except ConnectionError:
        pass  # reset by the peer: nothing more can be delivered
    finally:
        writer.close()  # sends what is still buffered, then closes


class TaggedLineProtocol(asyncio.Protocol):
    """The callback style, for --model protocol: split what arrives into lines, answer each."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.tag = b"%d " % transport.get_extra_info("sockname")[1]
        self.incoming = bytearray()
        CLIENTS.add(transport)

    def data_received(self, data: bytes) -> None:
        """Answer every complete line; a partial line waits in the buffer for the rest."""
        self.incoming += data
        answers = []
        start = 0
        while (end := self.incoming.find(b"\n", start)) != -1:
            line = self.incoming[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > MAX_LINE:
                self.transport.writelines(answers)
                self.finish(TOO_LONG)
                return
            answers += (self.tag, line, b"\n")
        del self.incoming[:start]
        # Partial sends are the transport's job: it buffers what the socket does not take.
        self.transport.writelines(answers)
        # +1: the CR of a CRLF may sit at the end of a line that is exactly MAX_LINE long.
        if len(self.incoming) > MAX_LINE + 1:
            self.finish(TOO_LONG)

    def pause_writing(self) -> None:
        """More than the high-water mark waits to be sent: stop reading from the client."""
        # Backpressure: the client is not reading its answers, so neither do we.
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The buffer has drained below the low-water mark: read from the client again."""
        self.transport.resume_reading()

    def eof_received(self) -> bool:
        """Half-close: the unterminated tail is a line too; then close, once everything is sent."""
        self.finish(self.incoming if len(self.incoming) <= MAX_LINE else TOO_LONG)
        return True

    def finish(self, last: bytes) -> None:
        """Answer one last line (if any), read no more, and close once everything owed is sent."""
        if last:
            self.transport.writelines((self.tag, last, b"\n"))
        self.incoming.clear()
        # close() sends what is still buffered before it closes.
        self.transport.close()


async def serve(loop: asyncio.AbstractEventLoop, host: str, port: int, config: Config) -> asyncio.Server:
    """Listen on host:port too: one server per port, all in the one loop."""
    if config.model == "protocol":
        return await loop.create_server(TaggedLineProtocol, sock=bind(host, port), backlog=BACKLOG)
    # limit: readuntil gives up on a line whose LF is not within MAX_LINE + 1 bytes (the CR of a
    # CRLF may follow a line of exactly MAX_LINE); the StreamReader also buffers at most twice that.
    return await asyncio.start_server(handle_lines, sock=bind(host, port), backlog=BACKLOG,
                                      limit=MAX_LINE + 1)


def main(config: Config) -> None:
    """Listen on every port, announce READY, and run the one loop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["multiport", *sys.argv[1:]])
