"""Broken multiport: a connection reset by its client leaves a descriptor behind.

The flaw: each connection holds a second descriptor (a duplicate of its socket, kept to report on
the peer), released in the orderly path only: after a clean close or a half-close. A client that
resets takes the other path, and the duplicate stays open for good, one per abrupt client (SPEC
M16). The line echo is correct, and clients that close cleanly leave nothing behind.
"""

import asyncio
import itertools
import socket

from _contract import TaggedLineProtocol, parse_args, serve_asyncio

# Every connection's spare descriptor, by connection number.
SPARES: dict[int, socket.socket] = {}
NUMBERS = itertools.count()


class LeakyLineProtocol(TaggedLineProtocol):
    """Correct tagged line echo, with a spare descriptor per connection released only on a clean end."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.number = next(NUMBERS)
        SPARES[self.number] = transport.get_extra_info("socket").dup()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            SPARES.pop(self.number).close()
        # THE FLAW: on a reset (exc set) the spare descriptor must be closed as well.
        super().connection_lost(exc)


if __name__ == "__main__":
    serve_asyncio(parse_args("multiport"), lambda sock: lambda: LeakyLineProtocol(sock.getsockname()[1]))
