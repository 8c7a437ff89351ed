"""Broken fetch client: it ignores --concurrency and starts every URL at once.

The flaw: no cap, so 100 URLs open 100 connections at once (and, none being idle yet, keep-alive
saves none of them). Everything else (order, framing, keep-alive, retries, timeouts) is correct.
"""

from _fetch import FetchClient, main


class UncappedFetchClient(FetchClient):
    """A client whose semaphore lets everyone through."""

    def cap(self) -> int:
        # THE FLAW: at most --concurrency connections may be open at once.
        return 1_000_000


if __name__ == "__main__":
    main(UncappedFetchClient)
