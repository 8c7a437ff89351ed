"""Broken echo: it never stops reading, so a client that does not read makes it buffer without bound.

The flaw: no backpressure; asyncio's write buffer grows with everything the client pushes.
Everything else (unchanged bytes, half-close, concurrency) is correct.
"""

from _contract import EchoProtocol, parse_args, serve_asyncio


class UnboundedEchoProtocol(EchoProtocol):
    """Echo that ignores asyncio's pause_writing/resume_writing signals."""

    def pause_writing(self) -> None:
        pass  # THE FLAW: should pause reading from this client until its output drains

    def resume_writing(self) -> None:
        pass


if __name__ == "__main__":
    serve_asyncio(parse_args("echo"), lambda sock: UnboundedEchoProtocol)
