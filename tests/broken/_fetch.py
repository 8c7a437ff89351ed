"""A correct fetch client (SPEC.md, section F) for the broken clients to break one rule each.

asyncio streams and h11's client side, a semaphore for the cap, idle connections kept per origin,
a timeout per attempt, one retry for the keep-alive race; what to print comes from
netrosetta/fetching.py, like every client's. It is the suite's own test subject, not an
implementation: each broken client subclasses FetchClient and changes one thing (``cap``,
``retries``, ``read_body``) to break exactly one rule. The suite runs
``python tests/broken/<name>.py fetch [options] URL... | -``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import sys

import h11

from netrosetta.fetching import (
    BAD_RESPONSE,
    REFUSED,
    RESET,
    TIMEOUT,
    TOO_LARGE,
    Results,
    Target,
    read_urls,
)


class Failed(Exception):
    """A URL's failure: ``kind`` is its ERROR KIND."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class NoByte(Exception):
    """The connection ended before any byte of the answer: the keep-alive race, if it was reused."""


class Connection:
    """One connection and its h11 state machine."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.reused = False
        self.eof = False  # the server closed its side: an answer read to the close ends so

    def close(self) -> None:
        self.writer.transport.abort()


class FetchClient:
    """GET every URL: at most ``cap()`` at once, idle connections reused, lines in input order."""

    retries = 1

    def __init__(self, args: argparse.Namespace, results: Results) -> None:
        self.args = args
        self.results = results
        self.idle: dict[tuple, list[Connection]] = {}
        self.slots = asyncio.Semaphore(self.cap())

    def cap(self) -> int:
        return self.args.concurrency

    async def run(self) -> None:
        await asyncio.gather(*(self.fetch_one(index, target) for index, target in self.results.targets()))

    async def fetch_one(self, index: int, target: Target) -> None:
        async with self.slots:
            started = asyncio.get_running_loop().time()
            try:
                answer = await self.attempts(target)
            except Failed as failed:
                self.results.failed(index, failed.kind, asyncio.get_running_loop().time() - started)
            else:
                self.results.fetched(index, *answer, asyncio.get_running_loop().time() - started)

    async def attempts(self, target: Target) -> tuple:
        retries = self.retries
        while True:
            idle = self.idle.get(target.origin)
            connection = idle.pop() if idle else None
            try:
                return await asyncio.wait_for(self.attempt(target, connection), self.args.timeout)
            except NoByte:
                if retries and connection is not None:
                    retries -= 1
                    continue
                raise Failed(RESET) from None
            except TimeoutError:
                raise Failed(TIMEOUT) from None

    async def attempt(self, target: Target, connection: Connection | None) -> tuple:
        if connection is None:
            try:
                connection = Connection(*await asyncio.open_connection(*target.origin))
            except OSError:
                raise Failed(REFUSED) from None
        try:
            answer = await self.exchange(connection, target)
        except BaseException:
            connection.close()
            raise
        if not connection.eof and connection.h11.our_state is h11.DONE \
                and connection.h11.their_state is h11.DONE:
            connection.h11.start_next_cycle()
            connection.reused = True
            self.idle.setdefault(target.origin, []).append(connection)
        else:
            connection.close()
        return answer

    async def exchange(self, connection: Connection, target: Target) -> tuple:
        conn = connection.h11
        request = h11.Request(method="GET", target=target.target, headers=[("Host", target.host_header)])
        connection.writer.write(conn.send(request) + conn.send(h11.EndOfMessage()))
        received = eof = False
        response = None
        digest = hashlib.sha256() if self.args.json else None
        body = self.new_body()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                raise Failed(RESET if eof else BAD_RESPONSE) from None
            if event is h11.NEED_DATA:
                try:
                    data = await connection.reader.read(256 * 1024)
                except ConnectionError:
                    data = None
                if not data and not received:
                    raise NoByte
                if data is None:
                    raise Failed(RESET)
                received = True
                eof = connection.eof = not data
                conn.receive_data(data)
            elif type(event) is h11.Response:
                response = event
                length = dict(event.headers).get(b"content-length", b"0")
                if length.isdigit() and int(length) > self.args.max_body:
                    raise Failed(TOO_LARGE)
            elif type(event) is h11.Data:
                if self.add_body(body, event.data) > self.args.max_body:
                    raise Failed(TOO_LARGE)
                if digest is not None:
                    digest.update(event.data)
            elif type(event) is h11.EndOfMessage:
                length = self.body_length(body)
                if length > self.args.max_body:
                    raise Failed(TOO_LARGE)
                headers = [(name.decode("latin-1"), value.decode("latin-1"))
                           for name, value in response.headers.raw_items()]
                return (response.status_code, response.reason.decode("latin-1"), headers, length,
                        digest.hexdigest() if digest is not None else "")

    # -- the body: counted, never kept (a broken client keeps it) -------------------------------

    def new_body(self) -> list[int]:
        return [0]

    def add_body(self, body: list[int], data: bytes) -> int:
        body[0] += len(data)
        return body[0]

    def body_length(self, body: list[int]) -> int:
        return body[0]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _positive(kind: type):
    def convert(text: str):
        value = kind(text)
        if value <= 0:
            raise ValueError(text)
        return value

    convert.__name__ = kind.__name__
    return convert


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The client launch contract's command line."""
    parser = _Parser(prog=sys.argv[0])
    parser.add_argument("behaviour", choices=["fetch"])
    parser.add_argument("urls", nargs="*")
    parser.add_argument("--concurrency", type=_positive(int), default=10)
    parser.add_argument("--timeout", type=_positive(float), default=10.0)
    parser.add_argument("--max-body", type=_positive(int), default=8 * 1024 * 1024)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_intermixed_args(argv)
    if not args.urls or ("-" in args.urls and len(args.urls) > 1):
        parser.error("give URLs, or - alone")
    args.urls = read_urls(args.urls)
    return args


def main(client_class: type[FetchClient] = FetchClient) -> None:
    """Fetch, print in input order, exit 0 / 1 (or 128 + a signal)."""
    args = parse_args()
    results = Results(args.urls, args.json)

    async def run() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda signum=signum: (results.interrupt(signum), task.cancel()))
        try:
            await client_class(args, results).run()
        except asyncio.CancelledError:
            pass

    asyncio.run(run())
    raise SystemExit(results.finish())


if __name__ == "__main__":
    main()
