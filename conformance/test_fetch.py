"""Clauses F (the fetch client) of SPEC.md, from outside: the suite plays the servers.

Each test starts small scripted HTTP servers on 127.0.0.1 (conformance/scripted.py), runs the client
(``python -m impl_X fetch ...``, or ``--client-cmd``) to its end, and checks its stdout, its exit
status and what the servers saw. Delays in scripts make a server slow on purpose; the suite never
sleeps to synchronise: it waits on what a server saw, with a deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import time

import pytest

from netrosetta_conformance.clients import wait_until
from netrosetta_conformance.harness import VARIANTS, failure, launch
from netrosetta_conformance.scripted import (
    MIB,
    ClientRun,
    Exchange,
    ScriptedServer,
    finish_client,
    on_loop,
    refusing_port,
    run_client,
    start_client,
)

pytestmark = pytest.mark.behaviour("fetch")

# On top of a timeout, for a loaded machine (SPEC: the run ends within the timeout plus 2 s).
MARGIN = 2.0


@pytest.fixture
def fetch(variant):
    """Run this variant's client with these arguments to its end: ``fetch(*args, stdin=None)``."""
    why = variant.missing("fetch")
    if why:
        pytest.skip(why)

    def run(*args: str, stdin: str | None = None, timeout: float = 60.0) -> ClientRun:
        return run_client(variant, list(args), stdin, timeout)

    run.variant = variant
    return run


@pytest.fixture
def serve():
    """A factory for scripted servers, closed after the test: ``serve(script)``."""
    servers: list[ScriptedServer] = []

    def start(script=None) -> ScriptedServer:
        servers.append(ScriptedServer(script) if script else ScriptedServer())
        return servers[-1]

    yield start
    for each in servers:
        each.close()


def line(url: str, body: bytes | int, status: int = 200) -> str:
    return f"{status} {body if isinstance(body, int) else len(body)} {url}"


def error(url: str, kind: str) -> str:
    return f"ERROR {kind} {url}"


def echoed(urls: list[str]) -> list[str]:
    """The lines of URLs answered by the default script: 200, the request-target as the body."""
    return [line(url, ("/" + url.split("/", 3)[3]).encode()) for url in urls]


def check_lines(clause: str, run: ClientRun, expected: list[str], status: int | None = None) -> None:
    """The whole stdout is exactly these lines (and, if given, the exit status is ``status``)."""
    ok = run.lines == expected and run.stdout.endswith("\n") and (status is None or run.status == status)
    assert ok, failure(clause, " ".join(run.argv[-12:]),
                       f"stdout lines {expected}" + (f", status {status}" if status is not None else ""),
                       run.describe())


# -- output and exit -------------------------------------------------------------------------

@pytest.mark.smoke
def test_F1_one_line_per_url_in_order(fetch, serve):
    """stdout holds exactly one line per URL, in the order given: STATUS BODY-BYTES URL (any status,
    redirects not followed) or ERROR KIND URL."""

    async def script(x: Exchange) -> None:
        answers = {"/ok": (200, "OK", b"fine"), "/moved": (301, "Moved Permanently", b"see /elsewhere"),
                   "/missing": (404, "Not Found", b"no such thing"), "/broken": (500, "Oops", b"")}
        status, reason, body = answers.get(x.target, (200, "OK", x.target.encode()))
        headers = (("Location", server.url("/elsewhere")),) if status == 301 else ()
        await x.respond(status, body, reason=reason, headers=headers)

    server = serve(script)
    holder, refused = refusing_port()
    with holder:
        urls = [server.url(t) for t in ("/ok", "/moved", "/missing", "/broken")]
        urls.insert(2, f"http://127.0.0.1:{refused}/nobody")
        run = fetch(*urls)
    expected = [line(urls[0], b"fine"), line(urls[1], b"see /elsewhere", 301), error(urls[2], "refused"),
                line(urls[3], b"no such thing", 404), line(urls[4], 0, 500)]
    check_lines("F1 one line per URL, in input order", run, expected)
    assert "/elsewhere" not in server.targets(), failure(
        "F1 redirects are not followed", urls[1], "no request for /elsewhere", server.targets())


