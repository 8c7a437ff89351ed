"""Broken multiport: at half-close it answers the tail, then aborts, dropping queued answers.

The flaw: once its queue has overflowed, ``eof_received`` queues the tail's answer as it should,
then calls ``transport.abort()``, which drops whatever answers are still in the write buffer and
those the server holds back since then (HoldsLatest). A client that reads as it goes never makes
the queue overflow; one that has not been reading, and half-closes while its answers wait in the
server's queue, loses them (SPEC M14), on every run. Everything else is correct.
"""

from _contract import HoldsLatest, TaggedLineProtocol, parse_args, serve_asyncio


class AbortingLineProtocol(HoldsLatest, TaggedLineProtocol):
    """Correct tagged line echo, except that EOF aborts instead of closing once all is sent."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Far above what the clients that read as they go leave queued: only M14's overflows it.
        transport.set_write_buffer_limits(high=8 * 1024 * 1024, low=4 * 1024 * 1024)

    def eof_received(self) -> bool:
        super().eof_received()
        if self.holding:  # its queue overflowed: the client stopped reading, so answers are owed
            self.transport.abort()  # THE FLAW: return False, and asyncio closes once the queue is sent
        return False


if __name__ == "__main__":
    serve_asyncio(parse_args("multiport"), lambda sock: lambda: AbortingLineProtocol(sock.getsockname()[1]))
