"""Broken launch: READY goes out before the signal handlers are in place.

The flaw: the server announces READY as soon as it listens, then spends a moment starting up
(a cache to load, say) before it installs its SIGINT and SIGTERM handlers, so a supervisor that
stops it the moment it reads READY kills it with the signal's default action instead of a clean
exit 0 (SPEC L11). Every behaviour is served correctly; a signal once it runs stops it cleanly.
"""

import asyncio
import signal
import time

from _contract import Tracked, correct_factory, listen, parse_any, ready, start_serving

START_UP = 0.3  # seconds of start-up work between READY and the handlers


def main() -> None:
    args = parse_any()
    factory = correct_factory(args)
    socks = [listen(args.host, port) for port in args.ports]

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        servers = await start_serving(args, socks, factory)
        ready(socks)
        time.sleep(START_UP)  # THE FLAW: READY must come after the handlers, not before them
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        for server in servers:
            server.close()
        for transport in list(Tracked.transports):
            transport.abort()

    asyncio.run(serve())
    raise SystemExit(0)


if __name__ == "__main__":
    main()
