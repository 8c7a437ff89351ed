"""Broken URL echo: a watchdog drops every connection when the loop runs late (_watchdog.py).

The flaw: stopped for 2 s (SIGSTOP) and continued, the server finds its loop 2 s late, takes itself
for overloaded, and aborts every keep-alive connection, requests in flight included (SPEC U19.5).
The HTTP handling is correct.
"""

from _contract import parse_args, serve_asyncio
from _urlecho import UrlEchoProtocol, add_options
from _watchdog import start_watchdog

if __name__ == "__main__":
    args = parse_args("urlecho", add_options)
    serve_asyncio(args, lambda sock: lambda: UrlEchoProtocol(args), on_start=start_watchdog)
