"""The one table of documented divergences: clauses a variant fails on purpose or by necessity.

Each row names the clause, the variant (an id such as ``raw-iterative``, or a whole implementation
such as ``twisted``) and the reason, which the matrix shows beside the cell. The suite turns each
row into a strict xfail: if the variant starts passing the clause, the row must go.
"""

from __future__ import annotations

from netrosetta_conformance.harness import Variant

# (clause, variant id or implementation) -> reason
DIVERGENCES: dict[tuple[str, str], str] = {
    # impl_asyncio: CPython's own accept loop, out of descriptors (SPEC.md, Divergences).
    ("L12", "asyncio"): "asyncio's accept loop goes on after EMFILE for `backlog` attempts, each logging a "
                        "traceback and scheduling its own retry: no public hook short of replacing it",
    # impl_raw --model iterative: one client at a time, on purpose (SPEC.md, Divergences).
    ("E4", "raw-iterative"): "one client at a time by design: the others wait in the listen queue",
    ("E5", "raw-iterative"): "one client at a time by design: an idle client blocks everyone behind it",
    ("E6", "raw-iterative"): "one client at a time by design: a client that does not read blocks the "
                             "server in sendall",
    ("E11", "raw-iterative"): "one client at a time by design: the other clients wait, stopped or not",
    ("E12", "raw-iterative"): "one client at a time by design: the other clients wait behind the "
                              "abrupt ones",
    ("E13", "raw-iterative"): "one client at a time by design: the second connection waits for the first "
                              "to end",
    ("L12", "raw-iterative"): "one client at a time by design: the connected clients beyond the first "
                              "wait unserved, and it never runs out of descriptors",
    # impl_raw --model threaded: thread-per-connection, on purpose.
    ("L9", "raw-threaded"): "thread-per-connection by design: one thread per client",
    # impl_tornado urlecho: what Tornado's HTTP1Connection decides by itself, with no public hook.
    ("U9.2", "tornado"): "Tornado keeps a connection alive by default for HTTP/1.1 only: HTTP/1.2 is "
                         "answered, then closed as HTTP/1.0 would be",
    # impl_asyncio urlecho: what h11 decides by design, in the bytes it writes.
    ("U4.4", "asyncio"): "h11 does not implement HTTP/1.0 keep-alive, by design: it answers an HTTP/1.0 "
                         "request with Connection: close, then the connection closes",
    # fetch on Twisted's Agent and HTTPConnectionPool.
    ("F4", "twisted"): "Twisted's Agent files the connection-control fields (Content-Length, "
                       "Connection, Transfer-Encoding...) apart from Response.headers: --json lists "
                       "the others",
    ("F16.3", "twisted"): "HTTPConnectionPool retries a request inside its one Deferred: the timeout on it "
                          "runs on through the retry",
    # fetch on Tornado's simple AsyncHTTPClient.
    ("F10.2", "tornado"): "Tornado's chunked reader refuses chunk extensions and trailer fields (as on the "
                          "server side): such an answer is dropped",
    ("F13", "tornado"): "the simple client sends Connection: close and opens a new connection for every "
                        "request: it keeps none alive",
    ("F17", "tornado"): "a reset mid-body raises the stream's error out of on_connection_close (logged as an "
                        "uncaught exception) instead of failing the fetch: it ends only at the timeout",
    ("F18", "tornado"): "the simple client logs a malformed answer and closes the stream: the caller gets "
                        "HTTPStreamClosedError, as for a reset",
    ("F19", "tornado"): "an answer over max_body_size is logged as malformed and the stream closed: the "
                        "caller gets HTTPStreamClosedError, as for a reset",
}


# Clauses a variant is exempt from by design, where the outcome depends on the machine (a thread per
# client holds 2,000 connections and not always 10,000): not run, shown as n/a with the reason.
EXEMPTIONS: dict[tuple[str, str], str] = {
    ("E13", "raw-threaded"): "thread-per-connection by design: 10,000 connections are 10,000 threads",
    ("U19.7", "raw-threaded"): "thread-per-connection by design: 10,000 connections are 10,000 threads",
}


def exemption_for(clause: str, variant: Variant) -> str | None:
    """Why ``variant`` is exempt from ``clause``, if it is."""
    return EXEMPTIONS.get((clause, variant.id)) or EXEMPTIONS.get((clause, variant.impl))


def divergence_for(clause: str, variant: Variant) -> str | None:
    """The documented reason ``variant`` diverges on ``clause``, if any."""
    return DIVERGENCES.get((clause, variant.id)) or DIVERGENCES.get((clause, variant.impl))