def test_F2_exit_status(fetch, serve):
    """Exit status 0 when every URL was fetched, 1 when any line is an ERROR."""
    server = serve()
    good = [server.url("/a"), server.url("/b")]
    run = fetch(*good)
    check_lines("F2 every URL fetched: exit 0", run, [line(good[0], b"/a"), line(good[1], b"/b")], 0)
    holder, refused = refusing_port()
    with holder:
        bad = f"http://127.0.0.1:{refused}/x"
        run = fetch(good[0], bad, good[1])
    check_lines("F2 an ERROR line: exit 1, the others fetched", run,
                [line(good[0], b"/a"), error(bad, "refused"), line(good[1], b"/b")], 1)


def test_F3_urls_from_stdin(fetch, serve):
    """With `-`, the URLs are read from stdin, one a line (whitespace and blank lines ignored)."""
    server = serve()
    urls = [server.url(f"/in/{n}") for n in range(3)]
    stdin = f"  {urls[0]}\n\n{urls[1]}  \r\n\t{urls[2]}"
    run = fetch("-", stdin=stdin)
    check_lines("F3 URLs from stdin", run, echoed(urls), 0)


def test_F4_json(fetch, serve):
    """--json: one JSON object per line (url, status, reason, headers, length, sha256, elapsed_ms; or
    url, error, elapsed_ms); headers as [lowercased name, value] grouped by name, as in U3."""

    async def script(x: Exchange) -> None:
        await x.respond(201, b"hello json", reason="Created", close=False,
                        headers=(("X-One", "1"), ("x-two", " 2 "), ("X-ONE", "3")))

    server = serve(script)
    holder, refused = refusing_port()
    with holder:
        urls = [server.url("/j?x=1"), f"http://127.0.0.1:{refused}/j"]
        run = fetch("--json", *urls)
    requirement = "F4 --json: one object per line with the documented keys"
    try:
        objects = [json.loads(text) for text in run.lines]
    except ValueError:
        objects = None
    assert objects and len(objects) == 2, failure(requirement, run.argv, "two JSON lines", run.describe())
    got, failed = objects
    expected = {"url": urls[0], "status": 201, "reason": "Created",
                "headers": [["x-one", "1"], ["x-one", "3"], ["x-two", "2"], ["content-length", "10"]],
                "length": 10, "sha256": hashlib.sha256(b"hello json").hexdigest()}
    elapsed = got.pop("elapsed_ms", None)
    assert got == expected and isinstance(elapsed, (int, float)) and elapsed >= 0, failure(
        requirement, urls[0], {**expected, "elapsed_ms": "a number"}, {**got, "elapsed_ms": elapsed})
    elapsed = failed.pop("elapsed_ms", None)
    assert failed == {"url": urls[1], "error": "refused"} and isinstance(elapsed, (int, float)), failure(
        requirement, urls[1], {"url": urls[1], "error": "refused", "elapsed_ms": "a number"}, failed)


BAD_COMMAND_LINES = [
    ("unknown option", ("--no-such-option", "http://127.0.0.1:1/")),
    ("concurrency zero", ("--concurrency", "0", "http://127.0.0.1:1/")),
    ("concurrency not a number", ("--concurrency", "ten", "http://127.0.0.1:1/")),
    ("negative timeout", ("--timeout", "-1", "http://127.0.0.1:1/")),
    ("max-body zero", ("--max-body", "0", "http://127.0.0.1:1/")),
    ("no URL", ()),
    ("stdin and URLs", ("-", "http://127.0.0.1:1/")),
]


@pytest.mark.parametrize("args", [args for _, args in BAD_COMMAND_LINES],
                         ids=[label.replace(" ", "-") for label, _ in BAD_COMMAND_LINES])
