"""Reference fetch client for the benchmark: aiohttp's ClientSession on uvloop, the Python anchor.

``python aiohttp_fetch.py CONCURRENCY URLS_FILE``: GET every URL of the file (one a line), at most
CONCURRENCY connections (the connector's limit, its keep-alive pool), and print
``STATUS BODY-BYTES URL`` per URL in input order, as netrosetta's fetch does.
"""

import asyncio
import sys

import aiohttp
import uvloop


async def main(concurrency: int, urls: list[str]) -> None:
    lines: list[str | None] = [None] * len(urls)
    queue = iter(enumerate(urls))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def worker() -> None:
            for index, url in queue:
                async with session.get(url, allow_redirects=False) as response:
                    body = await response.read()
                lines[index] = f"{response.status} {len(body)} {url}\n"

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    sys.stdout.write("".join(lines))


if __name__ == "__main__":
    with open(sys.argv[2]) as file:
        wanted = [line.strip() for line in file if line.strip()]
    uvloop.run(main(int(sys.argv[1]), wanted))
