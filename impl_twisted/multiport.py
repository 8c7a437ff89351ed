"""Port-tagged line echo on several ports, one process, one Twisted reactor (SPEC.md, section M)."""

import sys

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineOnlyReceiver
from zope.interface import implementer

from impl_twisted import IMPLEMENTATION, run_loop
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG

# A line longer than this (without its line ending) is refused, so one client can't grow a buffer.
MAX_LINE = 64 * 1024


@implementer(IHalfCloseableProtocol)
class TaggedLineProtocol(LineOnlyReceiver):
    """One client: each line it sends comes back prefixed with the port that accepted it."""

    # LineOnlyReceiver, not LineReceiver: it splits a whole chunk at once, where LineReceiver
    # copies the rest of its buffer for every line, which is quadratic in lines per segment.
    delimiter = b"\n"
    # +1: the CR of a CRLF may sit at the end of a line that is exactly MAX_LINE long.
    MAX_LENGTH = MAX_LINE + 1

    def connectionMade(self) -> None:
        """Learn our port, and make the transport its own producer (backpressure, as in echo.py)."""
        self.tag = b"%d " % self.transport.getHost().port
        self.partial = False  # is an unterminated line waiting in LineOnlyReceiver's buffer?
        self.eof = False
        self.transport.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:
        """LineOnlyReceiver splits what arrived into lines; a partial line waits for the rest."""
        self.partial = not data.endswith(self.delimiter)
        super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        """Answer one line, tagged with our port."""
        if line.endswith(b"\r") and not self.eof:
            line = line[:-1]
        if len(line) > MAX_LINE:
            self.lineLengthExceeded(line)
            return
        self.transport.writeSequence((self.tag, line, b"\n"))

    def lineLengthExceeded(self, line: bytes) -> None:
        """Refuse the line and close, once everything owed has been sent."""
        self.transport.write(self.tag + b"ERROR line too long\n")
        self.finish()

    def readConnectionLost(self) -> None:
        """The client will send no more: the unterminated tail is a line too."""
        if self.partial:
            # Ending the tail with our own LF hands it to lineReceived like any other line
            # (its last CR, if any, is kept: it did not come before an LF).
            self.eof = True
            self.dataReceived(self.delimiter)
        self.finish()

    def writeConnectionLost(self) -> None:
        """We never half-close our own side, so there is nothing to do."""

    def finish(self) -> None:
        """Read no more; close once everything owed has been sent."""
        self.transport.unregisterProducer()
        self.transport.loseConnection()


def serve(reactor: object, host: str, port: int, config: Config) -> Deferred:
    """Listen on host:port and give every client a TaggedLineProtocol; fires with the port."""
    endpoint = TCP4ServerEndpoint(reactor, port, backlog=BACKLOG, interface=host)
    return endpoint.listen(Factory.forProtocol(TaggedLineProtocol))


def main(config: Config) -> None:
    """Listen on every port, announce READY, and run the one reactor until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["multiport", *sys.argv[1:]])
