"""Broken echo: a watchdog drops every connection when the loop runs late (tests/broken/_watchdog.py).

The flaw: stopped for 2 s (SIGSTOP) and continued, the server finds its loop 2 s late, takes itself
for overloaded, and aborts every connection (SPEC E11). The echo itself is correct.
"""

from _contract import EchoProtocol, parse_args, serve_asyncio
from _watchdog import start_watchdog

if __name__ == "__main__":
    serve_asyncio(parse_args("echo"), lambda sock: EchoProtocol, on_start=start_watchdog)
