"""Port-tagged line echo on several ports, one process, one raw event loop (SPEC.md, section M)."""

import socket
import sys

from impl_raw import IMPLEMENTATION, run_loop
from impl_raw.loop import EventLoop, listen
from netrosetta.launch import Config, run

# A line longer than this (without its line ending) is refused, so one client can't grow a buffer.
MAX_LINE = 64 * 1024
READ_SIZE = 64 * 1024
# Backpressure, as in echo.py: stop reading from a client while this much waits to be sent to it...
HIGH_WATER = 1024 * 1024
# ...and read again once it has drained below this.
LOW_WATER = 256 * 1024


class TaggedLineConnection:
    """One client: each line it sends comes back prefixed with the port that accepted it."""

    def __init__(self, loop: EventLoop, sock: socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        self.tag = b"%d " % sock.getsockname()[1]
        self.incoming = bytearray()
        self.outgoing = bytearray()
        self.reading = True
        self.closing = False
        loop.add_reader(sock, self.on_readable)

    def on_readable(self) -> None:
        """Split what arrived into lines; a partial line waits in the buffer for the rest."""
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if not data:
            if len(self.incoming) > MAX_LINE:
                self.line_too_long()
            else:
                if self.incoming:
                    self.line_received(bytes(self.incoming))  # the unterminated tail is a line too
                self.finish()
            return
        self.incoming += data
        start = 0
        while (end := self.incoming.find(b"\n", start)) != -1:
            line = self.incoming[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > MAX_LINE:
                self.line_too_long()
                return
            self.line_received(bytes(line))
        del self.incoming[:start]
        # +1: the CR of a CRLF may sit at the end of a line that is exactly MAX_LINE long.
        if len(self.incoming) > MAX_LINE + 1:
            self.line_too_long()
            return
        self.flush()
        if len(self.outgoing) >= HIGH_WATER and not self.closing:
            # The client is not reading its answers: stop reading from it, and TCP's window
            # pushes back.
            self.reading = False
            self.loop.remove_reader(self.sock)

    def line_received(self, line: bytes) -> None:
        self.outgoing += self.tag + line + b"\n"

    def line_too_long(self) -> None:
        self.outgoing += self.tag + b"ERROR line too long\n"
        self.finish()

    def finish(self) -> None:
        """Read no more; close once everything owed has been sent."""
        self.closing = True
        self.loop.remove_reader(self.sock)
        self.flush()

    def flush(self) -> None:
        """Send what the kernel takes; keep the rest and ask to be woken when it can take more."""
        if self.outgoing:
            try:
                sent = self.sock.send(self.outgoing)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close()
                return
            del self.outgoing[:sent]
        if self.outgoing:
            self.loop.add_writer(self.sock, self.flush)
        elif self.closing:
            self.close()
            return
        else:
            self.loop.remove_writer(self.sock)
        if not self.reading and not self.closing and len(self.outgoing) < LOW_WATER:
            # The client has caught up: read from it again.
            self.reading = True
            self.loop.add_reader(self.sock, self.on_readable)

    def close(self) -> None:
        self.loop.forget(self.sock)
        self.sock.close()


def serve(loop: EventLoop, host: str, port: int, config: Config) -> socket.socket:
    """Listen on host:port and give every client a TaggedLineConnection."""
    return listen(loop, host, port, lambda sock: TaggedLineConnection(loop, sock))


def main(config: Config) -> None:
    """Bind every port, announce READY, and run the one loop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["multiport", *sys.argv[1:]])
