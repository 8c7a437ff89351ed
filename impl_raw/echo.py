"""TCP echo on raw non-blocking sockets and impl_raw's own event loop (SPEC.md, section E).

``--model threaded`` and ``--model iterative`` serve the same echo with blocking calls instead
(EchoHandler, on impl_raw/blocking.py), to show what the event loop buys.
"""

import socket
import socketserver
import sys

from impl_raw import IMPLEMENTATION, run_loop
from impl_raw.blocking import serve_blocking
from impl_raw.loop import EventLoop, listen
from netrosetta.launch import Config, run

# Backpressure: stop reading from a client while this much waits to be sent to it...
HIGH_WATER = 1024 * 1024
# ...and read again once it has drained below this.
LOW_WATER = 256 * 1024
# Read as much as the kernel holds: under a stream, each system call and each round of the loop
# costs more than the bytes it moves, so fewer, larger reads win (docs/bench has the figures).
READ_SIZE = 1024 * 1024
# Every read lands in this one buffer, shared by all clients: the loop runs one callback at a
# time, and each sends or copies out what it read before returning (uvloop does the same).
READ_BUFFER = memoryview(bytearray(READ_SIZE))


class EchoConnection:
    """One client: whatever it sends is written back at once, and queued only if the socket is full."""

    def __init__(self, loop: EventLoop, sock: socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        self.outgoing = bytearray()
        self.reading = True
        self.eof = False
        loop.add_reader(sock, self.on_readable)

    def on_readable(self) -> None:
        """Send what arrived straight back; queue only what the socket would not take."""
        try:
            size = self.sock.recv_into(READ_BUFFER)
        except BlockingIOError:
            return
        except OSError:
            self.close()  # reset by the peer: nothing more can be delivered
            return
        if not size:
            # Half-close: the client will send no more, but still reads what we owe it.
            self.eof = True
            self.loop.remove_reader(self.sock)
            if not self.outgoing:
                self.close()  # else flush closes once the queue has drained
            return
        data = READ_BUFFER[:size]
        if self.outgoing:
            # Older bytes still wait for the socket: these go behind them, in order.
            self.outgoing += data
        else:
            # Partial sends: most of the time the kernel takes it all and nothing is queued.
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close()
                return
            if sent == size:
                return
            # Copy the tail out of the shared buffer: the next read will overwrite it.
            self.outgoing += data[sent:]
            # Ask for write readiness only now that something waits, or the loop would spin.
            self.loop.add_writer(self.sock, self.flush)
        if len(self.outgoing) >= HIGH_WATER:
            # The client is not reading: stop reading from it, and TCP's window pushes back.
            self.reading = False
            self.loop.remove_reader(self.sock)

    def flush(self) -> None:
        """The socket can take more: send what is queued, and stop asking once it is all sent."""
        try:
            sent = self.sock.send(self.outgoing)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        del self.outgoing[:sent]
        if not self.reading and not self.eof and len(self.outgoing) < LOW_WATER:
            # The client has caught up: read from it again.
            self.reading = True
            self.loop.add_reader(self.sock, self.on_readable)
        if self.outgoing:
            return
        if self.eof:
            self.close()
        else:
            self.loop.remove_writer(self.sock)

    def close(self) -> None:
        self.loop.forget(self.sock)
        self.sock.close()


class EchoHandler(socketserver.BaseRequestHandler):
    """The blocking version, for --model threaded and iterative: the whole echo is one loop."""

    def handle(self) -> None:
        # recv returns b"" at half-close; socketserver then shuts down our side and closes.
        while data := self.request.recv(READ_SIZE):
            # sendall blocks until the kernel takes everything: backpressure comes for free, at
            # the price of this thread (or, in the iterative model, the whole server) waiting.
            self.request.sendall(data)


def serve(loop: EventLoop, host: str, port: int, config: Config) -> socket.socket:
    """Listen on host:port and give every client an EchoConnection."""
    return listen(loop, host, port, lambda sock: EchoConnection(loop, sock))


def main(config: Config) -> None:
    """Bind, announce READY, and run the loop until SIGINT or SIGTERM."""
    if config.model != "eventloop":
        serve_blocking(config, EchoHandler, threaded=config.model == "threaded")
        return
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["echo", *sys.argv[1:]])
