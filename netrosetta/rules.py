"""The one home of the URL echo's HTTP/1.1 rules (SPEC.md, section U): grammar, limits, framing
decisions, status reasons and the bytes of every error answer.

Every implementation applies them through this module and restates none of them: impl_raw drives
the parser below as its own (it is the sans-IO half of raw's lesson, written by hand), and each
framework's hardening module feeds it the bytes its framework is about to parse, at the point where
that framework lets you intercept, and answers with ``error_response`` when it refuses them. The
conformance suite keeps its own, independent oracle and never imports this module.

The parser is kept apart from I/O, in the style of h11: bytes in, events out. Strategy:
``feed(data)`` appends to a buffer and returns the events that the buffered bytes complete —
``Request`` when a head has been read and checked, ``Data`` for each stretch of body
bytes consumed (and dropped: the URL echo discards bodies), ``EndOfMessage`` when a request's body
is over, or a single ``Error(status, reason)`` after which nothing more is ever parsed, so bytes that
follow a framing error can never be read as a request (no request smuggling). There are no sockets
and no clocks here: the connection owns timeouts and decides what to write.

The hot path is one ``find`` for the blank line that ends the head, one latin-1 decode and one
compiled regular expression for the request line; the header section is checked (with a second
one) and split into fields only when it differs from the connection's previous one, since a
keep-alive client sends the same fields with every request. Body bytes are skipped by moving an
index, never copied. Only when a match fails does the slow path work out which rule broke, in
stream order.

Until a head is complete, each feed checks what is buffered so far — a request line that is
already garbage (a TLS ClientHello, say), a target or header section already over its limit, a bare
LF, a complete header line that breaks the grammar — so a bad client is answered as soon as its
bytes prove it, never left waiting for more (and a framework that parses line by line behind these
rules never meets a bad line before they do). When
several faults are proven, the one proven by the fewest bytes wins, so the verdict is the same
however the bytes were chunked (tests/test_http_parser.py checks this with hypothesis).
Rules and their clause numbers: conformance/SPEC.md, section U; RFC 9112 for the grammar.

impl_raw's fetch client reads answers with a parser of its own (impl_raw/response.py), the other
half of this one: it takes its grammar (token, field value, field lines, chunk-size line), limits,
line endings, shared events and parser states from here, deliberately, and keeps only what is a
response's (the status line, and the framing of an answer to a GET).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import NoReturn

from netrosetta.answer import TEXT

# -- events ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Request:
    """A request head that passed every check; ``version`` is as sent, e.g. ``HTTP/1.1``."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    # Whether the connection may carry another request after this one's response.
    keep_alive: bool = True
    # Send ``100 Continue`` before reading the body (RFC 9110, 10.1.1).
    expect_continue: bool = False


@dataclass(slots=True)
class Data:
    """``size`` bytes of the current request's body were read (and dropped)."""

    size: int


@dataclass(slots=True)
class EndOfMessage:
    """The current request's body (possibly empty) is complete."""


@dataclass(slots=True)
class Error:
    """The input is refused: answer ``status``, then close. Nothing more is parsed."""

    status: int
    reason: str


Event = Request | Data | EndOfMessage | Error

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}

# -- limits ---------------------------------------------------------------------------------

# The longest registered method (RFC 9110's registry) is 17 bytes (UPDATEREDIRECTREF). A first
# word longer than this is not a method but garbage, refused before it can grow.
MAX_METHOD = 64

# A chunk-size line is hex digits plus extensions we ignore. Node.js caps a chunk extension at
# 16 KiB; we are stricter because we never use them. 16 hex digits cover any size we could accept.
MAX_CHUNK_LINE = 4096
MAX_CHUNK_DIGITS = 16

