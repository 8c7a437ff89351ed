"""What the fetch client prints and how it ends, shared by every implementation (SPEC.md, section F).

Like answer.py for the URL echo, only *what* to print lives here, so every implementation's output
is the same bytes: which URLs can be fetched at all (anything else is a ``bad-url`` line, decided
before any framework sees the URL), the result line or its JSON, the order lines come out in (the
input order, whatever order the answers complete in), the exit status, and the signal that ends a
run early. *How* each URL is fetched (connections, the pool, framing, timeouts) is each
framework's lesson, in its ``impl_X/fetch.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from netrosetta.answer import grouped

# The KIND of an ``ERROR KIND URL`` line (SPEC.md F1, F9 and F15-F19).
BAD_URL = "bad-url"  # not an absolute http:// URL: never requested
REFUSED = "refused"  # the connection could not be opened (refused, unreachable, name not resolved)
TIMEOUT = "timeout"  # --timeout passed before the last body byte
RESET = "reset"  # the connection closed or was reset before the answer was complete
BAD_RESPONSE = "bad-response"  # bytes that are not an HTTP/1.1 answer
TOO_LARGE = "too-large"  # a body over --max-body
KINDS = (BAD_URL, REFUSED, TIMEOUT, RESET, BAD_RESPONSE, TOO_LARGE)

# Exit statuses (SPEC.md F2, F5, F6): every URL fetched; some URL failed; a bad command line. A
# signal ends the run with 128 + its number, the shell's convention (130 for SIGINT, 143 for SIGTERM).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DEFAULT_PORT = 80

# An absolute http URL, all visible ASCII: scheme (any case), a host (a name or IPv4 address of
# RFC 3986's unreserved characters, or a bracketed IPv6 literal; no userinfo), an optional port,
# then path, query and fragment. Percent-escapes stay as written: the target is sent as it is.
URL = re.compile(
    r"(?i:http)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~]+)(?::(?P<port>[0-9]{0,5}))?"
    r"(?P<path>/[\x21-\x22\x24-\x3e\x40-\x7e]*)?(?:\?(?P<query>[\x21-\x22\x24-\x7e]*))?(?:#[\x21-\x7e]*)?"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that can be fetched, split into where to connect and what to ask for."""

    url: str
    host: str  # without the brackets of an IPv6 literal: what connect() takes
    port: int
    target: str  # origin-form: the path (or "/") and the query as written, no fragment
    host_header: str  # the Host header's value: host[:port] as in the URL, default port left out

    @property
    def origin(self) -> tuple[str, int]:
        """Where a connection goes: requests to the same origin may share one (keep-alive)."""
        return self.host, self.port

    @property
    def request_url(self) -> str:
        """The URL as a framework's client should be given it: no fragment, and a path always.

        Twisted's Agent, given ``http://host:port?q=1``, asks for the target ``?q=1``, which is not a
        valid request-target (RFC 9112 3.2.1: an origin-form starts with ``/``); this form avoids it.
        """
        return f"http://{self.host_header}{self.target}"


def parse_url(url: str) -> Target | None:
    """Split a URL into a Target, or None if it is not an absolute ``http://`` URL (``bad-url``).

    The target is the path and the query exactly as written (an empty query is dropped, as every
    framework's client does), so a server sees what the user typed, never a normalised form.
    """
    match = URL.fullmatch(url)
    if match is None:
        return None
    host, port_text, path, query = match.group("host", "port", "path", "query")
    port = int(port_text) if port_text else DEFAULT_PORT
    if not 0 < port < 65536:
        return None
    target = (path or "/") + ("?" + query if query else "")
    host_header = host if port == DEFAULT_PORT else f"{host}:{port}"
    return Target(url, host.strip("[]"), port, target, host_header)


def read_urls(words: list[str], stdin: Iterable[str] | None = None) -> list[str]:
    """The URLs of a command line; ``-`` alone reads them from stdin, one a line (blank lines skipped)."""
    if words != ["-"]:
        return words
    lines = sys.stdin if stdin is None else stdin
    return [line.strip() for line in lines if line.strip()]


def _printable(url: str) -> str:
    """The URL as given, with any control character escaped, so that a line stays one line."""
    return url if url.isprintable() else url.encode("unicode_escape").decode("ascii")


def text_line(url: str, status: int, length: int) -> str:
    return f"{status} {length} {_printable(url)}\n"


def error_line(url: str, kind: str) -> str:
    return f"ERROR {kind} {_printable(url)}\n"


