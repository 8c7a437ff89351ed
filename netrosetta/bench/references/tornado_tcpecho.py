"""Reference: Tornado's demos/tcpecho/server.py, with --port and a READY line.

The demo echoes lines (read_until b"\n"); the benchmark sends binary messages, so this reads
whatever has arrived (read_bytes partial=True) — the same loop, without the line framing. Like the
demo it leaves TCP_NODELAY alone.
Usage: python tornado_tcpecho.py --port 0
"""

import argparse
import asyncio
import signal
import socket

from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer


class EchoServer(TCPServer):
    """Echo every chunk back until the client closes."""

    async def handle_stream(self, stream, address):
        while True:
            try:
                data = await stream.read_bytes(65536, partial=True)
                await stream.write(data)
            except StreamClosedError:
                break


async def main(port: int) -> None:
    sockets = bind_sockets(port, "127.0.0.1", family=socket.AF_INET, backlog=1024)
    server = EchoServer()
    server.add_sockets(sockets)
    print(f"READY 127.0.0.1:{sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
