"""Broken multiport: it tags each line with the client's port instead of the port that accepted it.

The flaw: getpeername() where getsockname() was meant. Everything else is correct.
"""

from _contract import TaggedLineProtocol, parse_args, serve_asyncio


class PeerTaggedLineProtocol(TaggedLineProtocol):
    """Tagged line echo whose tag is the remote port."""

    def __init__(self) -> None:
        super().__init__(0)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # THE FLAW: the peer's (client's) port, not the local port the client connected to.
        self.tag = b"%d " % transport.get_extra_info("peername")[1]


if __name__ == "__main__":
    serve_asyncio(parse_args("multiport"), lambda sock: PeerTaggedLineProtocol)