def test_F5_bad_command_line(fetch, args):
    """A bad command line prints one line on stderr, nothing on stdout, and exits with status 2."""
    run = fetch(*args)
    lines = run.stderr.splitlines()
    assert run.status == 2 and run.stdout == "" and len(lines) == 1 and "Traceback" not in run.stderr, \
        failure("F5 bad command line: one line on stderr, exit 2", " ".join(run.argv),
                "status 2, one line on stderr, nothing on stdout", run.describe())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_F6_signal_ends_the_run(fetch, serve, signum):
    """SIGINT or SIGTERM ends the run at once: the lines of the URLs finished by then, in input order,
    and exit status 130 or 143."""
    a_done = None

    async def script(x: Exchange) -> None:
        nonlocal a_done
        if x.target == "/hang":
            await x.client_closed()
            return
        if x.target == "/b":
            await a_done  # /b is answered only once the client is done with /a
        # Connection: close, but the server leaves the closing to the client: its close proves that
        # it has read the whole answer.
        await x.respond(body=b"ok", headers=(("Connection", "close"),), close=False)
        await x.client_closed()
        if x.target == "/a":
            a_done.set_result(None)

    async def make_future() -> None:
        nonlocal a_done
        a_done = asyncio.get_running_loop().create_future()

    server = serve(script)
    on_loop(make_future())
    urls = [server.url(t) for t in ("/hang", "/a", "/b")]
    proc, started = start_client(fetch.variant, urls)
    try:
        finished = wait_until(lambda: sum(c.closed is not None for c in server.connections) >= 2, timeout=30)
        sent = time.monotonic()
        proc.send_signal(signum)
    finally:
        run = finish_client(proc, started, timeout=30)
    took = time.monotonic() - sent
    name = signal.Signals(signum).name
    requirement = f"F6 {name}: the finished lines in input order, exit {128 + signum}, within 2 s"
    assert finished, failure(requirement, urls, "/a and /b answered and closed by the client",
                             run.describe())
    check_lines(requirement, run, [line(urls[1], b"ok"), line(urls[2], b"ok")], 128 + signum)
    assert took < 2.0 + 0.5 and "Traceback" not in run.stderr, failure(
        requirement, f"{name} with /hang unanswered", "exit within 2 s, no traceback",
        f"{took:.1f} s; {run.describe()}")


def test_F7_quiet(fetch, serve):
    """With --quiet the client writes nothing to stderr, even when URLs fail."""

    async def script(x: Exchange) -> None:
        if x.target == "/garbage":
            await x.send(b"this is not HTTP\r\n\r\n")
            x.close()
        else:
            await x.respond()

    server = serve(script)
    holder, refused = refusing_port()
    with holder:
        urls = [server.url("/fine"), server.url("/garbage"), f"http://127.0.0.1:{refused}/", "ftp://x/"]
        run = fetch("--quiet", *urls)
    assert run.status == 1 and run.stderr == "" and len(run.lines) == 4, failure(
        "F7 --quiet: nothing on stderr", urls, "status 1, four lines, empty stderr", run.describe())


# -- requests -------------------------------------------------------------------------------------

def test_F8_the_request(fetch, serve):
    """One `GET TARGET HTTP/1.1` per URL: path and query exactly as written, one Host header, no body,
    no compression asked for."""
    server = serve()
    written = {"/a%20b/../c;p?x=1&y=%2F#frag": "/a%20b/../c;p?x=1&y=%2F", "": "/", "?q=1": "/?q=1",
               "/%7Euser//x?": "/%7Euser//x"}
    urls = [server.url(path) for path in written]
    run = fetch("--concurrency", "1", *urls)
    requirement = "F8 GET TARGET HTTP/1.1, one Host, no body, no compression"
    check_lines(requirement, run, [line(url, target.encode()) for url, target in zip(urls, written.values(),
                                                                                      strict=True)], 0)
    host = f"127.0.0.1:{server.port}"
    for request in server.requests:
        problems = []
        if (request.method, request.version) != ("GET", "HTTP/1.1"):
            problems.append(f"request line {request.method} {request.target} {request.version}")
        if request.header("Host") != [host]:
            problems.append(f"Host {request.header('Host')}")
        if request.header("Transfer-Encoding") or request.header("Content-Length") not in ([], ["0"]) \
                or request.body:
            problems.append("a body")
        if any(value.strip().lower() != "identity" for value in request.header("Accept-Encoding")):
            problems.append(f"Accept-Encoding {request.header('Accept-Encoding')}")
        assert not problems, failure(requirement, request.target, f"GET, HTTP/1.1, Host: {host}, no body",
                                     f"{'; '.join(problems)} in {request.head!r}")
    assert sorted(server.targets()) == sorted(written.values()), failure(
        requirement, urls, f"targets {sorted(written.values())}", sorted(server.targets()))


