"""Broken echo: blocking and iterative, it serves one client at a time (the tutorial server).

The flaw: while one client is connected, every other waits in the listen backlog. Each client on
its own gets a correct echo (blocking sendall is its backpressure; EOF ends its turn).
"""

import socket

from _contract import listen, parse_args, ready, stop_on_signals


def serve_one(conn: socket.socket) -> None:
    """Echo one client until it shuts down its sending side (or resets)."""
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass


def main() -> None:
    args = parse_args("echo")
    stop_on_signals()
    sock = listen(args.host, args.ports[0])
    ready([sock])
    while True:  # THE FLAW: the next client is accepted only when this one is done
        conn, _ = sock.accept()
        serve_one(conn)


if __name__ == "__main__":
    main()
