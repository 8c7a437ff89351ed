"""netrosetta servers written the Twisted way: protocols, factories, endpoints and twisted.web."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, FirstError, gatherResults
from twisted.internet.error import CannotListenError
from twisted.logger import FilteringLogObserver, PredicateResult, STDLibLogObserver, globalLogBeginner
from twisted.python.failure import Failure

from netrosetta.launch import Config, cannot_listen, ready
from netrosetta.registry import IMPLEMENTATIONS


def install_reactor(config: Config) -> None:
    """Install the reactor --loop asks for; it must happen before anything imports the reactor."""
    from twisted.internet import asyncioreactor, epollreactor, pollreactor, selectreactor

    installers = {
        "select": selectreactor.install,
        "poll": pollreactor.install,
        "epoll": epollreactor.install,
        "asyncio": asyncioreactor.install,
    }
    if config.loop in installers:
        installers[config.loop]()


# Out-of-descriptor events further apart than this begin a new episode, with a log line of its own.
EMFILE_EPISODE_GAP = 10.0


class OneLinePerEmfileEpisode:
    """A log predicate: of Twisted's EMFILE events, keep the first of each episode (SPEC L12).

    Out of descriptors, a listening Port frees a reserved descriptor, accepts every queued client
    and closes it at once (its EMFILE recovery), logging a line per client and two more per round:
    a flood of clients would be a flood of lines. The first line says what happens; the rest go.
    """

    def __init__(self) -> None:
        self.last = -EMFILE_EPISODE_GAP

    def __call__(self, event: dict) -> PredicateResult:
        text = event.get("log_format") or ""
        if "EMFILE" not in text and not text.startswith("Could not accept new connection"):
            return PredicateResult.maybe
        now = time.monotonic()
        first = now - self.last >= EMFILE_EPISODE_GAP
        self.last = now
        return PredicateResult.maybe if first else PredicateResult.no


def start_logging(config: Config) -> None:
    """Send Twisted's log events to the stdlib logging that launch.py set up (stderr, or none)."""
    # redirectStandardIO=False: stdout carries the READY line and nothing else.
    observer = FilteringLogObserver(STDLibLogObserver(), [OneLinePerEmfileEpisode()])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def prepare(config: Config) -> None:
    """Runs before the behaviour module is imported: pick the reactor, then start logging."""
    install_reactor(config)
    start_logging(config)


def run_loop(config: Config, serve: Callable[[Any, str, int, Config], Deferred]) -> None:
    """Run the reactor: serve(reactor, host, port, config) on every port, READY, then until a signal.

    The reactor installs its SIGINT and SIGTERM handlers (which stop it, so reactor.run() simply
    returns) as it starts running, so READY waits for callWhenRunning. A port that cannot listen
    exits 1, naming the first such address.
    """
    from twisted.internet import reactor  # only now: prepare() has installed the reactor --loop names

    refused: list[CannotListenError] = []

    def announce(ports: list[Any]) -> None:
        reactor.callWhenRunning(ready, [(config.host, port.getHost().port) for port in ports])

    def refuse(failure: Failure) -> None:
        if failure.check(FirstError):
            failure = failure.value.subFailure
        failure.trap(CannotListenError)
        refused.append(failure.value)
        if reactor.running:
            reactor.stop()

    listening = [serve(reactor, config.host, port, config) for port in config.ports]
    gatherResults(listening, consumeErrors=True).addCallbacks(announce, refuse)
    if not refused:  # TCP endpoints bind at once, so a refusal is usually known already
        reactor.run()
    if refused:
        cannot_listen(config.host, refused[0].port, refused[0].socketError)


# This package's entry in the one list of implementations (netrosetta/registry.py).
IMPLEMENTATION = IMPLEMENTATIONS["twisted"]
