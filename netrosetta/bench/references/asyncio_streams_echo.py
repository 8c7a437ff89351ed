"""Reference: the Python docs' "TCP echo server using streams" (asyncio.start_server), with --port
and a READY line.

The docs' handle_echo reads once (100 bytes), writes it back and closes; the benchmark keeps each
connection and sends binary messages, so this one loops: read up to 64 KiB, write, drain, until the
client closes — the same calls, on the stdlib loop.
Usage: python asyncio_streams_echo.py --port 0
"""

import argparse
import asyncio
import signal


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle_echo, "127.0.0.1", port, backlog=1024)
    print(f"READY 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set_result, None)
    await stop
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
