"""Broken echo: asyncio on select(2), unaware of FD_SETSIZE (tests/broken/_select_loop.py).

The flaw: past about a thousand concurrent clients a descriptor reaches 1,024, select() cannot
take it, and the server dies (SPEC E13). The echo itself is correct, and 1,000 clients fit (E4).
"""

from _contract import EchoProtocol, parse_args, serve_asyncio
from _select_loop import use_select

if __name__ == "__main__":
    use_select()
    serve_asyncio(parse_args("echo"), lambda sock: EchoProtocol)
