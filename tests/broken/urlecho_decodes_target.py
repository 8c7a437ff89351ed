"""Broken URL echo: it percent-decodes the request-target before echoing it.

The flaw: ``/a%20b`` comes back as ``/a b`` (and ``%2F`` as ``/``), as a server that hands its
handler a decoded path does. Everything else (framing, limits, deadlines) is correct.
"""

from urllib.parse import unquote_to_bytes

from _contract import parse_args, serve_asyncio
from _urlecho import UrlEchoProtocol, add_options


class DecodingUrlEchoProtocol(UrlEchoProtocol):
    """URL echo that answers with the decoded target."""

    def echoed(self, target: str) -> str:
        # THE FLAW: the target must be echoed exactly as it appeared in the request line.
        return unquote_to_bytes(target).decode("latin-1")


if __name__ == "__main__":
    args = parse_args("urlecho", add_options)
    serve_asyncio(args, lambda sock: lambda: DecodingUrlEchoProtocol(args))