def json_line(url: str, status: int, reason: str, headers: Iterable[tuple[str, str]], length: int,
              sha256: str, elapsed: float) -> str:
    """--json for a fetched URL: keys sorted, separators fixed, ASCII only (like answer.json_body).

    ``headers`` are (name, value) str pairs as received (latin-1 decoded); they are shown as the URL
    echo shows a request's, ``[lowercased name, value]`` grouped by name in order of first appearance.
    """
    document = {"url": url, "status": status, "reason": reason, "headers": grouped(headers),
                "length": length, "sha256": sha256, "elapsed_ms": round(elapsed * 1000, 3)}
    return json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"


def json_error_line(url: str, kind: str, elapsed: float) -> str:
    document = {"url": url, "error": kind, "elapsed_ms": round(elapsed * 1000, 3)}
    return json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"


class Results:
    """The run's output: one line per URL, printed in input order as soon as every earlier one is.

    An implementation calls ``fetched`` or ``failed`` once per URL index, in any order; lines wait
    here until the lines before them are done. ``finish`` prints what a signal cut short and returns
    the exit status.
    """

    def __init__(self, urls: list[str], as_json: bool = False, out=None) -> None:
        self.urls = urls
        self.as_json = as_json
        self.out = out if out is not None else sys.stdout
        self.waiting: dict[int, str] = {}  # finished lines behind an unfinished earlier URL
        self.printed = 0  # lines printed so far: every index below this is done
        self.done = 0
        self.any_failed = False
        self.signal: int | None = None

    @property
    def complete(self) -> bool:
        return self.done == len(self.urls)

    def targets(self) -> list[tuple[int, Target]]:
        """(index, Target) of every URL that can be fetched; the others are ``bad-url`` lines now."""
        fetchable = []
        for index, url in enumerate(self.urls):
            target = parse_url(url)
            if target is None:
                self.failed(index, BAD_URL)
            else:
                fetchable.append((index, target))
        return fetchable

    def fetched(self, index: int, status: int, reason: str, headers: Iterable[tuple[str, str]],
                length: int, sha256: str = "", elapsed: float = 0.0) -> None:
        """URL ``index`` got a complete answer (any status). ``sha256`` is needed with --json only."""
        url = self.urls[index]
        if self.as_json:
            self._line(index, json_line(url, status, reason, headers, length, sha256, elapsed))
        else:
            self._line(index, text_line(url, status, length))

    def failed(self, index: int, kind: str, elapsed: float = 0.0) -> None:
        """URL ``index`` failed: ``kind`` is one of KINDS."""
        self.any_failed = True
        url = self.urls[index]
        self._line(index, json_error_line(url, kind, elapsed) if self.as_json else error_line(url, kind))

    def _line(self, index: int, line: str) -> None:
        if self.signal is not None:
            return  # interrupted: a request torn down by the stop is unfinished, not failed
        self.done += 1
        if index != self.printed:
            self.waiting[index] = line
            return
        lines = [line]
        self.printed += 1
        while self.printed in self.waiting:
            lines.append(self.waiting.pop(self.printed))
            self.printed += 1
        self.out.write("".join(lines))
        self.out.flush()

    def interrupt(self, signum: int) -> None:
        """A signal arrived: remember it (the first one) for ``finish``; the caller stops its loop."""
        if self.signal is None:
            self.signal = signum

    def finish(self) -> int:
        """Print what is still waiting (after a signal: skipping the unfinished); the exit status."""
        if self.waiting:
            self.out.write("".join(self.waiting[index] for index in sorted(self.waiting)))
            self.out.flush()
            self.waiting.clear()
        if self.signal is not None:
            return 128 + self.signal
        return EXIT_FAILED if self.any_failed else EXIT_OK


def stop_on_signals(results: Results, stop: Callable[[], None]) -> None:
    """On SIGINT or SIGTERM note the signal in ``results``, then call ``stop`` (which must wake the
    loop: it runs in a signal handler, between two bytecodes of whatever the loop was doing)."""

    def handler(signum: int, frame: object) -> None:
        results.interrupt(signum)
        stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def run_on_asyncio(results: Results, work: Callable[[], Awaitable[None]]) -> int:
    """Run ``work()`` on an asyncio loop until it is done or a signal comes; the exit status.

    Tornado's client and asyncio's both run on asyncio, so they share this: after a signal,
    asyncio.run cancels the fetches still under way, and the lines finished so far are printed.
    """

    async def until_done_or_signal() -> None:
        loop = asyncio.get_running_loop()
        interrupted = asyncio.Event()
        stop_on_signals(results, lambda: loop.call_soon_threadsafe(interrupted.set))
        done = asyncio.ensure_future(work())
        signalled = asyncio.ensure_future(interrupted.wait())
        await asyncio.wait([done, signalled], return_when=asyncio.FIRST_COMPLETED)
        signalled.cancel()

    asyncio.run(until_done_or_signal())
    return results.finish()
