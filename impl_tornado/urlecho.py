"""URL echo over HTTP/1.1 with tornado.web: an Application and one RequestHandler (SPEC.md, section U).

Tornado's HTTPServer parses requests, keeps connections alive, pipelines, sends 100 Continue, reads
chunked bodies and frames responses; the handler only says what to answer. What Tornado leaves out
of section U (the strict grammar, complete error answers, SPEC's deadlines, a lingering close...)
is added by impl_tornado/hardening.py, in front of Tornado's parser: see hardened_server().
"""

import socket
import sys

from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from impl_tornado import IMPLEMENTATION, run_loop
from impl_tornado.hardening import hardened_server
from netrosetta.answer import answer
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG


class AnyMethod:
    """Every method is supported: RequestHandler checks ``method in SUPPORTED_METHODS``."""

    def __contains__(self, method: object) -> bool:
        return True


class UrlEchoHandler(RequestHandler):
    """Any method, any target: the answer is the request-target, as text or JSON."""

    # HTTPServer has already checked that the method is a token; RequestHandler would refuse
    # anything outside its list of seven with 405.
    SUPPORTED_METHODS = AnyMethod()  # type: ignore[assignment]

    def prepare(self) -> None:
        """Answer here, for every method: RequestHandler has a get() or post() per method name only."""
        request = self.request
        body, content_type = answer(request.method, request.uri, request.version,
                                    list(request.headers.get_all()))
        self.set_header("Content-Type", content_type)
        # For HEAD, finish() still counts the Content-Length of this body, then sends none.
        self.finish(body)

    def compute_etag(self) -> None:
        """No ETag: an echo is never 304 Not Modified, and hashing every answer costs time."""
        return None


def serve(loop: IOLoop, host: str, port: int, config: Config) -> list[socket.socket]:
    """Listen on host:port with an HTTPServer for an Application of one catch-all handler."""
    sockets = bind_sockets(port, host, backlog=BACKLOG)
    # The access log is Tornado's own (tornado.access); with --quiet it is not even formatted.
    quiet = {"log_function": lambda handler: None} if config.quiet else {}
    application = Application([(r".*", UrlEchoHandler)], **quiet)
    server = hardened_server(
        application, config,
        # Tornado's own limits, one per flag: each closes the connection, with a bare 400 or none.
        max_header_size=config.max_header_bytes,
        max_body_size=config.max_body,
        idle_connection_timeout=config.idle_timeout,
        body_timeout=config.body_timeout,
    )
    server.add_sockets(sockets)
    return sockets


def main(config: Config) -> None:
    """Listen, announce READY, and run the IOLoop until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["urlecho", *sys.argv[1:]])
