"""The sans-IO HTTP/1.1 response parser of impl_raw's fetch client (SPEC.md, section F): bytes in,
events out, written by hand.

It is the other half of the request parser in netrosetta/rules.py, and depends on it deliberately
(as impl_raw/urlecho.py does): the grammar (token, field value, field lines, chunk-size line), the
limits, the line endings, the parser states and the ``EndOfMessage`` event are the rules' and are
imported, never restated. What is a response's alone stays here: the status line, the framing of an
answer to a GET, and the events that carry a client's payload (body bytes; an error kind, not a
status). Twisted's Agent and Tornado's AsyncHTTPClient read answers with parsers of their own, so
no other implementation applies these, and they live in raw's package, not in the shared rules.

Strategy, as for requests: ``feed(data)`` appends to a buffer and returns the events the buffered
bytes complete: ``Response`` once the final head is read and checked (1xx interim heads are read
and dropped), ``Data`` for each stretch of body bytes (a memoryview of the bytes received, never a
copy), ``EndOfMessage`` when the body is over, or one ``Error(kind, reason)`` after which nothing
more is parsed. ``eof()`` says the connection closed: that ends a body read to the close, and is a
``reset`` anywhere else. One parser reads one answer to one GET: the client sends no request on a
connection before the previous answer is complete (no pipelining), so bytes after an answer are
left in ``leftover`` and the connection, which can no longer be trusted, is not reused.

Framing follows RFC 9112 section 6.3 for the answer to a GET: 1xx, 204 and 304 have no body;
``Transfer-Encoding`` with ``chunked`` last is chunked (extensions ignored, trailers read and
dropped), any other transfer coding is read to the close; else ``Content-Length`` (identical
duplicates allowed, as RFC 9110 section 8.6 lets a recipient do); else the body is read to the close.
Lines end in CRLF: a bare LF, which RFC 9112 lets a recipient accept, is refused, as the request
parser refuses it (the house rule, SPEC U20.1).
The hot path is one ``find`` for the end of the head, one latin-1 decode and one regular expression
over the whole head, as in the request parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netrosetta.fetching import BAD_RESPONSE, RESET, TOO_LARGE
from netrosetta.rules import (
    BARE_LF,
    BODY,
    CHUNK_DATA,
    CHUNK_END,
    CHUNK_SIZE,
    CHUNK_SIZE_LINE,
    CRLF,
    DIGITS,
    DONE,
    FIELD_LINE,
    FIELD_LINES,
    FIELD_VALUE,
    HEAD,
    HEAD_END,
    MAX_CHUNK_LINE,
    TRAILERS,
    EndOfMessage,
    Refused,
)

# A head (status line and fields) larger than this is not an answer we will buffer: nginx's
# largest proxy_buffer_size setting in common use is 64k, and no sane server sends more.
MAX_HEAD = 64 * 1024

# HTTP-version SP status-code [SP reason-phrase]: the reason may be empty, and some servers leave out
# the space before an empty one (Twisted's client accepts that too). Only HTTP/1.x is read. A
# reason phrase has a field value's characters.
_STATUS_LINE = r"HTTP/1\.([0-9]) ([0-9]{3})(?: (" + FIELD_VALUE + "))?"
STATUS_LINE = re.compile(_STATUS_LINE)
HEAD_SECTION = re.compile(_STATUS_LINE + "((?:\r\n" + FIELD_LINE.pattern + ")*)")

_FRAMING = frozenset(("content-length", "transfer-encoding", "connection"))
# No body whatever the head says (RFC 9112 6.3, point 1), for the answer to a GET.
NO_BODY = frozenset((204, 304))

# The request parser's states, and one a request never has: a body that ends when the connection does.
UNTIL_CLOSE = DONE + 1


@dataclass(slots=True)
class Response:
    """A final answer's head; ``headers`` are (name, value) str pairs as received (latin-1)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    # May the connection carry the next request once this answer's body is read?
    keep_alive: bool


@dataclass(slots=True)
class Data:
    """Body bytes (a view of the bytes received: hash or count them before the next feed)."""

    data: memoryview


@dataclass(slots=True)
class Error:
    """The answer is refused: ``kind`` is a fetch ERROR kind (bad-response, too-large, reset)."""

    kind: str
    reason: str


