"""Broken launch: out of file descriptors, it tries to accept again at once, forever.

The flaw: its accept callback treats EMFILE like "no client waiting" and returns, but leaves the
listener watched; the listener stays readable while clients wait in its queue, so the loop calls
the callback again at once, and the process spins a core for as long as it has no descriptor to
spare (SPEC L12). It logs the episode once, serves the clients it has, and accepts again once
descriptors are free: only the spinning is wrong.
"""

import asyncio
import errno
import signal
import socket

from _contract import Tracked, correct_factory, listen, log, parse_any, ready


def main() -> None:
    args = parse_any()
    factory = correct_factory(args)
    socks = [listen(args.host, port) for port in args.ports]

    async def serve() -> None:
        loop = asyncio.get_running_loop()

        def on_acceptable(listener: socket.socket) -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    return
                except OSError as error:
                    if error.errno not in (errno.EMFILE, errno.ENFILE):
                        raise
                    if not Tracked.out_of_files:
                        Tracked.out_of_files = True
                        log(args, "out of file descriptors: new clients wait in the listen queue")
                    return  # THE FLAW: the listener must leave the loop for a moment, not stay watched
                conn.setblocking(False)
                loop.create_task(loop.connect_accepted_socket(factory(listener), conn))

        Tracked.args = args
        for sock in socks:
            sock.setblocking(False)
            loop.add_reader(sock, on_acceptable, sock)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        ready(socks)
        await stop.wait()
        for sock in socks:
            loop.remove_reader(sock)
            sock.close()
        for transport in list(Tracked.transports):
            transport.abort()

    asyncio.run(serve())
    raise SystemExit(0)


if __name__ == "__main__":
    main()