def test_F9_bad_url(fetch, serve):
    """A URL that is not an absolute http:// URL with a host gets ERROR bad-url and is never requested."""
    server = serve()
    port = server.port
    bad = [f"ftp://127.0.0.1:{port}/x", f"https://127.0.0.1:{port}/x", "http://", "http:///x",
           f"127.0.0.1:{port}/x", "http://127.0.0.1:99999/x", "http://127.0.0.1:0/x",
           f"http://user@127.0.0.1:{port}/x", f"http://127.0.0.1:{port}/a b", "not a url at all"]
    good = server.url("/good")
    urls = [*bad[:5], good, *bad[5:]]
    run = fetch(*urls)
    expected = [line(good, b"/good") if url == good else error(url, "bad-url") for url in urls]
    check_lines("F9 ERROR bad-url for each bad URL, the good one fetched", run, expected, 1)
    assert server.targets() == ["/good"], failure("F9 a bad URL is never requested", urls,
                                                  ["/good"], server.targets())


# -- framing ------------------------------------------------------------------------------------

def _framing(fetch, serve, framing: str, sizes: list[int], clause: str, **respond) -> None:
    bodies = {f"/{framing}/{n}": bytes((65 + n + i) % 256 for i in range(size))
              for n, size in enumerate(sizes)}

    async def script(x: Exchange) -> None:
        await x.respond(200, bodies[x.target], framing=framing, **respond)

    server = serve(script)
    urls = [server.url(target) for target in bodies]
    run = fetch("--concurrency", "1", "--json", *urls)
    requirement = f"{clause} {framing} framing: each body read whole, the next answer read right"
    try:
        got = [(o["url"], o.get("status"), o.get("length"), o.get("sha256"))
               for o in map(json.loads, run.lines)]
    except (ValueError, KeyError, TypeError):
        got = run.describe()
    expected = [(url, 200, len(body), hashlib.sha256(body).hexdigest())
                for url, body in zip(urls, bodies.values(), strict=True)]
    assert got == expected and run.status == 0, failure(requirement, urls, expected, got)


def test_F10_1_content_length(fetch, serve):
    """A body delimited by Content-Length is read to that length; the next answer is read right."""
    _framing(fetch, serve, "length", [0, 70_000, 5, 1], "F10.1")


@pytest.mark.smoke
def test_F10_2_chunked(fetch, serve):
    """A chunked body is decoded (extensions ignored, trailers dropped); the next answer is read right."""
    _framing(fetch, serve, "chunked", [0, 20, 30_000, 3], "F10.2")


def test_F10_3_read_to_close(fetch, serve):
    """An answer with neither Content-Length nor Transfer-Encoding is read until the server closes."""
    _framing(fetch, serve, "close", [0, 10, 100_000], "F10.3")


def test_F10_4_interim_answers_skipped(fetch, serve):
    """1xx answers before the final one are skipped: the line shows the final status and body."""

    async def script(x: Exchange) -> None:
        await x.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await x.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        await x.respond(200, b"final answer", headers=(("Link", "</style.css>; rel=preload"),))

    server = serve(script)
    urls = [server.url("/hints/1"), server.url("/hints/2")]
    run = fetch("--concurrency", "1", *urls)
    check_lines("F10.4 1xx skipped", run, [line(urls[0], b"final answer"), line(urls[1], b"final answer")], 0)


# -- concurrency, order, connections ----------------------------------------------------------

def test_F11_input_order(fetch, serve):
    """Lines come out in input order, whatever order the answers complete in."""
    count = 6

    async def script(x: Exchange) -> None:
        await x.gate("all", count)
        number = int(x.target.rsplit("/", 1)[1])
        await asyncio.sleep(0.15 * (count - 1 - number))  # the last URL is answered first
        await x.respond()

    server = serve(script)
    urls = [server.url(f"/order/{n}") for n in range(count)]
    run = fetch("--concurrency", str(count), *urls)
    check_lines("F11 input order whatever the completion order", run, echoed(urls), 0)


