"""Broken echo: at half-close it aborts the connection, throwing away what is still queued.

The flaw: once its queue has overflowed, ``eof_received`` calls ``transport.abort()``, which
drops the transport's write buffer and the echo the server holds back since then (HoldsLatest). A
client that reads while it sends (as E3's does) never makes the queue overflow, so it sees no harm;
one that has not been reading, and half-closes while its echo waits in the server's queue, loses
the end of it (SPEC E10), on every run. Everything else is correct.
"""

from _contract import EchoProtocol, HoldsLatest, parse_args, serve_asyncio


class AbortingEchoProtocol(HoldsLatest, EchoProtocol):
    """Correct echo, except that EOF aborts instead of closing once everything is sent."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Above E3's 3 MiB: a client that reads as it sends can never make the queue overflow.
        transport.set_write_buffer_limits(high=8 * 1024 * 1024, low=4 * 1024 * 1024)

    def eof_received(self) -> bool:
        if self.holding:  # its queue overflowed: the client stopped reading, so something is owed
            self.transport.abort()  # THE FLAW: return False, and asyncio closes once the queue is sent
        return False


if __name__ == "__main__":
    serve_asyncio(parse_args("echo"), lambda sock: AbortingEchoProtocol)
