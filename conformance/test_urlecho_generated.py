"""Clauses U1.4 and U8.3 of SPEC.md (URL echo: generated heads), from outside.

Request heads are generated from the grammar (hypothesis), valid ones and ones with exactly one
fault, and each answer is checked against what the suite itself expects of that head: the oracle
is how the head was built (which clause its one fault breaks), never a parser of the project's.
The examples are the same in every run (``derandomize``): in ``make test`` 25 valid heads and 12
of each kind of fault, 200 and 100 under ``--full``. Every head goes to the one server the test is
given, on a connection of its own.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from netrosetta_conformance.harness import failure
from netrosetta_conformance.http_client import NoResponse, answer_of, expect_error, request

pytestmark = pytest.mark.behaviour("urlecho")

AFTER = request("GET", "/after-the-bad-one")  # must never be answered
EXAMPLES, EXAMPLES_FULL = 25, 200
# U8.3: each example is a head with each kind of fault, so every kind is tried in every run.
FAULTY_EXAMPLES, FAULTY_EXAMPLES_FULL = 12, 100

TOKEN = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
VISIBLE = "".join(map(chr, range(0x21, 0x7F)))
OBS_TEXT = "".join(map(chr, range(0x80, 0x100)))
# Fields that change framing, the connection or the answer: the generated ones leave them out.
RESERVED = {"host", "accept", "content-length", "transfer-encoding", "connection", "expect", "upgrade",
            "te", "trailer", "keep-alive", "proxy-connection", "http2-settings"}


@dataclass
class Head:
    """A request head as its parts; ``fields`` are (name, value as sent, with its whitespace)."""

    method: str
    target: str
    version: str
    fields: list[tuple[str, str]]

    def raw(self) -> bytes:
        lines = [f"{self.method} {self.target} {self.version}"] + [f"{n}:{v}" for n, v in self.fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def expected_json(self) -> dict:
        """The JSON answer U1.4 and U3 ask for: names lowercased, grouped in order of first
        appearance, values without their optional whitespace."""
        path, question, query = self.target.partition("?")
        groups: dict[str, list[str]] = {}
        for name, value in self.fields:
            groups.setdefault(name.lower(), []).append(value.strip(" \t"))
        return {"headers": [[name, value] for name, values in groups.items() for value in values],
                "method": self.method, "path": path, "query": query if question else None,
                "target": self.target, "version": self.version}


def any_case(name: str) -> st.SearchStrategy[str]:
    """``name`` with each letter in either case (one draw: a bit per letter)."""
    return st.integers(0, 2 ** len(name) - 1).map(
        lambda bits: "".join(c.upper() if bits >> i & 1 else c for i, c in enumerate(name)))


OWS = st.text(" \t", max_size=3)
FIELD = st.tuples(
    st.text(TOKEN, min_size=1, max_size=16).filter(lambda name: name.lower() not in RESERVED),
    OWS, st.text(VISIBLE + OBS_TEXT + " \t", max_size=24), OWS,
).map(lambda parts: (parts[0], parts[1] + parts[2] + parts[3]))


@st.composite
def valid_heads(draw: st.DrawFn) -> Head:
    """A head the grammar allows (SPEC U1.4), with one Host and an Accept that asks for JSON."""
    method = draw(st.text(TOKEN, min_size=1, max_size=12).filter(lambda m: m not in ("CONNECT", "HEAD")))
    target = "/" + draw(st.text(VISIBLE, max_size=30))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0"]))
    fields = draw(st.lists(FIELD, max_size=6))
    for name, value in (("host", "suite"), ("accept", "application/json")):
        spaced = draw(OWS) + value + draw(OWS)
        fields.insert(draw(st.integers(0, len(fields))), (draw(any_case(name)), spaced))
    return Head(method, target, version, fields)


# Bytes that are not token characters, for a header name (a colon would only move the name's end,
# and CR or LF end the line: those are other clauses').
NOT_TOKEN = [chr(b) for b in range(256) if chr(b) not in TOKEN and chr(b) not in ":\r\n"]
# Misspellings of HTTP/1.x that no grammar reads as a version (a second digit would be read as
# one by some: HTTP/11.1, HTTP/1.11).
VERSION_INSERTS = "X/ ."


FAULTS = ("name", "space", "version", "length")


@st.composite
def faulty_head(draw: st.DrawFn, fault: str) -> tuple[bytes, int, str]:
    """(a valid head with one fault of this kind, the status its clause names, the fault): SPEC U8.3."""
    head = draw(valid_heads())
    status = 400
    if fault == "name":  # U13.4 (or, at the start of a line, U13.5/U13.6: 400 all the same)
        index = draw(st.integers(0, len(head.fields) - 1))
        name, value = head.fields[index]
        at = draw(st.integers(0, len(name)))
        byte = draw(st.sampled_from(NOT_TOKEN))
        head.fields[index] = (name[:at] + byte + name[at:], value)
        what = f"{byte!r} in the name {name!r}"
    elif fault == "space":  # U13.1
        index = draw(st.integers(0, len(head.fields) - 1))
        name, value = head.fields[index]
        head.fields[index] = (name + draw(st.text(" \t", min_size=1, max_size=3)), value)
        what = f"whitespace between {name!r} and its colon"
    elif fault == "version":
        version = head.version
        how = draw(st.sampled_from(["drop", "lower", "insert", "major"]))
        if how == "drop":  # U8.2
            at = draw(st.integers(0, len(version) - 1))
            head.version = version[:at] + version[at + 1:]
        elif how == "lower":
            at = draw(st.integers(0, 3))
            head.version = version[:at] + version[at].lower() + version[at + 1:]
        elif how == "insert":
            at = draw(st.integers(0, len(version)))
            head.version = version[:at] + draw(st.sampled_from(VERSION_INSERTS)) + version[at:]
        else:  # U9.3
            major = draw(st.sampled_from("023456789"))
            head.version = f"HTTP/{major}.{draw(st.sampled_from(string.digits))}"
            status = 505
        what = f"version {head.version!r}"
    else:  # U15.1: a number in a shape other than all digits (a list's comma is U15.2's), or nothing
        digits = draw(st.text(string.digits, min_size=2, max_size=4))
        at = draw(st.integers(1, len(digits) - 1))
        value = draw(st.sampled_from([
            "", "+" + digits, "-" + digits, digits[:at] + "_" + digits[at:], "\xa0" + digits, digits + "\xa0",
            digits[:at] + "." + digits[at:], "0x" + digits, digits + "e1", digits + "a", "\x0b" + digits,
            digits[:at] + "/" + digits[at:]]))
        head.fields.insert(draw(st.integers(0, len(head.fields))), ("Content-Length", f" {value}"))
        what = f"Content-Length {value!r}"
    return head.raw(), status, what


def _settings(config: pytest.Config, examples: int = EXAMPLES, full: int = EXAMPLES_FULL) -> settings:
    return settings(max_examples=full if config.getoption("full") else examples, deadline=None,
                    derandomize=True, database=None, phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck), print_blob=False)


def test_U1_4_generated_valid_heads(server, request):
    """Every head the grammar allows is served, its JSON answer showing method, target, version and
    fields as sent (names lowercased, optional whitespace off)."""

    @_settings(request.config)
    @given(valid_heads())
    def check(head: Head) -> None:
        raw = head.raw()
        requirement = "U1.4 a generated valid head: 200 with its JSON"
        expected = json.dumps(head.expected_json(), sort_keys=True, separators=(",", ":")).encode("ascii")
        response, client = answer_of(server, raw, requirement)
        client.close()
        assert (response.status, response.body) == (200, expected), failure(
            requirement, raw, f"200 {expected!r}", response.summary())

    check()


def test_U8_3_generated_heads_with_one_fault(server, request):
    """A valid head with one fault (a non-token byte in a name, whitespace before a colon, a bad
    version, a Content-Length not all digits) gets the status of that fault's clause, then close."""

    @_settings(request.config, FAULTY_EXAMPLES, FAULTY_EXAMPLES_FULL)
    @given(st.tuples(*(faulty_head(fault) for fault in FAULTS)))
    def check(cases: tuple[tuple[bytes, int, str], ...]) -> None:
        for raw, status, what in cases:
            try:
                expect_error(server, raw, status, f"U8.3 a generated head with {what}: {status}, then close",
                             AFTER)
            except NoResponse as error:  # the server waited (a body it thinks it was promised, say)
                raise AssertionError(failure(f"U8.3 a generated head with {what}", raw, status,
                                             str(error))) from None

    check()
