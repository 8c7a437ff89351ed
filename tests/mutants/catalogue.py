# ruff: noqa: E501  (each snippet is quoted whole, as it stands in its file)
"""The planted bugs of ``make mutants`` (tests/mutants/run.py): realistic ones, one snippet each.

Each mutant names the file, the exact snippet it replaces (it must occur once), the replacement,
the variant and behaviour whose clauses should catch it, and in one line the bug it stands for.
A mutant the suite cannot catch because it changes nothing observable is marked ``equivalent``
with the reason; any other survivor is a hole in the suite, to be answered with a new test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One planted bug."""

    id: str
    file: str
    old: str
    new: str
    variant: str
    behaviour: str
    why: str
    select: str = ""  # a pytest -k expression, where the behaviour's clauses are more than needed
    equivalent: str = ""  # why no black-box test can see it, if that is so

    @property
    def tests(self) -> str:
        """The conformance files to run, as a glob under conformance/."""
        return f"test_{self.behaviour}*.py"


MUTANTS: list[Mutant] = [
    # -- impl_raw echo -------------------------------------------------------------------------
    Mutant("raw-echo-half-close-drops-queue", "impl_raw/echo.py",
           "            if not self.outgoing:\n                self.close()  # else flush closes",
           "            if True:\n                self.close()  # else flush closes",
           "raw", "echo", "closes at the client's EOF even with bytes still queued"),
    Mutant("raw-echo-partial-send-tail", "impl_raw/echo.py",
           "self.outgoing += data[sent:]", "self.outgoing += data[sent + 1:]",
           "raw", "echo", "off by one in the unsent tail of a partial send"),
    Mutant("raw-echo-no-write-interest", "impl_raw/echo.py",
           "            self.loop.add_writer(self.sock, self.flush)\n",
           "            pass\n",
           "raw", "echo", "queues the unsent tail but never asks to be woken when writable"),
    Mutant("raw-echo-no-backpressure", "impl_raw/echo.py",
           "if len(self.outgoing) >= HIGH_WATER:", "if len(self.outgoing) >= HIGH_WATER * 1024:",
           "raw", "echo", "never stops reading from a client that does not read"),
    Mutant("raw-echo-no-resume", "impl_raw/echo.py",
           "            self.reading = True\n            self.loop.add_reader(self.sock, self.on_readable)",
           "            self.reading = True",
           "raw", "echo", "pauses a slow reader and never resumes reading from it"),
    Mutant("raw-echo-leaks-fd-on-reset", "impl_raw/echo.py",
           "            self.close()  # reset by the peer: nothing more can be delivered",
           "            self.loop.forget(self.sock)  # reset by the peer\n"
           "            self.loop.__dict__.setdefault('reset', []).append(self.sock)",
           "raw", "echo", "keeps a reset connection's socket open (a leaked descriptor)"),
    Mutant("raw-echo-order", "impl_raw/echo.py",
           "            self.outgoing += data\n",
           "            self.outgoing[:0] = data\n",
           "raw", "echo", "new bytes jump the queue ahead of older unsent ones"),
    # -- impl_raw multiport --------------------------------------------------------------------
    Mutant("raw-multiport-keeps-cr", "impl_raw/multiport.py",
           'if line.endswith(b"\\r"):', 'if line.endswith(b"\\r\\r"):',
           "raw", "multiport", "does not drop the CR of a CRLF line ending"),
    Mutant("raw-multiport-drops-tail", "impl_raw/multiport.py",
           "                if self.incoming:\n                    self.line_received(bytes(self.incoming))",
           "                if False:\n                    self.line_received(bytes(self.incoming))",
           "raw", "multiport", "drops an unterminated last line at EOF"),
    Mutant("raw-multiport-line-limit-off-by-one", "impl_raw/multiport.py",
           "if len(line) > MAX_LINE:", "if len(line) >= MAX_LINE:",
           "raw", "multiport", "refuses a line of exactly 64 KiB"),
    Mutant("raw-multiport-unbounded-partial", "impl_raw/multiport.py",
           "if len(self.incoming) > MAX_LINE + 1:", "if len(self.incoming) > 64 * MAX_LINE:",
           "raw", "multiport", "lets an unterminated line grow far past the limit before refusing"),
    Mutant("raw-multiport-shared-tag", "impl_raw/multiport.py",
           'self.tag = b"%d " % sock.getsockname()[1]', 'self.tag = b"%d " % sock.getpeername()[1]',
           "raw", "multiport", "tags lines with the client's port instead of the local one"),
    Mutant("raw-multiport-no-newline", "impl_raw/multiport.py",
           'self.outgoing += self.tag + line + b"\\n"', "self.outgoing += self.tag + line",
           "raw", "multiport", "forgets the LF after each answer"),
    # -- impl_raw loop ---------------------------------------------------------------------------
    Mutant("raw-loop-timer-order", "impl_raw/loop.py",
           "while self._timers and self._timers[0][0] <= now:",
           "while self._timers and self._timers[0][0] <= now - 5:",
           "raw", "urlecho", "timers fire five seconds late", select="U18"),
    Mutant("raw-loop-write-events-ignored", "impl_raw/loop.py",
           "                if events & ~READ and callbacks[1] is not None:",
           "                if events & WRITE and events & READ and callbacks[1] is not None:",
           "raw", "echo", "a socket that is only writable never gets its write callback"),
    Mutant("raw-loop-emfile-crash", "impl_raw/loop.py",
           "                if error.errno in (errno.EMFILE, errno.ENFILE):",
           "                if error.errno in (errno.ENFILE,):",
           "raw", "echo", "out of descriptors, the accept handler raises and the server dies",
           equivalent="no clause runs the server out of descriptors yet (issue 16 item 1)"),
    # -- impl_raw urlecho ------------------------------------------------------------------------
    Mutant("raw-urlecho-no-linger", "impl_raw/urlecho.py",
           "        self.loop.add_reader(self.sock, self.on_lingering_readable)\n        self.arm(LINGER_TIMEOUT, self.close)",
           "        self.close()",
           "raw", "urlecho", "closes with unread input after an error: the client gets a reset",
           equivalent="on loopback the answer has left the server before the reset, so the client "
                      "reads it; only a full receive window or a slow link shows the loss"),
    Mutant("raw-urlecho-header-deadline-reset", "impl_raw/urlecho.py",
           "        if phase == self.phase:\n            return  # deadlines are absolute",
           "        if phase == self.phase and phase[0] != \"head\":\n            return  # deadlines are absolute",
           "raw", "urlecho", "every byte of a head pushes its deadline back (slowloris)", select="U18"),
    Mutant("raw-urlecho-no-continue", "impl_raw/urlecho.py",
           "        if continue_owed:\n            self.outgoing += CONTINUE",
           "        if False:\n            self.outgoing += CONTINUE",
           "raw", "urlecho", "never sends 100 Continue"),
    Mutant("raw-urlecho-keeps-reading-after-close", "impl_raw/urlecho.py",
           "        if not request.keep_alive:\n            self.stop_reading()",
           "        if False:\n            self.stop_reading()",
           "raw", "urlecho", "goes on serving after a request that said Connection: close"),
    Mutant("raw-urlecho-no-pause", "impl_raw/urlecho.py",
           "if len(self.outgoing) >= HIGH_WATER and not self.closing",
           "if len(self.outgoing) >= 1000 * HIGH_WATER and not self.closing",
           "raw", "urlecho", "never stops reading from a pipelining client that does not read",
           equivalent="no clause pipelines megabytes of requests at a client that never reads"),
    # -- the HTTP rules (netrosetta/rules.py), through impl_raw ---------------------------------
    Mutant("rules-duplicate-host", "netrosetta/rules.py",
           "if hosts > 1 or (http11 and not hosts):", "if http11 and not hosts:",
           "raw", "urlecho", "accepts several Host lines"),
    Mutant("rules-cl-te", "netrosetta/rules.py",
           '            if content_length is not None:\n                raise Refused(400, "both Content-Length and Transfer-Encoding")',
           '            if False:\n                raise Refused(400, "both Content-Length and Transfer-Encoding")',
           "raw", "urlecho", "lets chunked framing win over a Content-Length (request smuggling)"),
    Mutant("rules-target-limit-off-by-one", "netrosetta/rules.py",
           "        if len(target) > self.max_target:\n            raise Refused(414, f\"request target over {self.max_target} bytes\")\n        if major",
           "        if len(target) >= self.max_target:\n            raise Refused(414, f\"request target over {self.max_target} bytes\")\n        if major",
           "raw", "urlecho", "refuses a target of exactly --max-target bytes"),
    Mutant("rules-body-limit-off-by-one", "netrosetta/rules.py",
           "            if length > self.max_body:", "            if length >= self.max_body:",
           "raw", "urlecho", "refuses a body of exactly --max-body bytes"),
    Mutant("rules-chunk-crlf", "netrosetta/rules.py",
           '                if not buffer.startswith(_CRLF, position):\n                    raise Refused(400, "chunk data not followed by CRLF")',
           '                if False:\n                    raise Refused(400, "chunk data not followed by CRLF")',
           "raw", "urlecho", "does not check the CRLF after a chunk's data"),
    Mutant("rules-obs-fold", "netrosetta/rules.py",
           '_FIELD_LINE = _TOKEN + r"+:[^\\x00-\\x08\\x0a-\\x1f\\x7f]*"',
           '_FIELD_LINE = "[ \\t]?" + _TOKEN + r"+:[^\\x00-\\x08\\x0a-\\x1f\\x7f]*"',
           "raw", "urlecho", "accepts a header line that starts with whitespace (obs-fold)"),
    Mutant("rules-http10-keepalive", "netrosetta/rules.py",
           'keep_alive = "close" not in tokens and (http11 or "keep-alive" in tokens)',
           'keep_alive = "close" not in tokens',
           "raw", "urlecho", "keeps an HTTP/1.0 connection open for any Connection header"),
    Mutant("rules-major-version", "netrosetta/rules.py",
           "        if major != \"1\" and int(major) != 1:\n            raise Refused(505, \"only HTTP/1.x is served\")\n        if method == \"CONNECT\" or",
           "        if int(major) > 2:\n            raise Refused(505, \"only HTTP/1.x is served\")\n        if method == \"CONNECT\" or",
           "raw", "urlecho", "serves HTTP/2.0 and HTTP/0.9 requests as HTTP/1.x"),
    Mutant("rules-connect", "netrosetta/rules.py",
           '        if method == "CONNECT":\n            raise Refused(405',
           '        if method == "CONNECT " :\n            raise Refused(405',
           "raw", "urlecho", "answers CONNECT like any other method"),
    Mutant("rules-chunked-max-body", "netrosetta/rules.py",
           "                if self._body_size > self.max_body:",
           "                if size > self.max_body:",
           "raw", "urlecho", "checks each chunk against --max-body, not the body's total"),
    Mutant("rules-bare-lf-in-section", "netrosetta/rules.py",
           "BARE_LF = re.compile(rb\"(?<!\\r)\\n\")", "BARE_LF = re.compile(rb\"(?<!\\r)\\n\\n\")",
           "raw", "urlecho", "misses a bare LF inside a header section until the head ends, or never"),
    Mutant("rules-empty-host-refused", "netrosetta/rules.py",
           'HOST = re.compile(r"(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9\\-._~]*)(?::[0-9]*)?")',
           'HOST = re.compile(r"(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9\\-._~]+)(?::[0-9]+)?")',
           "raw", "urlecho", "refuses an empty Host or an empty port (house rule U20.5)"),
    Mutant("rules-phrase", "netrosetta/rules.py",
           '414: "URI Too Long",', '414: "Request-URI Too Long",',
           "raw", "urlecho", "an outdated reason phrase in the error answers (house rule U20.6)"),
    # -- what every URL echo answers (netrosetta/answer.py) --------------------------------------
    Mutant("answer-json-q0", "netrosetta/answer.py",
           "                if float(q) > 0:", "                if float(q) >= 0:",
           "raw", "urlecho", "answers JSON to an Accept that lists it with q=0"),
    Mutant("answer-query-split", "netrosetta/answer.py",
           'path, question, query = target.partition("?")', 'path, question, query = target.rpartition("?")',
           "raw", "urlecho", "splits path and query at the last ? instead of the first"),
    Mutant("answer-header-order", "netrosetta/answer.py",
           "    return [[name, value] for name, values in groups.items() for value in values]",
           "    return [[name, value] for name, values in sorted(groups.items()) for value in values]",
           "raw", "urlecho", "sorts the JSON's header pairs instead of keeping their order"),
    # -- the launch contract (netrosetta/launch.py) ----------------------------------------------
    Mutant("launch-port-range", "netrosetta/launch.py",
           "    if not 0 <= port <= 65535:", "    if not 0 <= port <= 65536:",
           "raw", "launch", "accepts port 65536"),
    Mutant("launch-stdout-unflushed", "netrosetta/launch.py",
           '    sys.stdout.write(line + "\\n")\n    sys.stdout.flush()',
           '    sys.stdout.write(line + "\\n")',
           "raw", "launch", "does not flush the READY line"),
    Mutant("launch-fd-limit", "netrosetta/launch.py",
           "    if soft != hard:\n        resource.setrlimit",
           "    if False:\n        resource.setrlimit",
           "raw", "launch", "never raises its open-file soft limit"),
]
