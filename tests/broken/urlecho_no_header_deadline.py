"""Broken URL echo: its header timeout is reset by every byte, so a slowloris client is never cut off.

The flaw: ``--header-timeout`` counts from the last byte received instead of from the request's
first byte, as an inactivity timeout does: a client that sends one header byte every 0.3 s keeps
its connection (and the server's memory) forever. Everything else is correct.
"""

from _contract import parse_args, serve_asyncio
from _urlecho import UrlEchoProtocol, add_options


class ForgivingUrlEchoProtocol(UrlEchoProtocol):
    """URL echo whose header deadline restarts with each read."""

    def head_progress(self) -> None:
        # THE FLAW: the header deadline must run from the request's first byte, never reset.
        self.arm(self.args.header_timeout, self.timed_out)


if __name__ == "__main__":
    args = parse_args("urlecho", add_options)
    serve_asyncio(args, lambda sock: lambda: ForgivingUrlEchoProtocol(args))
