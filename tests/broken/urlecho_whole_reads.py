"""Broken URL echo: it expects each request head to arrive in one read.

The flaw: a read that begins a request but does not hold its whole head (up to the blank line) is
taken for a malformed request and answered 400. On a quiet loopback the suite's requests, sent in
one write each, arrive whole, and the clauses that do not trickle pass; through the re-cutting
proxy (conformance/proxy.py, the ``*-proxy`` columns) heads arrive in pieces, and they fail.
tests/test_proxy.py checks both. Everything else is correct.
"""

from _contract import parse_args, serve_asyncio
from _urlecho import UrlEchoProtocol, add_options


class WholeReadsUrlEchoProtocol(UrlEchoProtocol):
    """URL echo whose reader assumes that TCP delivers a request head in one piece."""

    def data_received(self, data: bytes) -> None:
        if self.parser.phase == "idle" and data.strip(b"\r\n") and b"\r\n\r\n" not in data:
            # THE FLAW: TCP is a byte stream; the rest of the head is simply still on its way.
            self.refuse(400, "the head did not arrive in one read")
            return
        super().data_received(data)


if __name__ == "__main__":
    args = parse_args("urlecho", add_options)
    serve_asyncio(args, lambda sock: lambda: WholeReadsUrlEchoProtocol(args))