# -- grammar (RFC 9112 and RFC 9110), as compiled patterns ----------------------------------

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# The head is decoded once as latin-1 (every byte is one character, so no byte is lost or
# invented) and checked with str patterns; bodies stay bytes.
# method SP request-target SP HTTP-version; the target is visible ASCII only, so a raw space, a
# control byte or a byte >= 0x80 in it fails the match.
_METHOD = _TOKEN + f"{{1,{MAX_METHOD}}}"
REQUEST_LINE = re.compile("(" + _METHOD + r") ([\x21-\x7e]+) (HTTP/([0-9]{1,3})\.([0-9]{1,3}))")
# What a request line may look like before its CRLF has arrived: anything that cannot grow into a
# valid line is refused at once (garbage, TLS handshake bytes, a lowercase version).
_PARTIAL_VERSION = r"(?:H(?:T(?:T(?:P(?:/(?:[0-9]{1,3}(?:\.[0-9]{0,3})?)?)?)?)?)?)?"
PARTIAL_REQUEST_LINE = re.compile(
    _TOKEN + f"{{0,{MAX_METHOD}}}" + r"(?: (?:[\x21-\x7e]+(?: " + _PARTIAL_VERSION + r")?)?)?\r?"
)
# field-name ":" OWS field-value OWS. No whitespace before the colon; a value holds no CTL but
# HTAB (so no CR, LF or NUL). A line starting with whitespace (obs-fold) fails the name. One match
# checks every line of a section, so the hot path splits lines without checking each again.
# A field value's characters (HTAB, SP, VCHAR, obs-text) are a reason phrase's too.
FIELD_VALUE = r"[^\x00-\x08\x0a-\x1f\x7f]*"
_FIELD_LINE = _TOKEN + r"+:" + FIELD_VALUE
FIELD_LINES = re.compile("(?:" + _FIELD_LINE + "\r\n)*" + _FIELD_LINE)
FIELD_LINE = re.compile(_FIELD_LINE)
# The hot path's two matches: a head's request line (method, target, version) and its CRLF, with the
# rest of the head (the header section) as a fourth group; and a header section of field lines,
# each with its CRLF.
REQUEST_LINE_CRLF = re.compile("(" + _METHOD + r") ([\x21-\x7e]+) (HTTP/[0-9]{1,3}\.[0-9]{1,3})\r\n(.*)",
                               re.DOTALL)
FIELD_SECTION = re.compile("(?:" + _FIELD_LINE + "\r\n)*")
# Absolute-form: scheme "://" then visible ASCII (the request-line pattern already checked bytes).
ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*://")
# Host = uri-host [ ":" port ]: an IP-literal in brackets, or a name or IPv4 address (RFC 3986's
# unreserved characters; it may be empty), as SPEC.md U12.3 defines it. Percent-escapes and
# sub-delims, legal in a reg-name but never in a DNS name, are refused.
HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~]*)(?::[0-9]*)?")
DIGITS = re.compile(r"[0-9]+")
BARE_LF = re.compile(rb"(?<!\r)\n")
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,%d})[ \t]*(?:;[^\r\n]*)?" % MAX_CHUNK_DIGITS)

CRLF = b"\r\n"
HEAD_END = b"\r\n\r\n"

# Parser states (impl_raw/response.py adds one after DONE).
HEAD, BODY, CHUNK_SIZE_LINE, CHUNK_DATA, CHUNK_END, TRAILERS, DONE = range(7)


