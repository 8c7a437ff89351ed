"""netrosetta servers written the Tornado way: TCPServer, IOStream and tornado.web."""

from netrosetta.launch import Implementation

IMPLEMENTATION = Implementation(
    name="tornado",
    package="impl_tornado",
    loops=("asyncio", "uvloop"),
)
