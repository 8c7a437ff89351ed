"""Reference: Twisted's docs/core/examples/echoserv.py, with --port and a READY line.

Usage: python twisted_echoserv.py --port 0
"""

import argparse
import sys

from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol


class Echo(Protocol):
    """This is just about the simplest possible protocol."""

    def dataReceived(self, data: bytes) -> None:
        """As soon as any data is received, write it back."""
        self.transport.write(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    factory = Factory()
    factory.protocol = Echo
    port = reactor.listenTCP(args.port, factory, backlog=1024, interface="127.0.0.1")
    sys.stdout.write(f"READY 127.0.0.1:{port.getHost().port}\n")
    sys.stdout.flush()
    reactor.run()


if __name__ == "__main__":
    main()
