"""netrosetta servers on raw sockets and the stdlib only: what the frameworks do for you, by hand."""

from netrosetta.launch import Implementation

IMPLEMENTATION = Implementation(
    name="raw",
    package="impl_raw",
    # "default" is the best poller the system has: epoll on Linux, else poll (impl_raw/loop.py).
    loops=("default", "select", "poll", "epoll"),
    models=("eventloop", "threaded", "iterative"),
)
