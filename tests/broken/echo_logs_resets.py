"""Broken echo: every connection reset by its client is logged with a full traceback.

The flaw: ``connection_lost`` logs its exception with ``logging.exception``, so each client that
resets costs a dozen lines of stderr; a thousand abrupt clients fill the log (SPEC E12).
The echo itself is correct.
"""

import logging

from _contract import EchoProtocol, parse_args, serve_asyncio

log = logging.getLogger("echo")


class LoudEchoProtocol(EchoProtocol):
    """Correct echo that reports every reset as an error, traceback and all."""

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            try:
                raise exc
            except OSError:
                # THE FLAW: a client that resets is ordinary; at most a line, never a traceback.
                log.exception("connection lost")
        super().connection_lost(exc)


if __name__ == "__main__":
    args = parse_args("echo")
    logging.basicConfig(level=logging.CRITICAL + 1 if args.quiet else logging.INFO)
    serve_asyncio(args, lambda sock: LoudEchoProtocol)
