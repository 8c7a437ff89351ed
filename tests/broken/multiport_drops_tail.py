"""Broken multiport: a final line without LF at EOF is never answered.

The flaw: at EOF the unterminated tail still in the buffer is thrown away. Everything else is
correct.
"""

from _contract import TaggedLineProtocol, parse_args, serve_asyncio


class TailDroppingLineProtocol(TaggedLineProtocol):
    """Tagged line echo that forgets the last, unterminated line."""

    def eof_received(self) -> bool:
        self.buffer.clear()  # THE FLAW: the tail is a line too, and is owed an answer
        return False


if __name__ == "__main__":
    serve_asyncio(parse_args("multiport"),
                  lambda sock: lambda: TailDroppingLineProtocol(sock.getsockname()[1]))
