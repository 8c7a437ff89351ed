"""The flaw shared by the ``*_on_select`` servers: asyncio on select(2), unaware of FD_SETSIZE.

select() takes bit sets of 1,024 bits (FD_SETSIZE): once a connection's descriptor is numbered
1,024 or more, ``select.select`` raises ValueError, asyncio's loop ends with it, and the server
dies. Up to about a thousand clients all is well (SPEC E4, U19.1); past that it is not (E13,
U19.7). A select() loop must refuse what it cannot watch (impl_raw's ``--loop select`` accepts and
closes such a client with one log line), or use poll or epoll.
"""

import asyncio
import selectors


class SelectLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """New loops run on select(2)."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        # THE FLAW: nothing refuses a connection whose descriptor select() cannot watch.
        return asyncio.SelectorEventLoop(selectors.SelectSelector())


def use_select() -> None:
    """Run the server's asyncio loop on select(2)."""
    asyncio.set_event_loop_policy(SelectLoopPolicy())
