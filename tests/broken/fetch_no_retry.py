"""Broken fetch client: it never retries a request on a reused connection the server closed.

The flaw: the keep-alive race (a server closing an idle connection just as the client sends on it)
becomes an ERROR reset instead of a retry on a new connection. Everything else is correct.
"""

from _fetch import FetchClient, main


class NoRetryFetchClient(FetchClient):
    """A client that gives up at the first closed connection."""

    # THE FLAW: a request that got no byte on a reused connection is retried once.
    retries = 0


if __name__ == "__main__":
    main(NoRetryFetchClient)
