"""Reference: a bare twisted.web Resource answering with the URL asked for ("web in 60 seconds").

Usage: python twisted_web.py --port 0
"""

import argparse
import sys

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site


class UrlEcho(Resource):
    """Every GET, at any path, is answered with its request-target."""

    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain")
        return request.uri


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    port = reactor.listenTCP(args.port, Site(UrlEcho()), backlog=1024, interface="127.0.0.1")
    sys.stdout.write(f"READY 127.0.0.1:{port.getHost().port}\n")
    sys.stdout.flush()
    reactor.run()


if __name__ == "__main__":
    main()
