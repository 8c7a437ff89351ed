"""Broken echo: at half-close it closes at once, dropping what it still owed the client.

The flaw: it coalesces small writes (flushing after 500 ms or at 64 KiB), and when the client
shuts down its sending side it aborts the connection instead of sending the rest first.
Everything else (unchanged bytes, backpressure, concurrency) is correct.
"""

import asyncio

from _contract import EchoProtocol, parse_args, serve_asyncio

FLUSH_SIZE = 64 * 1024
# Long enough that a client's "x" and its SHUT_WR, sent back to back, reach the server before the
# flush, even on a loaded machine: the flaw then shows every time.
FLUSH_DELAY = 0.5


class CoalescingEchoProtocol(EchoProtocol):
    """Echo that holds small amounts back for a moment, and forgets them at EOF."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.pending = bytearray()
        self.timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        self.pending += data
        if len(self.pending) >= FLUSH_SIZE:
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.transport.is_closing():
            self.transport.write(bytes(self.pending))
        self.pending.clear()

    def eof_received(self) -> bool:
        # THE FLAW: the right thing is to flush and close after sending; this drops it all.
        if self.timer is not None:
            self.timer.cancel()
        self.transport.abort()
        return False


if __name__ == "__main__":
    serve_asyncio(parse_args("echo"), lambda sock: CoalescingEchoProtocol)
