"""Broken URL echo: given both Content-Length and Transfer-Encoding, it trusts the chunked framing.

The flaw: instead of answering 400 and closing, it drops the Content-Length and reads a chunked
body, so the bytes a front end would count as body are served as a second request — request
smuggling (CL.TE). Everything else (framing, limits, deadlines) is correct.
"""

import re

from _contract import parse_args, serve_asyncio
from _urlecho import UrlEchoProtocol, add_options

CONTENT_LENGTH_LINE = re.compile(rb"\r\ncontent-length:[^\r\n]*", re.IGNORECASE)


class SmugglingUrlEchoProtocol(UrlEchoProtocol):
    """URL echo that lets Transfer-Encoding win over Content-Length."""

    def received(self, data: bytes) -> bytes:
        if b"transfer-encoding:" in data.lower():
            # THE FLAW: Content-Length with Transfer-Encoding must get 400, then close.
            data = CONTENT_LENGTH_LINE.sub(b"", data)
        return data


if __name__ == "__main__":
    args = parse_args("urlecho", add_options)
    serve_asyncio(args, lambda sock: lambda: SmugglingUrlEchoProtocol(args))
