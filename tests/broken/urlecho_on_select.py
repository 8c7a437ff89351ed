"""Broken URL echo: asyncio on select(2), unaware of FD_SETSIZE (tests/broken/_select_loop.py).

The flaw: past about a thousand concurrent clients a descriptor reaches 1,024, select() cannot
take it, and the server dies (SPEC U19.7). The HTTP handling is correct, and 1,000 keep-alive
clients fit (U19.1).
"""

from _contract import parse_args, serve_asyncio
from _select_loop import use_select
from _urlecho import UrlEchoProtocol, add_options

if __name__ == "__main__":
    use_select()
    args = parse_args("urlecho", add_options)
    serve_asyncio(args, lambda sock: lambda: UrlEchoProtocol(args))
