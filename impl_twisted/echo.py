"""TCP echo with a Twisted Protocol and Factory on a server endpoint (SPEC.md, section E)."""

import sys

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer

from impl_twisted import IMPLEMENTATION, run_loop
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG


@implementer(IHalfCloseableProtocol)
class EchoProtocol(Protocol):
    """One client: whatever it sends is written back; the transport does the buffering."""

    def connectionMade(self) -> None:
        """Make the transport its own producer, so a client that does not read is not read from."""
        # Backpressure: when more than bufferSize bytes (64 KiB) wait to be sent, the transport
        # pauses its producer (itself: it stops reading), and resumes it once its buffer drains.
        # bufferSize is also the transport's read size, so it is left at Twisted's default.
        self.transport.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:
        """As soon as any data is received, write it back."""
        # Partial sends are the transport's job: write() queues, the reactor sends when it can.
        self.transport.write(data)

    def readConnectionLost(self) -> None:
        """Half-close: the client will send no more, but still reads what we owe it."""
        # A registered producer holds the connection open; without it, loseConnection() closes
        # the socket once everything written has been sent.
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        """We never half-close our own side, so there is nothing to do."""


def serve(reactor: object, host: str, port: int, config: Config) -> Deferred:
    """Listen on host:port and give every client an EchoProtocol; fires with the listening port."""
    endpoint = TCP4ServerEndpoint(reactor, port, backlog=BACKLOG, interface=host)
    return endpoint.listen(Factory.forProtocol(EchoProtocol))


def main(config: Config) -> None:
    """Listen, announce READY, and run the reactor until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["echo", *sys.argv[1:]])
