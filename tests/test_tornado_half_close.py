"""impl_tornado's hardening keeps a half-closing client's answer when the EOF meets a pending read.

U17.1 through the re-cutting proxy lost the answer now and then: IOStream reads on past the end of
a head (it looks for the delimiter again only when its buffer has doubled), so a FIN right behind
the head's last piece reached GuardedStream.read_from_fd while the head read was still pending.
Tiny reads (``chunk_size``) make that happen on every run, without the proxy's timing.
"""

from __future__ import annotations

import asyncio

import pytest
from tornado.netutil import bind_sockets
from tornado.web import Application

from impl_tornado.hardening import hardened_server
from impl_tornado.urlecho import UrlEchoHandler
from netrosetta.launch import Config


async def half_close(raw: bytes, chunk_size: int) -> bytes:
    """Send ``raw`` and a FIN at once to an in-process hardened server: every byte it answers."""
    config = Config(impl="tornado", behaviour="urlecho", quiet=True)
    sockets = bind_sockets(0, "127.0.0.1")
    server = hardened_server(Application([(r".*", UrlEchoHandler)], log_function=lambda handler: None),
                             config, chunk_size=chunk_size)
    server.add_sockets(sockets)
    try:
        reader, writer = await asyncio.open_connection(*sockets[0].getsockname()[:2])
        writer.write(raw)
        writer.write_eof()  # before the server's first read: it finds the request and the FIN together
        try:
            return await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
    finally:
        server.stop()
        await server.close_all_connections()


@pytest.mark.parametrize("chunk_size", [8, 16, 64 * 1024])
def test_answer_survives_an_eof_read_with_the_head(chunk_size: int) -> None:
    head = b"GET /half HTTP/1.1\r\nHost: x\r\n\r\n"
    got = asyncio.run(half_close(head, chunk_size))
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"\r\n\r\n/half"), got