class Refused(Exception):
    """Internal: the input broke a rule; ``code`` is what to answer (a status for a request; for
    an answer, impl_raw/response.py's error kind)."""

    def __init__(self, code: int | str, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class RequestParser:
    """Parses the requests of one connection, in order; ``feed`` bytes, get events."""

    # One parser per open connection: slots keep a held keep-alive connection small.
    __slots__ = ("max_target", "max_header_bytes", "max_body", "state", "_buffer", "_remaining",
                 "_body_size", "_keep_alive", "_skipped_crlf", "phase", "_fields", "_fields_read",
                 "_short_head")

    def __init__(self, max_target: int = 8 * 1024, max_header_bytes: int = 16 * 1024,
                 max_body: int = 1024 * 1024) -> None:
        self.max_target = max_target
        self.max_header_bytes = max_header_bytes
        self.max_body = max_body
        self.state = HEAD
        self._buffer = b""
        # Bytes left in the current Content-Length body or chunk.
        self._remaining = 0
        # Body bytes of the current chunked request so far, against max_body.
        self._body_size = 0
        self._keep_alive = True
        # One empty line before a request line is ignored (RFC 9112, 2.2); this notes we did.
        self._skipped_crlf = False
        # What the connection waits for: "idle" (a next request), "head", "body", or "done". Worked
        # out once per feed, so that a connection reads it as often as it likes for nothing.
        self.phase = "idle"
        # The last header section read (it passed the grammar), and what _read_fields made of it.
        self._fields: str | None = None
        self._fields_read: tuple = ()
        # A head no longer than this cannot break either length limit.
        self._short_head = min(max_target, max_header_bytes)

    # -- what the connection asks about its state (for timeouts) ---------------------------

    @property
    def idle(self) -> bool:
        """True between requests with nothing of the next one received yet."""
        return self.state == HEAD and not self._buffer and not self._skipped_crlf

    @property
    def in_head(self) -> bool:
        """True once a request's first byte has arrived and until its head is complete."""
        return self.state == HEAD and bool(self._buffer or self._skipped_crlf)

    @property
    def in_body(self) -> bool:
        return BODY <= self.state <= TRAILERS

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Parse what ``data`` completes; return the events, in order (an Error is always last)."""
        if self.state == DONE:
            return []  # after an error or a last request, the rest of the stream is never parsed
        events: list[Event] = []
        buffer = self._buffer + data if self._buffer else data
        position = 0
        end = len(buffer)
        try:
            # The state machine: each state consumes what it can from the buffer, or stops (break)
            # to wait for more bytes. Everything is in this one method: it runs for every read.
            while position < end:
                state = self.state
                if state == HEAD:
                    # A request line never starts with CR: one byte compared spares most heads the rest.
                    if (buffer[position] == 13 and not self._skipped_crlf
                            and buffer.startswith(CRLF, position)):
                        self._skipped_crlf = True
                        position += 2
                        continue
                    head_end = buffer.find(HEAD_END, position)
                    if head_end == -1:
                        self._check_partial_head(buffer, position)
                        break
                    self._skipped_crlf = False
                    position = self._head(buffer, position, head_end, events)
                elif state == BODY:
                    size = min(self._remaining, end - position)
                    position += size
                    self._remaining -= size
                    events.append(Data(size))
                    if not self._remaining:
                        self._end_of_message(events)
                elif state == CHUNK_SIZE_LINE:
                    line_end = buffer.find(CRLF, position)
                    if line_end == -1:
                        if end - position > MAX_CHUNK_LINE or buffer.find(b"\n", position) != -1:
                            raise Refused(400, "bad chunk size line")
                        break
                    match = CHUNK_SIZE.fullmatch(buffer, position, line_end)
                    if match is None:
                        raise Refused(400, "bad chunk size")
                    size = int(match.group(1), 16)
                    self._body_size += size
                    if self._body_size > self.max_body:
                        raise Refused(413, f"chunked body over {self.max_body} bytes")
                    position = line_end + 2
                    if size:
                        self._remaining = size
                        self.state = CHUNK_DATA
                    else:
                        self.state = TRAILERS
                elif state == CHUNK_DATA:
                    size = min(self._remaining, end - position)
                    position += size
                    self._remaining -= size
                    if events and type(events[-1]) is Data:
                        events[-1].size += size  # many small chunks in one feed: one event, not thousands
                    else:
                        events.append(Data(size))
                    if not self._remaining:
                        self.state = CHUNK_END
                elif state == CHUNK_END:
                    if end - position < 2:
                        if buffer[position] != 13:  # b"\r"
                            raise Refused(400, "chunk data not followed by CRLF")
                        break
                    if not buffer.startswith(CRLF, position):
                        raise Refused(400, "chunk data not followed by CRLF")
                    position += 2
                    self.state = CHUNK_SIZE_LINE
                elif state == TRAILERS:
                    position = self._trailers(buffer, position, events)
                    if self.state == TRAILERS:
                        break
                else:  # DONE: the last request is over; what follows it is never parsed
                    position = end
            self._buffer = buffer[position:] if position < end else b""
            state = self.state
            if state == HEAD:
                self.phase = "head" if self._buffer or self._skipped_crlf else "idle"
            else:
                self.phase = "done" if state == DONE else "body"
        except Refused as refused:
            self.state = DONE
            self.phase = "done"
            self._buffer = b""
            events.append(Error(refused.code, refused.reason))
        return events

    # -- the request head -------------------------------------------------------------------

    def _check_partial_head(self, buffer: bytes, position: int) -> None:
        """Refuse an incomplete head as soon as its bytes already break a rule or a limit."""
        line_end = buffer.find(CRLF, position)
        if line_end == -1:
            # Still inside the request line.
            line = buffer[position:].decode("latin-1")
            if PARTIAL_REQUEST_LINE.fullmatch(line) is None:
                self._refuse_request_line(line)
            if len(line) > self.max_target:
                self._check_target_length(line)
            return
        self._request_line(buffer[position:line_end].decode("latin-1"))
        self._check_section(buffer, line_end + 2, len(buffer), "header")

    def _check_target_length(self, line: str) -> None:
        """414 once a line starts with a method, a space and more than --max-target target bytes.

        That prefix is the earliest proof, whatever follows it, so the verdict is the same however
        the bytes were chunked.
        """
        if re.match(_METHOD + f" [\\x21-\\x7e]{{{self.max_target + 1}}}", line):
            raise Refused(414, f"request target over {self.max_target} bytes")

    def _refuse_request_line(self, line: str) -> NoReturn:
        """Raise the right refusal for a request line that does not match the grammar."""
        self._check_target_length(line)
        if "\n" in line:
            raise Refused(400, "bare LF in the request line")
        raise Refused(400, "malformed request line")

    def _check_section(self, buffer: bytes, start: int, last: int, kind: str) -> None:
        """Refuse a header (or trailer) section once buffer[:last] proves a bare LF, oversize or a
        complete line that breaks the grammar.

        Of these, the one proven by fewest bytes wins, as it would if the bytes came one by one:
        the verdict must not depend on how they were chunked. A bad line is refused at its CRLF,
        before the head ends, so that a framework parsing line by line behind the rules never meets
        one first (and answers it with a refusal of its own).
        """
        bare_lf = BARE_LF.search(buffer, start, last)
        bare_lf_proven = bare_lf.start() + 1 if bare_lf else last + 1
        text = buffer[start:last].decode("latin-1")
        good = FIELD_SECTION.match(text).end()
        bad_line_end = text.find("\r\n", good)
        bad_line_proven = start + bad_line_end + 2 if bad_line_end != -1 else last + 1
        oversize_proven = last + 1
        least = start + self.max_header_bytes - 2
        for length in range(max(least, start), min(least + 5, last + 1)):
            if _least_section(buffer, start, length) > self.max_header_bytes:
                oversize_proven = length
                break
        if oversize_proven <= min(bare_lf_proven, last):
            raise Refused(431, f"{kind} section over {self.max_header_bytes} bytes")
        if bare_lf_proven <= min(bad_line_proven, last):
            raise Refused(400, f"bare LF in the {kind} section")
        if bad_line_proven <= last:
            fault = _field_fault(text[good:bad_line_end])
            raise Refused(400, fault if kind == "header" else f"bad {kind}: {fault}")

    def _request_line(self, line: str) -> tuple[str, ...]:
        """Check a complete request line; return (method, target, version, major, minor)."""
        match = REQUEST_LINE.fullmatch(line)
        if match is None:
            self._refuse_request_line(line)
        parts = match.groups()
        method, target = parts[0], parts[1]
        if len(target) > self.max_target:
            raise Refused(414, f"request target over {self.max_target} bytes")
        if parts[3] != "1" and int(parts[3]) != 1:
            raise Refused(505, "only HTTP/1.x is served")
        if method == "CONNECT":
            raise Refused(405, "CONNECT is not served: this is not a proxy")
        if target[0] != "/":  # origin-form is the common case
            if target == "*":
                if method != "OPTIONS":
                    raise Refused(400, "'*' is only a target for OPTIONS")
            elif ABSOLUTE_FORM.match(target) is None:
                raise Refused(400, "target is neither origin-form nor absolute-form")
        return parts

    def _head(self, buffer: bytes, position: int, head_end: int, events: list[Event]) -> int:
        """Check a complete head, emit its Request, and set up reading its body."""
        # Decoded with its last CRLF, so that the request line and each field line end in one.
        head = buffer[position:head_end + 2].decode("latin-1")
        match = REQUEST_LINE_CRLF.match(head)
        if match is None:
            self._refuse_head(buffer, position, head_end, head[:-2])
        method, target, version, fields = match.groups()
        # One test covers everything unusual (a version other than HTTP/1.1, a target not in
        # origin-form, CONNECT, a head long enough to break a limit): the common request pays for
        # one test, not five.
        if (version != "HTTP/1.1" or target[0] != "/" or method == "CONNECT"
                or head_end - position > self._short_head):
            http11 = self._check_unusual_head(buffer, head_end, head[:match.start(4) - 2], method, target,
                                              version, fields)
        else:
            http11 = True
        # A keep-alive client sends the same header fields with every request (only the target
        # changes): they are checked and read once, and what they said then still holds.
        if fields != self._fields:
            if FIELD_SECTION.fullmatch(fields) is None:
                self._refuse_head(buffer, position, head_end, head[:-2])
            self._fields_read = _read_fields(fields)
            self._fields = fields
        headers, hosts, framing = self._fields_read
        if not hosts and http11:
            raise Refused(400, "an HTTP/1.1 request needs exactly one Host header")
        headers = headers.copy()  # each Request gets a list of its own
        if framing is None:
            # No body, and the version alone says whether the connection stays open.
            events.append(Request(method, target, version, headers, http11))
            events.append(_END)
            if not http11:
                # A request that ends the connection ends the parsing too: what follows is never read.
                self.state = DONE
            return head_end + 4
        return self._framed_head(method, target, version, headers, http11, framing, head_end, events)

    def _check_unusual_head(self, buffer: bytes, head_end: int, line: str, method: str, target: str,
                            version: str, fields: str) -> bool:
        """The checks of _request_line, and the header section's limit, in stream order; then
        whether the version is HTTP/1.1 or a later 1.x."""
        major, minor = version[5:].split(".")
        if len(target) > self.max_target:
            raise Refused(414, f"request target over {self.max_target} bytes")
        if int(major) != 1:
            raise Refused(505, "only HTTP/1.x is served")
        if method == "CONNECT" or target[0] != "/":
            self._request_line(line)
        if len(fields) > self.max_header_bytes:
            # Proven before the head ended (or a bare LF was, earlier still).
            self._check_section(buffer, head_end - len(fields) + 2, head_end + 3, "header")
            raise Refused(431, f"header section over {self.max_header_bytes} bytes")
        return int(minor) > 0

    def _framed_head(self, method: str, target: str, version: str, headers: list[tuple[str, str]],
                     http11: bool, framing: dict[str, str], head_end: int, events: list[Event]) -> int:
        """The rest of _head, for a request that sent framing fields: its body, keep-alive, Expect."""
        content_length = framing.get("content-length")
        transfer_encoding = framing.get("transfer-encoding")
        connection = framing.get("connection")
        expect = framing.get("expect")
        # Framing (RFC 9112, 6.1-6.3): exactly one way to know where the body ends.
        chunked = False
        length = 0
        if transfer_encoding is not None:
            if content_length is not None:
                raise Refused(400, "both Content-Length and Transfer-Encoding")
            if not http11:
                raise Refused(400, "Transfer-Encoding in an HTTP/1.0 request")
            codings = [coding.split(";", 1)[0].strip(" \t").lower()
                       for coding in transfer_encoding.split(",")]
            if "chunked" in codings and (codings[-1] != "chunked" or codings.count("chunked") > 1):
                raise Refused(400, "chunked is not the final transfer coding")
            if any(coding != "chunked" for coding in codings):
                if all(codings):
                    raise Refused(501, "only the chunked transfer coding is implemented")
                raise Refused(400, "empty transfer coding")
            chunked = True
        elif content_length is not None:
            # House rule (SPEC U15.2): RFC 9110 8.6 lets a recipient either merge identical values
            # or refuse; a list is what a smuggler sends, so any second value is refused, as nginx does.
            values = content_length.split(",")
            if len(values) != 1:
                raise Refused(400, "more than one Content-Length")
            value = values[0].strip(" \t")
            if DIGITS.fullmatch(value) is None:
                raise Refused(400, "Content-Length is not a number")
            length = int(value)
            if length > self.max_body:
                raise Refused(413, f"Content-Length over {self.max_body} bytes")

        if connection is None:
            keep_alive = http11
        else:
            tokens = {token.strip(" \t").lower() for token in connection.split(",")}
            keep_alive = "close" not in tokens and (http11 or "keep-alive" in tokens)
        self._keep_alive = keep_alive
        expect_continue = (http11 and expect is not None and expect.lower() == "100-continue"
                           and (chunked or length > 0))
        events.append(Request(method, target, version, headers, keep_alive, expect_continue))
        if chunked:
            self._body_size = 0
            self.state = CHUNK_SIZE_LINE
        elif length:
            self._remaining = length
            self.state = BODY
        else:
            events.append(_END)
            # A request that ends the connection ends the parsing too: what follows is never read.
            self.state = HEAD if keep_alive else DONE
        return head_end + 4

    def _refuse_head(self, buffer: bytes, position: int, head_end: int, head: str) -> NoReturn:
        """Say what is wrong with a head that failed the grammar, checking in stream order."""
        line_end = head.find("\r\n")
        if line_end == -1:
            line_end = len(head)
        self._request_line(head[:line_end])
        # The request line is fine: the header section is at fault.
        self._check_section(buffer, position + line_end + 2, head_end + 3, "header")
        if len(head) - line_end > self.max_header_bytes:
            raise Refused(431, f"header section over {self.max_header_bytes} bytes")
        raise Refused(400, _field_fault(head[line_end + 2:]))

    def _trailers(self, buffer: bytes, position: int, events: list[Event]) -> int:
        """Read trailer fields (checked, then dropped) up to the blank line that ends the body."""
        if buffer.startswith(CRLF, position):
            self._end_of_message(events)
            return position + 2
        trailers_end = buffer.find(HEAD_END, position)
        if trailers_end == -1:
            self._check_section(buffer, position, len(buffer), "trailer")
            return position
        section = buffer[position:trailers_end].decode("latin-1")
        if trailers_end + 2 - position > self.max_header_bytes or FIELD_LINES.fullmatch(section) is None:
            self._check_section(buffer, position, trailers_end + 3, "trailer")
            if trailers_end + 2 - position > self.max_header_bytes:
                raise Refused(431, f"trailer section over {self.max_header_bytes} bytes")
            raise Refused(400, "bad trailer: " + _field_fault(section))
        self._end_of_message(events)
        return trailers_end + 4

    def _end_of_message(self, events: list[Event]) -> None:
        events.append(_END)
        # A request that ends the connection ends the parsing too: what follows is never read.
        self.state = HEAD if self._keep_alive else DONE


def _least_section(buffer: bytes, start: int, end: int) -> int:
    """The smallest size a section from ``start`` can still have, given buffer[:end] (lines + CRLFs).

    The blank line that ends it may already have begun in the last bytes buffered.
    """
    size = end - start
    if buffer.endswith(b"\r\n\r", start, end):
        return size - 1
    if buffer.endswith(CRLF, start, end):
        return size
    return size + 1 if buffer.endswith(b"\r", start, end) else size + 2


_FRAMING = frozenset(("host", "content-length", "transfer-encoding", "connection", "expect"))


def _read_fields(fields: str) -> tuple[list[tuple[str, str]], int, dict[str, str] | None]:
    """(headers, Host count, other framing fields) of a header section that passed the grammar,
    once its Host rules are checked: at most one Host (none is for _head to judge, by the version),
    and a valid one. The other framing fields are Content-Length, Transfer-Encoding, Connection and
    Expect, by lowercased name, or None when there are none (most requests: they skip the framing
    rules)."""
    headers: list[tuple[str, str]] = []
    host = None
    hosts = 0
    framing: dict[str, str] | None = None
    if fields:
        for line in fields[:-2].split("\r\n"):
            name, _, value = line.partition(":")
            value = value.strip(" \t")
            headers.append((name, value))
            lower = name.lower()
            if lower in _FRAMING:
                if lower == "host":
                    host = value
                    hosts += 1
                else:
                    framing = _add_framing_field(framing, lower, value)
    if hosts > 1:
        raise Refused(400, "an HTTP/1.1 request needs exactly one Host header")
    if host is not None and HOST.fullmatch(host) is None:
        raise Refused(400, "Host is not host[:port]")
    return headers, hosts, framing


def _add_framing_field(framing: dict[str, str] | None, name: str, value: str) -> dict[str, str]:
    """Note a framing field: repeated ones join into one comma-separated list, except Expect (the
    last one counts)."""
    if framing is None:
        return {name: value}
    if name in framing and name != "expect":
        framing[name] += "," + value
    else:
        framing[name] = value
    return framing


# EndOfMessage carries nothing, so one instance serves every request.
_END = EndOfMessage()


def _field_fault(section: str) -> str:
    """Why a header (or trailer) section failed the grammar, for the 400's body (off the hot path)."""
    for line in section.split("\r\n"):
        if FIELD_LINE.fullmatch(line):
            continue
        if not line:
            return "empty header line"
        if line[0] in " \t":
            return "obs-fold or whitespace before a header line"
        name, colon, _ = line.partition(":")
        if not colon:
            return "header line without a colon"
        if not name:
            return "empty header name"
        if name != name.rstrip(" \t"):
            return "whitespace before the colon"
        if re.fullmatch(_TOKEN + "+", name) is None:
            return "header name is not a token"
        return "control character (CR, LF, NUL...) in a header value"
    return "malformed header section"


# -- answers ------------------------------------------------------------------------------------

ERROR_HEAD = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n"
              b"Date: %s\r\n\r\n")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_TEXT = TEXT.encode("ascii")


class HttpDate:
    """The Date header's value (RFC 9110 IMF-fixdate), formatted once per second, not per response."""

    def __init__(self) -> None:
        self.second = -1
        self.value = b""
        self.now()  # ``value`` is a valid date from the start (an event loop may refresh it on a timer)

    def now(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.second = second
            self.value = formatdate(second, usegmt=True).encode("ascii")
        return self.value


http_date = HttpDate()


def error_response(status: int, reason: str) -> bytes:
    """The one error answer: status line, a one-line text body naming the rule broken, and the
    headers SPEC U17.3 asks of every error (Connection: close, Date, exact Content-Length)."""
    phrase = REASONS[status]
    body = f"{status} {phrase}: {reason}\n".encode("latin-1")
    return ERROR_HEAD % (status, phrase.encode("ascii"), _TEXT, len(body), http_date.now()) + body
