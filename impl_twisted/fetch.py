"""fetch with Twisted's Agent on a persistent HTTPConnectionPool and a DeferredSemaphore (SPEC.md, section F).

What impl_raw/fetch.py writes by hand is Twisted's here: the non-blocking connect is a
HostnameEndpoint's, the keep-alive pool and the retry of a request that a cached connection lost
before any byte of its answer are HTTPConnectionPool's, the answer's parser is HTTP11ClientProtocol's
(1xx skipped, chunked and read-to-close bodies). Ours: the cap (a DeferredSemaphore: at most N
requests at a time, so at most N connections busy), a timeout on each request once it holds its
slot, and a body protocol that counts and refuses past --max-body, where readBody would buffer
everything.
"""

import hashlib
import sys
import time
from typing import Any

from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredSemaphore,
    TimeoutError,
    ensureDeferred,
    gatherResults,
)
from twisted.internet.error import ConnectError, ConnectionClosed, DNSLookupError, ReactorNotRunning
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss, _DataLoss
from twisted.web.iweb import UNKNOWN_LENGTH

from impl_twisted import IMPLEMENTATION
from netrosetta.fetching import (
    BAD_RESPONSE,
    REFUSED,
    RESET,
    TIMEOUT,
    TOO_LARGE,
    Results,
    Target,
    stop_on_signals,
)
from netrosetta.launch import Config, run


class TooLarge(Exception):
    """The body grew past --max-body."""


class BodyCounter(Protocol):
    """Receives an answer's body: counts it (and hashes it for --json), refuses it past --max-body."""

    def __init__(self, max_body: int, digest: Any) -> None:
        self.max_body = max_body
        self.digest = digest
        self.length = 0
        self.finished: Deferred = Deferred(lambda _: self.transport.loseConnection())

    def dataReceived(self, data: bytes) -> None:
        """Count (and hash) each piece as it comes: nothing of the body is kept."""
        self.length += len(data)
        if self.length > self.max_body:
            self.give_up(TooLarge())
        elif self.digest is not None:
            self.digest.update(data)

    def connectionLost(self, reason: Failure) -> None:
        """The body is over: ResponseDone, or PotentialDataLoss for one read to the close."""
        if self.finished.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.finished.callback(self.length)
        else:
            self.finished.errback(reason)

    def give_up(self, error: Exception) -> None:
        if not self.finished.called:
            self.finished.errback(error)
            self.transport.loseConnection()  # the connection is not reused mid-body


def kind_of(failure: Failure) -> str:
    """Which ERROR KIND a failed request gets (netrosetta/fetching.py)."""
    if failure.check(TooLarge):
        return TOO_LARGE
    if failure.check(TimeoutError, CancelledError):
        return TIMEOUT
    if failure.check(ConnectError, DNSLookupError):
        return REFUSED
    if failure.check(ResponseFailed):
        # Twisted wraps what went wrong: our timeout's cancellation, a connection lost (and, mid-body,
        # the data lost with it), or anything else, such as a ParseError: bytes that are not HTTP.
        reasons = failure.value.reasons
        if any(reason.check(CancelledError) for reason in reasons):
            return TIMEOUT
        if all(reason.check(ConnectionClosed, _DataLoss) for reason in reasons):
            return RESET
        return BAD_RESPONSE
    return RESET


async def get(agent: Agent, target: Target, config: Config) -> tuple:
    """GET one URL: (status, reason, headers, body length, SHA-256 hex or "")."""
    response = await agent.request(b"GET", target.request_url.encode("ascii"))
    digest = hashlib.sha256() if config.json else None
    body = BodyCounter(config.max_body, digest)
    response.deliverBody(body)
    if response.length is not UNKNOWN_LENGTH and response.length > config.max_body:
        body.give_up(TooLarge())  # declared too large: refused before its body is read
    length = await body.finished
    # Response.headers holds the end-to-end fields only: Twisted files Content-Length, Connection,
    # Transfer-Encoding and the other connection-control fields apart (SPEC.md, Divergences).
    headers = [(name.decode("latin-1"), value.decode("latin-1"))
               for name, values in response.headers.getAllRawHeaders() for value in values]
    return (response.code, response.phrase.decode("latin-1"), headers, length,
            digest.hexdigest() if digest is not None else "")


async def fetch_one(reactor: Any, agent: Agent, slots: DeferredSemaphore, index: int, target: Target,
                    results: Results, config: Config) -> None:
    """Wait for a slot under the cap, then fetch one URL within --timeout and report it."""
    await slots.acquire()
    started = time.monotonic()  # the clock starts with the slot: a waiting request is not timed
    try:
        answer = await ensureDeferred(get(agent, target, config)).addTimeout(config.timeout, reactor)
    except Exception:
        results.failed(index, kind_of(Failure()), time.monotonic() - started)
    else:
        results.fetched(index, *answer, time.monotonic() - started)
    finally:
        slots.release()


def fetch(reactor: Any, results: Results, config: Config) -> Deferred:
    """Start every URL on one Agent; fires once each has its line."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    # Idle connections kept per origin, at most as many as may be busy at once. (The pool keeps
    # them whatever other origins need: with several origins, more than N may be open, if idle.)
    pool.maxPersistentPerHost = config.concurrency
    agent = Agent(reactor, pool=pool)
    slots = DeferredSemaphore(config.concurrency)
    return gatherResults([ensureDeferred(fetch_one(reactor, agent, slots, index, target, results, config))
                          for index, target in results.targets()])


def main(config: Config) -> int:
    """Fetch every URL, print one line each in input order; the exit status (SPEC.md, F2 and F6)."""
    from twisted.internet import reactor  # only now: --loop has installed the reactor it names

    results = Results(list(config.urls), config.json)

    def stop(_: object = None) -> None:
        try:
            reactor.stop()
        except ReactorNotRunning:
            pass  # stopped already: by a signal, then by the requests it tore down

    done = fetch(reactor, results, config)
    if not results.complete:
        done.addBoth(stop)
        # Our handlers, not the reactor's: they note which signal it was, for the exit status.
        stop_on_signals(results, lambda: reactor.callFromThread(stop))
        reactor.run(installSignalHandlers=False)
    return results.finish()


if __name__ == "__main__":
    run(IMPLEMENTATION, ["fetch", *sys.argv[1:]])
