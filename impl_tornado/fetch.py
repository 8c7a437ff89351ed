"""fetch with Tornado's AsyncHTTPClient, the default (simple) client, as Tornado's docs teach it
(SPEC.md, section F).

``await client.fetch(url, raise_error=False)`` per URL; the client's ``max_clients`` caps the
requests in flight and its ``max_body_size`` maps one-to-one to --max-body. The simple client
sends ``Connection: close`` with every request and opens a new connection for each: it keeps no
connection alive, so the keep-alive clause is a documented divergence (SPEC.md, Divergences).
"""

import asyncio
import hashlib
import sys
import time

from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httputil import HTTPInputError
from tornado.iostream import StreamClosedError
from tornado.locks import Semaphore
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError

from impl_tornado import IMPLEMENTATION
from netrosetta.fetching import (
    BAD_RESPONSE,
    REFUSED,
    RESET,
    TIMEOUT,
    TOO_LARGE,
    Results,
    Target,
    run_on_asyncio,
)
from netrosetta.launch import Config, run

# Tornado names the limit it enforced only in HTTPInputError's message.
OVER_THE_LIMIT = ("Content-Length too long", "chunked body too large", "Body too long")


def kind_of(error: Exception) -> str:
    """Which ERROR KIND a failed fetch gets (netrosetta/fetching.py)."""
    if isinstance(error, HTTPTimeoutError):
        return TIMEOUT
    if isinstance(error, HTTPInputError):
        return TOO_LARGE if str(error) in OVER_THE_LIMIT else BAD_RESPONSE
    if isinstance(error, (HTTPStreamClosedError, StreamClosedError, ConnectionResetError,
                          ConnectionAbortedError, BrokenPipeError)):
        return RESET
    if isinstance(error, OSError):
        return REFUSED  # ECONNREFUSED, an unreachable host, a name that does not resolve
    if isinstance(error, HTTPClientError):
        return RESET
    return BAD_RESPONSE


async def fetch_one(client: AsyncHTTPClient, slots: Semaphore, index: int, target: Target,
                    results: Results, config: Config) -> None:
    """Fetch one URL once a slot is free, within --timeout, and report it."""
    # The simple client times a request waiting in its own queue (over max_clients) with
    # connect_timeout; SPEC F16.2 says a waiting request is not yet timed, so requests wait here,
    # on a semaphore of the same size, and the client's queue stays empty.
    async with slots:
        started = time.monotonic()
        try:
            response = await client.fetch(target.request_url, raise_error=False)
        except Exception as error:
            results.failed(index, kind_of(error), time.monotonic() - started)
            return
        body = response.body or b""
        digest = hashlib.sha256(body).hexdigest() if config.json else ""
        results.fetched(index, response.code, response.reason, list(response.headers.get_all()),
                        len(body), digest, time.monotonic() - started)


async def fetch(results: Results, config: Config) -> None:
    """Fetch every URL with one AsyncHTTPClient; returns once each has its line."""
    client = AsyncHTTPClient(
        max_clients=config.concurrency,
        max_body_size=config.max_body,
        defaults={
            "follow_redirects": False,  # a redirect's own status is the answer (SPEC F1)
            "decompress_response": False,  # or the client asks for gzip (SPEC F8)
            "connect_timeout": config.timeout,
            "request_timeout": config.timeout,  # from the connection's start to the last body byte
        },
    )
    slots = Semaphore(config.concurrency)
    await asyncio.gather(*(fetch_one(client, slots, index, target, results, config)
                           for index, target in results.targets()))


def main(config: Config) -> int:
    """Fetch every URL, print one line each in input order; the exit status (SPEC.md, F2 and F6)."""
    results = Results(list(config.urls), config.json)
    return run_on_asyncio(results, lambda: fetch(results, config))


if __name__ == "__main__":
    run(IMPLEMENTATION, ["fetch", *sys.argv[1:]])
