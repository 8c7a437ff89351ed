"""Broken multiport: a watchdog drops every connection when the loop runs late (_watchdog.py).

The flaw: stopped for 2 s (SIGSTOP) and continued, the server finds its loop 2 s late, takes itself
for overloaded, and aborts every connection on every port (SPEC M15). The line echo is correct.
"""

from _contract import TaggedLineProtocol, parse_args, serve_asyncio
from _watchdog import start_watchdog

if __name__ == "__main__":
    serve_asyncio(parse_args("multiport"), lambda sock: lambda: TaggedLineProtocol(sock.getsockname()[1]),
                  on_start=start_watchdog)
