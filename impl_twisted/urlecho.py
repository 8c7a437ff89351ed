"""URL echo over HTTP/1.1 with twisted.web: a Site and a leaf Resource (SPEC.md, section U).

twisted.web parses requests, keeps connections alive, pipelines, sends 100 Continue, reads chunked
bodies and frames responses; the resource only says what to answer. What twisted.web leaves out of
section U (the strict grammar, the limits, absolute deadlines, a lingering close...) is added by
impl_twisted/hardening.py, through the Site's own hooks: see harden().
"""

import sys

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from impl_twisted import IMPLEMENTATION, run_loop
from impl_twisted.hardening import harden
from netrosetta.answer import answer
from netrosetta.launch import Config, run
from netrosetta.registry import BACKLOG


class UrlEchoResource(Resource):
    """The one resource: any method, any target, answered with the target (or its JSON)."""

    isLeaf = True

    def render(self, request: Request) -> bytes:
        """Every method comes here (Resource.render would look for render_FOO, and 405 without it)."""
        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                   for name, values in request.requestHeaders.getAllRawHeaders() for value in values]
        body, content_type = answer(request.method.decode("latin-1"), request.uri.decode("latin-1"),
                                    request.clientproto.decode("latin-1"), headers)
        request.setHeader(b"Content-Type", content_type.encode("ascii"))
        # twisted.web sets Content-Length from the body it is given, so a HEAD answer would have none.
        request.setHeader(b"Content-Length", b"%d" % len(body))
        # HEAD: the same headers, no body (returning one would make twisted.web log a warning).
        return b"" if request.method == b"HEAD" else body


class UrlEchoSite(Site):
    """twisted.web's Site for the one resource, whose access log goes to stderr with the other logs."""

    def __init__(self, config: Config) -> None:
        super().__init__(UrlEchoResource())
        self.quiet = config.quiet

    def log(self, request: Request) -> None:
        """With --quiet the access-log line is not even formatted."""
        if not self.quiet:
            super().log(request)


def serve(reactor: object, host: str, port: int, config: Config) -> Deferred:
    """Listen on host:port and serve the URL echo site; fires with the listening port."""
    endpoint = TCP4ServerEndpoint(reactor, port, backlog=BACKLOG, interface=host)
    return endpoint.listen(harden(UrlEchoSite(config), config))


def main(config: Config) -> None:
    """Listen, announce READY, and run the reactor until SIGINT or SIGTERM."""
    run_loop(config, serve)


if __name__ == "__main__":
    run(IMPLEMENTATION, ["urlecho", *sys.argv[1:]])
