"""Broken multiport: at half-close it answers the tail, then aborts, dropping queued answers.

The flaw: ``eof_received`` queues the tail's answer as it should, then calls
``transport.abort()``, which drops whatever answers are still in the write buffer. A client that
reads as it goes finds its answers sent already; one that has not been reading, and half-closes
while its answers wait in the server's queue, loses them (SPEC M14). Everything else is correct.
"""

from _contract import TaggedLineProtocol, parse_args, serve_asyncio


class AbortingLineProtocol(TaggedLineProtocol):
    """Correct tagged line echo, except that EOF aborts instead of closing once all is sent."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Keep megabytes queued in asyncio, not in the kernel, so that there is always something
        # owed at EOF for the flaw to drop, however fast the machine drains its sockets.
        transport.set_write_buffer_limits(high=8 * 1024 * 1024, low=4 * 1024 * 1024)

    def eof_received(self) -> bool:
        super().eof_received()
        self.transport.abort()  # THE FLAW: return False, and asyncio closes once the queue is sent
        return False


if __name__ == "__main__":
    serve_asyncio(parse_args("multiport"), lambda sock: lambda: AbortingLineProtocol(sock.getsockname()[1]))
