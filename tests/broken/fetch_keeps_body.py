"""Broken fetch client: it keeps every answer's body in memory, and checks --max-body at the end.

The flaw: what readBody-style code does. The line is still right (ERROR too-large), but a 256 MiB
answer swells the process to 256 MiB first. Everything else is correct.
"""

from _fetch import FetchClient, main


class BufferingFetchClient(FetchClient):
    """A client that collects the body, then measures it."""

    def new_body(self) -> bytearray:
        return bytearray()

    def add_body(self, body: bytearray, data: bytes) -> int:
        # THE FLAW: the body must be counted as it comes and refused past --max-body, not kept.
        body += data
        return 0

    def body_length(self, body: bytearray) -> int:
        return len(body)


if __name__ == "__main__":
    main(BufferingFetchClient)
