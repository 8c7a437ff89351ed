"""Broken URL echo: given both Content-Length and Transfer-Encoding, it trusts the chunked framing.

The flaw: instead of answering 400 and closing, it reads a chunked body and ignores the
Content-Length, so the bytes a front end would count as body are served as a second request —
request smuggling (CL.TE). Everything else (framing, limits, deadlines) is correct.
"""

from _contract import parse_args, serve_asyncio
from _urlecho import UrlEchoProtocol, add_options


class SmugglingUrlEchoProtocol(UrlEchoProtocol):
    """URL echo that lets Transfer-Encoding win over Content-Length."""

    def framing(self, version, lengths, codings):
        if codings and lengths and version >= (1, 1):
            # THE FLAW: Content-Length with Transfer-Encoding must get 400, then close.
            lengths = []
        return super().framing(version, lengths, codings)


if __name__ == "__main__":
    args = parse_args("urlecho", add_options)
    serve_asyncio(args, lambda sock: lambda: SmugglingUrlEchoProtocol(args))