def test_F12_concurrency_cap(fetch, serve):
    """At most --concurrency connections open at once, and that many used: 100 held URLs at
    --concurrency 10 see exactly 10 connections open at the peak."""

    async def script(x: Exchange) -> None:
        await x.gate("batch", 10, patience=1.0)
        await x.respond()

    server = serve(script)
    urls = [server.url(f"/cap/{n}") for n in range(100)]
    run = fetch("--concurrency", "10", *urls)
    check_lines("F12 every URL fetched", run, echoed(urls), 0)
    assert server.peak_open == 10 and server.peak_in_flight == 10, failure(
        "F12 exactly --concurrency connections open at the peak", "100 URLs, --concurrency 10",
        "10 connections and 10 requests at the peak",
        f"{server.peak_open} connections, {server.peak_in_flight} requests")


def test_F13_keep_alive(fetch, serve):
    """Idle connections are reused, one request at a time: 100 URLs on one origin at --concurrency 5
    use at most 5 connections, and no request is sent before the previous answer is complete."""

    async def script(x: Exchange) -> None:
        await asyncio.sleep(0.002)  # time for a pipelining client to send ahead
        await x.respond()

    server = serve(script)
    urls = [server.url(f"/keep/{n}") for n in range(100)]
    run = fetch("--concurrency", "5", *urls)
    check_lines("F13 every URL fetched", run, echoed(urls), 0)
    pipelined = [later.target for connection in server.connections
                 for earlier, later in zip(connection.requests, connection.requests[1:], strict=False)
                 if earlier.answered is None or later.arrived < earlier.answered]
    assert len(server.connections) <= 5 and not pipelined, failure(
        "F13 keep-alive: at most 5 connections, one request at a time", "100 URLs, --concurrency 5",
        "at most 5 connections, no pipelining",
        f"{len(server.connections)} connections; sent before the previous answer: {pipelined[:5]}")


def test_F14_keep_alive_race_retried_once(fetch, serve):
    """A request on a reused connection closed before any byte of the answer is retried once on a new
    connection; a request that got a byte is never retried; none is retried twice."""

    async def script(x: Exchange) -> None:
        target = x.target
        if target == "/got-a-byte":
            await x.send(b"HTTP/1.1 200 OK\r\nContent-Le")
            x.close()
        elif target == "/always-closed":
            x.close()
        elif x.reused and target in ("/fin-1", "/fin-2"):
            x.close()  # the server gave up on the idle connection just as the request came
        elif x.reused and target == "/rst":
            x.reset()
        else:
            await x.respond()

    server = serve(script)
    targets = ["/first", "/fin-1", "/rst", "/fin-2", "/got-a-byte", "/fresh", "/always-closed"]
    urls = [server.url(t) for t in targets]
    run = fetch("--concurrency", "1", *urls)
    expected = [error(url, "reset") if t in ("/got-a-byte", "/always-closed") else line(url, t.encode())
                for url, t in zip(urls, targets, strict=True)]
    requirement = "F14 retried once, on a new connection, only if no byte of the answer came"
    check_lines(requirement, run, expected, 1)
    attempts: dict[str, list] = {}
    for request in server.requests:
        attempts.setdefault(request.target, []).append(request)
    problems = []
    for target, seen in attempts.items():
        if len(seen) > 2 or (len(seen) == 2 and (seen[0].number == 0 or seen[1].number != 0)):
            problems.append(f"{target}: {[(r.connection, r.number) for r in seen]}")
    if len(attempts.get("/got-a-byte", [])) != 1:
        problems.append(f"/got-a-byte sent {len(attempts.get('/got-a-byte', []))} times")
    assert not problems, failure(requirement, targets,
                                 "each URL sent at most twice; twice only if first on a reused connection "
                                 "and then on a new one; /got-a-byte once",
                                 f"(connection, request number on it): {'; '.join(problems)}")


# -- failures -------------------------------------------------------------------------------------

def test_F15_refused(fetch, serve):
    """A connection refused gets ERROR refused; the other URLs are fetched."""
    server = serve()
    holder, refused = refusing_port()
    with holder:
        urls = [server.url("/before"), f"http://127.0.0.1:{refused}/refused", server.url("/after")]
        run = fetch(*urls)
    check_lines("F15 ERROR refused", run, [line(urls[0], b"/before"), error(urls[1], "refused"),
                                           line(urls[2], b"/after")], 1)