Event = Response | Data | EndOfMessage | Error
_END = EndOfMessage()


class ResponseParser:
    """Parses the answer to one GET; ``feed`` bytes, get events; ``eof()`` when the peer closes."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.state = HEAD
        self._buffer = b""
        self._remaining = 0  # bytes left in a Content-Length body or in the current chunk
        self._body_size = 0  # body bytes so far (chunked, or read to close), against max_body
        self._keep_alive = True
        self.leftover = b""  # bytes that came after the answer: the connection is spoilt

    def feed(self, data: bytes) -> list[Event]:
        """Parse what ``data`` completes; return the events, in order (an Error is always last)."""
        if self.state == DONE:
            self.leftover += data
            return []
        buffer = self._buffer + data if self._buffer else data
        events: list[Event] = []
        try:
            position = self._parse(buffer, events)
        except Refused as refused:
            self.state = DONE
            self._buffer = b""
            events.append(Error(refused.code, refused.reason))
            return events
        if self.state == DONE:
            self.leftover = buffer[position:]
            self._buffer = b""
        else:
            self._buffer = buffer[position:] if position < len(buffer) else b""
        return events

    def eof(self) -> list[Event]:
        """The connection closed: the end of a body read to the close, a reset anywhere else."""
        state = self.state
        self.state = DONE
        if state == UNTIL_CLOSE:
            return [_END]
        if state == DONE:
            return []
        where = "before the head" if state == HEAD and not self._buffer else "mid-answer"
        return [Error(RESET, f"connection closed {where}")]

    def _parse(self, buffer: bytes, events: list[Event]) -> int:
        """Consume complete pieces of ``buffer``; return where parsing stopped."""
        position = 0
        end = len(buffer)
        view = None
        while position < end:
            state = self.state
            if state == BODY or state == CHUNK_DATA or state == UNTIL_CLOSE:
                size = end - position if state == UNTIL_CLOSE else min(self._remaining, end - position)
                if view is None:
                    view = memoryview(buffer)
                events.append(Data(view[position:position + size]))
                position += size
                if state == UNTIL_CLOSE:
                    self._body_size += size
                    if self._body_size > self.max_body:
                        raise Refused(TOO_LARGE, f"body over {self.max_body} bytes")
                    continue
                self._remaining -= size
                if not self._remaining:
                    if state == BODY:
                        self._end(events)
                    else:
                        self.state = CHUNK_END
            elif state == HEAD:
                head_end = buffer.find(HEAD_END, position)
                if head_end == -1:
                    if end - position > MAX_HEAD:
                        raise Refused(BAD_RESPONSE, f"head over {MAX_HEAD} bytes")
                    if not _could_start_status_line(buffer[position:position + 12]):
                        raise Refused(BAD_RESPONSE, "malformed status line")
                    if BARE_LF.search(buffer, position):
                        # A line ending in LF alone: the blank line we wait for would never come.
                        raise Refused(BAD_RESPONSE, "bare LF in the head")
                    return position
                self._head(buffer[position:head_end].decode("latin-1"), events)
                position = head_end + 4
            elif state == CHUNK_SIZE_LINE:
                line_end = buffer.find(CRLF, position)
                if line_end == -1:
                    if end - position > MAX_CHUNK_LINE:
                        raise Refused(BAD_RESPONSE, "chunk size line too long")
                    return position
                match = CHUNK_SIZE.fullmatch(buffer, position, line_end)
                if match is None:
                    raise Refused(BAD_RESPONSE, "bad chunk size")
                size = int(match.group(1), 16)
                self._body_size += size
                if self._body_size > self.max_body:
                    raise Refused(TOO_LARGE, f"chunked body over {self.max_body} bytes")
                position = line_end + 2
                if size:
                    self._remaining = size
                    self.state = CHUNK_DATA
                else:
                    self.state = TRAILERS
            elif state == CHUNK_END:
                if end - position < 2:
                    if buffer[position] != 13:  # b"\r"
                        raise Refused(BAD_RESPONSE, "chunk data not followed by CRLF")
                    return position
                if not buffer.startswith(CRLF, position):
                    raise Refused(BAD_RESPONSE, "chunk data not followed by CRLF")
                position += 2
                self.state = CHUNK_SIZE_LINE
            elif state == TRAILERS:
                if buffer.startswith(CRLF, position):
                    self._end(events)
                    position += 2
                    continue
                trailers_end = buffer.find(HEAD_END, position)
                if trailers_end == -1:
                    if end - position > MAX_HEAD:
                        raise Refused(BAD_RESPONSE, f"trailer section over {MAX_HEAD} bytes")
                    return position
                if FIELD_LINES.fullmatch(buffer[position:trailers_end].decode("latin-1")) is None:
                    raise Refused(BAD_RESPONSE, "malformed trailer section")
                self._end(events)
                position = trailers_end + 4
            else:  # DONE: what follows the answer is not ours to parse
                return position
        return position

    def _head(self, head: str, events: list[Event]) -> None:
        """Check a complete head; emit the final answer's Response and set up reading its body."""
        match = HEAD_SECTION.fullmatch(head)
        if match is None:
            if STATUS_LINE.fullmatch(head.partition("\r\n")[0]) is None:
                raise Refused(BAD_RESPONSE, "malformed status line")
            raise Refused(BAD_RESPONSE, "malformed header section")
        minor, code, reason, fields = match.groups()
        status = int(code)
        if status < 200:
            if status == 101:
                raise Refused(BAD_RESPONSE, "101 Switching Protocols, which was never asked for")
            return  # an interim answer (100 Continue, 103 Early Hints): the final one follows
        headers: list[tuple[str, str]] = []
        lengths: list[str] = []
        codings = connection = None
        if fields:
            for line in fields[2:].split("\r\n"):
                name, _, value = line.partition(":")
                value = value.strip(" \t")
                headers.append((name, value))
                lower = name.lower()
                if lower in _FRAMING:
                    if lower == "content-length":
                        lengths += value.split(",")
                    elif lower == "transfer-encoding":
                        codings = value if codings is None else codings + "," + value
                    else:
                        connection = value if connection is None else connection + "," + value
        if connection is None:
            keep_alive = minor != "0"
        else:
            tokens = {token.strip(" \t").lower() for token in connection.split(",")}
            keep_alive = "close" not in tokens and (minor != "0" or "keep-alive" in tokens)
        if status in NO_BODY:
            self._keep_alive = keep_alive
            events.append(Response(status, reason or "", headers, keep_alive))
            self._end(events)
            return
        if codings is not None:
            # Transfer-Encoding wins over any Content-Length (RFC 9112 6.3, point 3), and a message
            # that carried both may have been smuggled: the connection is not reused after it.
            last = codings.rsplit(",", 1)[-1].split(";", 1)[0].strip(" \t").lower()
            keep_alive = keep_alive and not lengths and last == "chunked"
            self.state = CHUNK_SIZE_LINE if last == "chunked" else UNTIL_CLOSE
        elif lengths:
            values = {value.strip(" \t") for value in lengths}
            if len(values) != 1:
                raise Refused(BAD_RESPONSE, "differing Content-Length values")
            value = values.pop()
            if DIGITS.fullmatch(value) is None:
                raise Refused(BAD_RESPONSE, "Content-Length is not a number")
            length = int(value)
            if length > self.max_body:
                raise Refused(TOO_LARGE, f"Content-Length {length} over {self.max_body} bytes")
            self._remaining = length
            self.state = BODY
        else:
            keep_alive = False
            self.state = UNTIL_CLOSE
        self._keep_alive = keep_alive
        events.append(Response(status, reason or "", headers, keep_alive))
        if self.state == BODY and not self._remaining:
            self._end(events)

    def _end(self, events: list[Event]) -> None:
        events.append(_END)
        self.state = DONE


_PREFIX = b"HTTP/1."
_STATUS_PREFIX = re.compile(rb"HTTP/1\.[0-9]?(?: [0-9]{0,3})?")


def _could_start_status_line(start: bytes) -> bool:
    """Can these first bytes (up to 12) still grow into a status line? Garbage is refused at once,
    not left waiting for a blank line that may never come."""
    if len(start) <= len(_PREFIX):
        return _PREFIX.startswith(start)
    return _STATUS_PREFIX.fullmatch(start) is not None
