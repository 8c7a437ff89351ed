"""A fault-injecting TCP proxy: between the suite and a server, it re-cuts the byte stream both ways.

A server must not depend on how TCP happens to segment what it receives: a request may arrive a
byte at a time, cut between its CR and its LF, glued to the next one, or after a pause. Most tests
send each message in one write on a quiet loopback, where it usually arrives in one piece, so a
parser that only works on whole messages passes them. Through this proxy, every clause sees other
cuts: the ``*-proxy`` columns of the matrix (``make test`` runs the smoke subset that way, ``make
test-full`` every E, M and U clause), and nothing may change but the timing.

For each accepted client the proxy connects to the server and copies both directions in an
asyncio loop of its own, on a daemon thread of the suite's process. Each read is forwarded in
pieces chosen at random, per connection and reproducibly: single bytes, random sizes, a cut between
every CR and the LF after it, a short pause between pieces now and then; or, instead, glued to
what arrives in the next few milliseconds. Past the first 256 KiB of a direction, reads mostly go
through whole, so the bulk transfers (E7, M12) stay fast. Writes are drained before the next read
(backpressure), a half-close is passed on once everything before it has been, and a reset is
passed on as a reset, so the server sees its clients' ends as they happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import socket
import struct
import threading

READ_SIZE = 64 * 1024
FINE_CUTS = 256 * 1024  # bytes of each direction cut finely, before reads mostly go through whole
GLUE_WAIT = 0.003  # seconds a glued read waits for more
PAUSE = 0.002  # seconds of an occasional pause between pieces


def pieces(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` cut one of several ways (the glue case is the caller's: it reads more first)."""
    mode = rng.random()
    if mode < 0.2:
        return [data[i:i + 1] for i in range(min(len(data), 64))] + ([data[64:]] if len(data) > 64 else [])
    if mode < 0.45:
        # Between every CR and the LF after it: a parser that looks for CRLF in one read fails here.
        out, start = [], 0
        while (cr := data.find(b"\r\n", start)) != -1:
            out.append(data[start:cr + 1])
            start = cr + 1
        out.append(data[start:])
        return [piece for piece in out if piece]
    if mode < 0.8:
        out, start = [], 0
        while start < len(data):
            size = rng.choice([1, 2, 3, 7, 16, 100, 1000, len(data)])
            out.append(data[start:start + size])
            start += size
        return out
    return [data]


class Proxy:
    """One listening port forwarding to ``target``; ``address`` is where clients connect."""

    def __init__(self, target: tuple[str, int], seed: int = 0) -> None:
        self.target = target
        self.seeds = itertools.count(seed * 1_000_003)
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.connections: set[asyncio.Task] = set()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"proxy to {target}")
        self.thread.start()
        self.started.wait(10)
        self.address: tuple[str, int] = self._address

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024))
        self._address = self.server.sockets[0].getsockname()[:2]
        self.started.set()
        self.loop.run_forever()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections.add(task)
        rng = random.Random(next(self.seeds))
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target, limit=READ_SIZE)
        except OSError:
            reset(client_writer)
            self.connections.discard(task)
            return
        for writer in (client_writer, server_writer):
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(
                copy(client_reader, server_writer, client_writer, random.Random(rng.random())),
                copy(server_reader, client_writer, server_writer, random.Random(rng.random())),
                return_exceptions=True)
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            self.connections.discard(task)

    def close(self) -> None:
        """Stop listening and drop every connection (the server behind is gone)."""

        def stop() -> None:
            self.server.close()
            for task in list(self.connections):
                task.cancel()
            self.loop.call_later(0.1, self.loop.stop)

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(stop)
            self.thread.join(5)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, as the peer on the other side did."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               reader_writer: asyncio.StreamWriter, rng: random.Random) -> None:
    """Forward one direction, re-cut, until EOF (passed on as a half-close) or a reset (passed on as a
    reset, to the writer's side and back to the reader's)."""
    forwarded = 0
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                if writer.can_write_eof() and not writer.is_closing():
                    writer.write_eof()
                return
            if forwarded < FINE_CUTS and rng.random() < 0.15:
                # Glue: what arrives in the next few milliseconds goes with it, in one write.
                with contextlib.suppress(asyncio.TimeoutError):
                    # At EOF this is b"", and the next read returns it again.
                    data += await asyncio.wait_for(reader.read(READ_SIZE), GLUE_WAIT)
            cut = pieces(data, rng) if forwarded < FINE_CUTS else [data]
            for piece in cut:
                writer.write(piece)
                await writer.drain()
                if len(cut) > 1 and rng.random() < 0.05:
                    await asyncio.sleep(PAUSE)
            forwarded += len(data)
    except (ConnectionError, OSError, RuntimeError):
        reset(writer)
        reset(reader_writer)
