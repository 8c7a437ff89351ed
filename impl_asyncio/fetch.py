"""fetch on asyncio streams and h11's client side (SPEC.md, section F).

``asyncio.open_connection`` for each connection, and h11, the sans-IO HTTP/1.1 state machine, to
turn a request into bytes and the answer's bytes into events, as h11's own client example does.
Ours, around them: the cap (an ``asyncio.Semaphore``: at most N requests at once, and an idle
connection closed to make room for a new one), idle connections kept per origin and reused, a
timeout on each attempt (``asyncio.timeout``), the retry of the keep-alive race, and the body
counted against --max-body as it comes.
"""

import asyncio
import hashlib
import logging
import sys

import h11

from impl_asyncio import IMPLEMENTATION
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

log = logging.getLogger("impl_asyncio.fetch")

# An answer's bytes are read in slices this big: a small answer in one call, a large one without
# a system call per few kilobytes.
READ_SIZE = 256 * 1024


class Failed(Exception):
    """A URL's failure: ``kind`` is its ERROR KIND (netrosetta/fetching.py)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class NoByte(Exception):
    """The connection ended before any byte of the answer: the keep-alive race, if it was reused."""


class FetchConnection:
    """One connection, wrapped as in h11's examples: h11 frames, we read and write."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.CLIENT)
        self.reused = False
        self.eof = False  # the server closed its side (the end of an answer read to the close)

    @property
    def reusable(self) -> bool:
        """Both sides of the last exchange are done and the server said nothing of closing."""
        return not self.eof and self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, target: Target, config: Config) -> tuple:
        """One GET: (status, reason, headers, body length, SHA-256 hex or "")."""
        conn = self.conn
        request = h11.Request(method="GET", target=target.target, headers=[("Host", target.host_header)])
        # Partial sends are the transport's: write() keeps what the socket does not take.
        self.writer.write(conn.send(request) + conn.send(h11.EndOfMessage()))
        received = False
        response = None
        length = 0
        digest = hashlib.sha256() if config.json else None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as error:
                # After the close, what h11 refuses is an answer cut short; before, bytes not HTTP.
                log.info("%s: %s", target.url, error)
                raise Failed(RESET if self.eof else BAD_RESPONSE) from None
            if event is h11.NEED_DATA:
                try:
                    data = await self.reader.read(READ_SIZE)
                except ConnectionError:
                    data = None  # reset
                if not data and not received:
                    raise NoByte
                if data is None:
                    raise Failed(RESET)
                received = True
                self.eof = not data
                conn.receive_data(data)  # b"" tells h11 the server closed
            elif type(event) is h11.Response:  # 1xx come as InformationalResponse: skipped
                response = event
                declared = dict(event.headers).get(b"content-length", b"")
                if declared.isdigit() and int(declared) > config.max_body:
                    raise Failed(TOO_LARGE)  # refused before a byte of the body is read
            elif type(event) is h11.Data:
                length += len(event.data)
                if length > config.max_body:
                    raise Failed(TOO_LARGE)
                if digest is not None:
                    digest.update(event.data)
            elif type(event) is h11.EndOfMessage:
                headers = [(name.decode("latin-1"), value.decode("latin-1"))
                           for name, value in response.headers.raw_items()]
                return (response.status_code, response.reason.decode("latin-1"), headers, length,
                        digest.hexdigest() if digest is not None else "")


class FetchPool:
    """At most N requests at once, each on an idle connection to its origin or a new one."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.slots = asyncio.Semaphore(config.concurrency)
        self.idle: dict[tuple, list[FetchConnection]] = {}
        self.open = 0

    async def fetch_one(self, results: Results, index: int, target: Target) -> None:
        """Wait for a slot, then fetch one URL and report it."""
        async with self.slots:
            started = asyncio.get_running_loop().time()  # a waiting request is not yet timed
            try:
                answer = await self.attempts(target)
            except Failed as failed:
                results.failed(index, failed.kind, asyncio.get_running_loop().time() - started)
            else:
                results.fetched(index, *answer, asyncio.get_running_loop().time() - started)

    async def attempts(self, target: Target) -> tuple:
        """The request, retried once on a new connection if a reused one ended before any byte."""
        retried = False
        while True:
            try:
                async with asyncio.timeout(self.config.timeout):  # each attempt has its own clock
                    return await self.attempt(target)
            except NoByte as no_byte:
                if retried or not no_byte.args[0]:
                    raise Failed(RESET) from None
                log.info("%s: the kept-alive connection was closed; retrying on a new one", target.url)
                retried = True
            except TimeoutError:
                raise Failed(TIMEOUT) from None

    async def attempt(self, target: Target) -> tuple:
        connection = await self.connection(target)
        try:
            answer = await connection.exchange(target, self.config)
        except NoByte:
            self.closed(connection)
            raise NoByte(connection.reused) from None
        except BaseException:
            self.closed(connection)
            raise
        if connection.reusable:
            connection.conn.start_next_cycle()
            connection.reused = True
            self.idle.setdefault(target.origin, []).append(connection)
        else:
            self.closed(connection)
        return answer

    async def connection(self, target: Target) -> FetchConnection:
        """An idle connection to the target's origin, or a new one (closing an idle one if at the cap)."""
        idle = self.idle.get(target.origin)
        if idle:
            return idle.pop()  # the most recently used: the least likely to be closed
        if self.open >= self.config.concurrency:
            # We hold a slot, so at most N - 1 connections are busy: one of the others is idle.
            for connections in self.idle.values():
                if connections:
                    self.closed(connections.pop())
                    break
        self.open += 1
        try:
            return FetchConnection(*await asyncio.open_connection(*target.origin))
        except OSError as error:
            self.open -= 1
            log.info("%s: cannot connect: %s", target.url, error)
            raise Failed(REFUSED) from None

    def closed(self, connection: FetchConnection) -> None:
        connection.close()
        self.open -= 1


async def fetch(results: Results, config: Config) -> None:
    """Fetch every URL on one pool; returns once each has its line."""
    pool = FetchPool(config)
    await asyncio.gather(*(pool.fetch_one(results, index, target) for index, target in results.targets()))


def main(config: Config) -> int:
    """Fetch every URL, print one line each in input order; the exit status (SPEC.md, F2 and F6)."""
    results = Results(list(config.urls), config.json)
    return run_on_asyncio(results, lambda: fetch(results, config))


if __name__ == "__main__":
    run(IMPLEMENTATION, ["fetch", *sys.argv[1:]])
