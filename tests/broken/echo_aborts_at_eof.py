"""Broken echo: at half-close it aborts the connection, throwing away what is still queued.

The flaw: ``eof_received`` calls ``transport.abort()``, which drops the transport's write buffer.
A client that reads while it sends (as E3's does) has nothing queued for it at EOF, so it sees
no harm; one that has not been reading, and half-closes while its echo waits in the server's
queue, loses the end of it (SPEC E10). Everything else is correct.
"""

from _contract import EchoProtocol, parse_args, serve_asyncio


class AbortingEchoProtocol(EchoProtocol):
    """Correct echo, except that EOF aborts instead of closing once everything is sent."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Keep megabytes queued in asyncio, not in the kernel, so that there is always something
        # owed at EOF for the flaw to drop, however fast the machine drains its sockets.
        transport.set_write_buffer_limits(high=8 * 1024 * 1024, low=4 * 1024 * 1024)

    def eof_received(self) -> bool:
        self.transport.abort()  # THE FLAW: return False, and asyncio closes once the queue is sent
        return False


if __name__ == "__main__":
    serve_asyncio(parse_args("echo"), lambda sock: AbortingEchoProtocol)
