"""Broken fetch client for the pre-flight (tests/test_preflight.py): it takes its URLs and never
fetches them, prints nothing and never exits, as a client stuck before its loop would.

The suite must stop in seconds with one message and leave no process behind.
"""

import sys
import time

if __name__ == "__main__":
    sys.stderr.write(f"fetching {len(sys.argv) - 2} URL(s)\n")
    sys.stderr.flush()
    while True:  # THE FLAW: it waits for nothing, forever
        time.sleep(60)