def test_F16_1_timeout(fetch, serve):
    """--timeout bounds each request to its last body byte: a server that never answers, or trickles
    its body, gets ERROR timeout after S seconds, not before; the run ends within S + 2 s."""

    async def script(x: Exchange) -> None:
        if x.target == "/silent":
            await x.client_closed()
        elif x.target == "/trickle":
            await x.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            while not x.connection.closed:
                await x.send(b"t")
                await asyncio.sleep(0.2)
        else:
            await x.respond()

    server = serve(script)
    urls = [server.url(t) for t in ("/silent", "/fast", "/trickle", "/fast-too")]
    run = fetch("--timeout", "1", *urls)
    requirement = "F16.1 ERROR timeout after --timeout 1, the others fetched, the run over within 1 + 2 s"
    check_lines(requirement, run, [error(urls[0], "timeout"), line(urls[1], b"/fast"),
                                   error(urls[2], "timeout"), line(urls[3], b"/fast-too")], 1)
    server.settle()
    for target in ("/silent", "/trickle"):
        request = next(r for r in server.requests if r.target == target)
        gave_up = server.connections[request.connection].closed
        took = (gave_up or run.ended) - request.arrived
        assert 0.9 <= took <= 1.0 + MARGIN, failure(requirement, target, "given up after 1 s (at most 3 s)",
                                                     f"{took:.2f} s")


def test_F16_2_queued_requests_not_timed(fetch, serve):
    """A request waiting for a connection is not yet timed: three 0.6 s answers one after another at
    --concurrency 1 --timeout 1.2 are all fetched."""

    async def script(x: Exchange) -> None:
        await asyncio.sleep(0.6)
        await x.respond()

    server = serve(script)
    urls = [server.url(f"/queued/{n}") for n in range(3)]
    run = fetch("--concurrency", "1", "--timeout", "1.2", *urls)
    check_lines("F16.2 queued requests are not timed", run, echoed(urls), 0)


def test_F16_3_retry_restarts_the_clock(fetch, serve):
    """A retry starts its clock again: 0.7 s on a reused connection that is then closed, plus 0.7 s on
    the new one, at --timeout 1.2, is fetched."""

    async def script(x: Exchange) -> None:
        if x.target == "/retried":
            await asyncio.sleep(0.7)
            if x.reused:
                x.close()  # the keep-alive race, after 0.7 s of the first attempt's clock
                return
        await x.respond()

    server = serve(script)
    urls = [server.url("/first"), server.url("/retried")]
    run = fetch("--concurrency", "1", "--timeout", "1.2", *urls)
    check_lines("F16.3 each attempt has its own --timeout", run,
                [line(urls[0], b"/first"), line(urls[1], b"/retried")], 0)


def test_F17_reset(fetch, serve):
    """A connection closed or reset before the answer is complete gets ERROR reset."""

    async def script(x: Exchange) -> None:
        if x.target == "/fin-in-body":
            await x.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"b" * 100)
            x.close()
        elif x.target == "/rst-in-body":
            await x.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"b" * 100)
            await asyncio.sleep(0.05)
            x.reset()
        elif x.target == "/fin-in-head":
            await x.send(b"HTTP/1.1 200 OK\r\nContent-Len")
            x.close()
        elif x.target == "/fin-in-chunks":
            await x.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            x.close()
        else:
            await x.respond()

    server = serve(script)
    targets = ["/fin-in-body", "/ok", "/rst-in-body", "/fin-in-head", "/fin-in-chunks"]
    urls = [server.url(t) for t in targets]
    run = fetch("--timeout", "5", *urls)
    check_lines("F17 ERROR reset", run, [line(url, b"/ok") if t == "/ok" else error(url, "reset")
                                         for url, t in zip(urls, targets, strict=True)], 1)


