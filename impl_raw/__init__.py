"""netrosetta servers on raw sockets and the stdlib only: what the frameworks do for you, by hand."""

from netrosetta.launch import Implementation

IMPLEMENTATION = Implementation(
    name="raw",
    package="impl_raw",
    # "default" is selectors.DefaultSelector: epoll on Linux, kqueue on the BSDs.
    loops=("default", "select", "poll", "epoll"),
    models=("eventloop", "threaded", "iterative"),
)
