"""netrosetta servers on raw sockets and the stdlib only: what the frameworks do for you, by hand."""

from __future__ import annotations

import socket
from collections.abc import Callable

from impl_raw.loop import EventLoop
from netrosetta.launch import Config, cannot_listen, ready, stop_on_signals
from netrosetta.registry import IMPLEMENTATIONS


def run_loop(config: Config, serve: Callable[[EventLoop, str, int, Config], socket.socket]) -> None:
    """Run impl_raw's loop: serve(loop, host, port, config) on every port, READY, then until a signal.

    The signal handlers go in before READY, and a stop that arrives before loop.run() is kept, so a
    supervisor may signal the server the moment it reads READY.
    """
    loop = EventLoop(config.loop)
    listeners = []
    for port in config.ports:
        try:
            listeners.append(serve(loop, config.host, port, config))
        except OSError as error:
            cannot_listen(config.host, port, error)
    stop_on_signals(loop.stop)
    ready([listener.getsockname()[:2] for listener in listeners])
    loop.run()
    loop.close()


# This package's entry in the one list of implementations (netrosetta/registry.py).
IMPLEMENTATION = IMPLEMENTATIONS["raw"]