def test_F18_bad_response(fetch, serve):
    """An answer that is not HTTP/1.1 (malformed status line, Content-Length not a number, chunk size not
    hex) gets ERROR bad-response."""
    answers = {
        "/no-status-code": b"HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\nok",
        "/not-http": b"hello, this is not an HTTP answer\r\n\r\n",
        "/length-not-a-number": b"HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nhello world!",
        "/chunk-size-not-hex": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"zz\r\nhello\r\n0\r\n\r\n"),
    }

    async def script(x: Exchange) -> None:
        if x.target in answers:
            await x.send(answers[x.target])
            await x.client_closed()
        else:
            await x.respond()

    server = serve(script)
    targets = ["/no-status-code", "/ok", "/not-http", "/length-not-a-number", "/chunk-size-not-hex"]
    urls = [server.url(t) for t in targets]
    run = fetch("--timeout", "5", *urls)
    expected = [line(url, b"/ok") if t == "/ok" else error(url, "bad-response")
                for url, t in zip(urls, targets, strict=True)]
    check_lines("F18 ERROR bad-response", run, expected, 1)


def test_F19_too_large(fetch, serve):
    """A body over --max-body (by Content-Length, chunked or read to the close) gets ERROR too-large, and
    a 256 MiB answer leaves the client's peak RSS under 64 MiB."""
    huge = 256 * MIB

    async def script(x: Exchange) -> None:
        if x.target == "/huge":
            await x.send(b"HTTP/1.1 200 OK\r\n\r\n")  # read to the close: no length to refuse at once
            block = b"h" * MIB
            for _ in range(huge // MIB):
                if x.connection.closed:
                    return
                await x.send(block)
            x.close()
            return
        framing = x.target.rsplit("/", 1)[1]
        size = 1000 if framing == "exact" else 5000
        await x.respond(200, b"x" * size, framing="length" if framing == "exact" else framing)

    server = serve(script)
    targets = ["/big/length", "/big/exact", "/big/chunked", "/big/close"]
    urls = [server.url(t) for t in targets]
    run = fetch("--max-body", "1000", *urls)
    requirement = "F19 ERROR too-large over --max-body 1000; exactly 1000 bytes fetched"
    check_lines(requirement, run, [line(url, 1000) if t.endswith("exact") else error(url, "too-large")
                                   for url, t in zip(urls, targets, strict=True)], 1)
    urls = [server.url("/huge"), server.url("/big/exact")]
    run = fetch(*urls)
    requirement = "F19 a 256 MiB answer at the default --max-body: ERROR too-large, peak RSS under 64 MiB"
    check_lines(requirement, run, [error(urls[0], "too-large"), line(urls[1], 1000)], 1)
    assert run.max_rss < 64 * MIB, failure(requirement, urls[0], "peak RSS under 64 MiB",
                                           f"{run.max_rss / MIB:.1f} MiB")


# -- load ----------------------------------------------------------------------------------------------

def test_F20_load_against_urlecho(fetch, request):
    """1,000 URLs (10,000 under --full) against impl_raw's URL echo: all fetched, in input order, each
    body its own target; under --full the client's peak RSS stays under 64 MiB."""
    full = request.config.getoption("full")
    count = 10_000 if full else 1_000
    raw = next(v for v in VARIANTS if v.id == "raw")
    echo = launch(raw, "urlecho", args=("--quiet",))
    try:
        targets = [f"/load/{n}?q={n * 7919 % 1000}" for n in range(count)]
        urls = [f"http://127.0.0.1:{echo.port}{target}" for target in targets]
        run = fetch("--json", "--quiet", "-", stdin="\n".join(urls) + "\n", timeout=120)
    finally:
        echo.stop()
    requirement = f"F20 {count} URLs against the URL echo: all fetched, in order, each body its target"
    wrong = []
    lines = run.lines
    for number, (url, target) in enumerate(zip(urls, targets, strict=True)):
        try:
            got = json.loads(lines[number])
        except (IndexError, ValueError):
            wrong.append(f"line {number}: {lines[number:number + 1]}")
            break
        body = target.encode()
        if (got.get("url"), got.get("status"), got.get("length"), got.get("sha256")) != (
                url, 200, len(body), hashlib.sha256(body).hexdigest()):
            wrong.append(f"line {number}: {lines[number][:200]}")
            if len(wrong) > 3:
                break
    assert not wrong and len(lines) == count and run.status == 0, failure(
        requirement, f"{count} URLs on stdin", f"{count} lines, status 0", f"{wrong}; {run.describe()}")
    if full:
        assert run.max_rss < 64 * MIB, failure(requirement, f"{count} URLs", "peak RSS under 64 MiB",
                                               f"{run.max_rss / MIB:.1f} MiB")
