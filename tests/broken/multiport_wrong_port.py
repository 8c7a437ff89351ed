"""Broken multiport: every connection is tagged with the first port, whichever port accepted it.

The flaw: one tag computed at start-up, as if the server had been written for one port and then
given several. Answers on the first port are right; on the others the tag is wrong. Everything
else is correct.
"""

from _contract import TaggedLineProtocol, parse_args, serve_asyncio

if __name__ == "__main__":
    args = parse_args("multiport")
    first_port: list[int] = []

    def factory(sock):
        first_port.append(sock.getsockname()[1])
        # THE FLAW: the tag should be this listener's port, sock.getsockname()[1].
        return lambda: TaggedLineProtocol(first_port[0])

    serve_asyncio(args, factory)
