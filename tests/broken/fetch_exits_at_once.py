"""Broken fetch client for the pre-flight (tests/test_preflight.py): it exits at once, with a
status the client contract does not have, as a client missing its configuration would.

The suite must stop with one message that quotes the client's stderr, not fail every F test.
"""

import sys

if __name__ == "__main__":
    sys.stderr.write("fetch: cannot start: no configuration file\n")
    sys.exit(3)  # THE FLAW: no URL is fetched, no line printed
