"""Reference: a bare tornado.web handler answering with the URL asked for (demos/helloworld style).

Usage: python tornado_web.py --port 0
"""

import argparse
import asyncio
import signal
import socket

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets


class UrlEchoHandler(tornado.web.RequestHandler):
    """Every GET, at any path, is answered with its request-target."""

    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write(self.request.uri)


async def main(port: int) -> None:
    sockets = bind_sockets(port, "127.0.0.1", family=socket.AF_INET, backlog=1024)
    server = HTTPServer(tornado.web.Application([(r".*", UrlEchoHandler)]))
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
