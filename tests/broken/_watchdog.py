"""The flaw shared by the ``*_drops_on_stall`` servers: a watchdog that takes a stalled loop for a
wedged server and drops every connection.

It ticks every TICK seconds and measures how late each tick runs. When a tick is more than
STALL_LIMIT late, it concludes the server is overloaded and sheds load by aborting every
connection. But a loop runs late for reasons that are no fault of the connections: the process
was stopped (SIGSTOP, a debugger, a paused VM) or starved of CPU, and its clients did nothing
wrong (SPEC E11, M15, U19.5).
"""

import asyncio

from _contract import Tracked

TICK = 0.1
# Far beyond any lag of a loop that runs, even on a loaded machine; well under the suite's 2 s stop.
STALL_LIMIT = 1.2


def start_watchdog() -> None:
    """Tick on the running loop, aborting every connection when a tick comes too late."""
    loop = asyncio.get_running_loop()

    def tick(due: float) -> None:
        if loop.time() - due > STALL_LIMIT:
            # THE FLAW: a late loop is not a reason to drop the clients; just go on serving them.
            for transport in list(Tracked.transports):
                transport.abort()
        loop.call_at(loop.time() + TICK, tick, loop.time() + TICK)

    loop.call_at(loop.time() + TICK, tick, loop.time() + TICK)
