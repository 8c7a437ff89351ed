"""Broken echo: at half-close it closes at once, dropping what it still owed the client.

The flaw: it holds the echo of each read back until the next read brings more (or half a second
passes without one: HoldsLatest), and when the client shuts down its sending side it aborts the
connection instead of sending what it holds first. The echo of the last read before an EOF is
always held then, so a client that half-closes right after sending (E3, E10) always loses it.
Everything else (unchanged bytes, backpressure, concurrency) is correct.
"""

from _contract import EchoProtocol, HoldsLatest, parse_args, serve_asyncio


class HoldingEchoProtocol(HoldsLatest, EchoProtocol):
    """Echo that holds its latest output back for a moment, and forgets it at EOF."""

    holding = True  # from the first read, not only once the queue has overflowed

    def eof_received(self) -> bool:
        # THE FLAW: the right thing is to send what it holds, then close; this drops it all.
        self.transport.abort()
        return False


if __name__ == "__main__":
    serve_asyncio(parse_args("echo"), lambda sock: HoldingEchoProtocol)
