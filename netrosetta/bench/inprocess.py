"""The Python cost of impl_raw, measured where it lives: in process, with the system calls faked.

    python -m netrosetta.bench.inprocess [--repeats 9] [--core N] [--json]

Under load a server's CPU time is the system calls it makes (recv, send, epoll_wait: the floor that
nobody in Python can go under, and nginx's whole cost) plus the Python around them, which is what
this project controls. This module measures the second part alone, so it can be tracked and cut:

- **urlecho**: impl_raw's ``UrlEchoConnection`` on impl_raw's own ``EventLoop``, fed the very
  request wrk sends in the bench, keep-alive, one request per round of the loop. The loop's
  poller is replaced by one that reports the socket readable at once, and the socket by an object
  whose ``recv`` returns the request and whose ``send`` takes everything; both are C functions
  (``dict.get``, ``len``), so what is timed is the loop's dispatch, the parser, the answer and the
  connection's bookkeeping, and no system call.
- **stream**: impl_raw's ``EchoConnection.on_readable`` the same way, each read handing it
  ``STREAM_READ`` bytes, which it sends straight back; reported per MiB.

Each cost is divided by the calibration loop's time per iteration (netrosetta/bench/calibration.py)
measured in the same process, interleaved with it: the result, in *calibration units*, is
comparable across machines of different speed. Each repeat times calibration, urlecho and stream
one after the other (CPU time, so a wait for the core is not counted), and the medians over the
repeats are reported with their spread, (max - min) / median, of the normalised figures.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import statistics
import sys
import time
from types import SimpleNamespace

from netrosetta.bench import calibration

# What wrk sends (netrosetta/bench/clients.py's URL_PATH; wrk adds the Host header with the port).
URLECHO_REQUEST = b"GET /bench/echo?n=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
URLECHO_REQUESTS = 4_000  # per timed sample, about 20 ms
# Bytes per read in the streaming measurement: about what one recv_into returns while the bench's
# client streams on loopback (two reads per MiB, counted with perf's syscall tracepoints; see
# docs/bench/why-slower-machines.md).
STREAM_READ = 512 * 1024
STREAM_READS = 20_000  # per timed sample (10 GiB), about 20 ms
CALIBRATION_ITERATIONS = 20_000  # per timed sample, about 20 ms
REPEATS = 15
MIB = 1024 * 1024
FD = 1_000_000  # descriptor numbers no real socket has here
STOP_FD = FD + 1


class _Kernel:
    """What the event loop asks of the kernel, faked: ``poll`` reports the socket readable
    ``rounds`` times, then a last descriptor whose callback stops the loop. It is ``next`` on an
    iterator, a C function like epoll's own, so the fake itself costs next to nothing."""

    def __init__(self, loop, rounds: int) -> None:
        ready = [(FD, 0x001)]
        stop = [(STOP_FD, 0x001)]
        # next(iterator, timeout): the round's readiness list (the timeout is only a default).
        self.poll = functools.partial(next, itertools.chain(itertools.repeat(ready, rounds), [stop]))
        loop._handlers[STOP_FD] = [lambda: setattr(loop, "_stopping", True), None, None]

    def register(self, fd: int, mask: int) -> None:
        pass

    modify = register

    def unregister(self, fd: int) -> None:
        pass

    def close(self) -> None:
        pass


def _fake_socket(**methods) -> SimpleNamespace:
    return SimpleNamespace(fileno=FD.__index__, setblocking=len, close=int, **methods)


def _loop(rounds: int):
    """impl_raw's EventLoop on its epoll poller, whose epoll object (the kernel's part) is faked:
    the poller's own Python, and the loop's, are measured."""
    from impl_raw.loop import EpollPoller, EventLoop

    loop = EventLoop("epoll")
    poller = loop.poller
    if not isinstance(poller, EpollPoller):
        raise RuntimeError("the in-process measurement needs epoll (Linux)")
    kernel = _Kernel(loop, rounds)
    poller.epoll.close()
    poller.epoll = kernel
    # What the poller took from its epoll object when it was made, it now takes from the fake.
    for name in ("register", "modify", "unregister", "poll"):
        if name in vars(poller):
            setattr(poller, name, getattr(kernel, name))
    return loop


def urlecho_sample(requests: int = URLECHO_REQUESTS) -> float:
    """CPU seconds of Python per keep-alive request: the loop's round, recv, parse, answer, send."""
    from impl_raw.urlecho import UrlEchoConnection
    from netrosetta.launch import Config

    loop = _loop(requests)
    sock = _fake_socket(recv={65536: URLECHO_REQUEST}.get, send=len)
    connection = UrlEchoConnection(loop, sock, Config(impl="raw", behaviour="urlecho", quiet=True))
    start = time.thread_time()
    loop.run()
    elapsed = time.thread_time() - start
    if connection.answered != requests or connection.closed:
        raise RuntimeError(f"urlecho answered {connection.answered} of {requests} requests")
    connection.close()
    del loop._handlers[STOP_FD]
    loop.close()
    return elapsed / requests


def stream_sample(reads: int = STREAM_READS, size: int = STREAM_READ) -> float:
    """CPU seconds of Python per MiB streamed: the loop's round, recv_into, send, ``size`` bytes a read."""
    from impl_raw.echo import EchoConnection

    loop = _loop(reads)
    # next(iterator, buffer): ``size`` every time, from C (the buffer is only the default).
    sock = _fake_socket(recv_into=functools.partial(next, itertools.repeat(size)), send=len)
    EchoConnection(loop, sock)
    start = time.thread_time()
    loop.run()
    elapsed = time.thread_time() - start
    del loop._handlers[STOP_FD]
    loop.close()
    return elapsed / (reads * size / MIB)


def _summary(values: list[float], digits: int) -> dict:
    """Median, extremes, and two spreads: (max - min) / median, and the interquartile range / median
    (one sample hit by another process's burst moves the first, not the second)."""
    median = statistics.median(values)
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [median, median, median]
    return {"median": round(median, digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "spread": round((max(values) - min(values)) / median, 3),
            "iqr": round((quartiles[2] - quartiles[0]) / median, 3)}


def measure(repeats: int = REPEATS, core: int | None = None) -> dict:
    """The in-process costs, raw and normalised by the calibration loop, medians over ``repeats``."""
    previous = os.sched_getaffinity(0)
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        urlecho_sample(URLECHO_REQUESTS // 4)  # warm up: imports, caches, the Date value
        stream_sample(STREAM_READS // 4)
        calibration.sample(calibration.ITERATIONS // 10)
        units, urlecho, stream = [], [], []
        for _ in range(repeats):
            # Interleaved, so a change in the machine's speed during the measurement weighs on the
            # unit and on the costs alike.
            units.append(calibration.sample(CALIBRATION_ITERATIONS) * 1e6)
            urlecho.append(urlecho_sample() * 1e6)
            stream.append(stream_sample() * 1e6)
    finally:
        os.sched_setaffinity(0, previous)
    return {
        "calibration": calibration.VERSION,
        "core": core,
        "repeats": repeats,
        "unit_us": _summary(units, 4),
        "urlecho": {
            "request": URLECHO_REQUEST.decode("ascii"),
            "us_per_request": _summary(urlecho, 3),
            "units_per_request": _summary([u / c for u, c in zip(urlecho, units, strict=True)], 3),
        },
        "stream": {
            "read_bytes": STREAM_READ,
            "us_per_mib": _summary(stream, 3),
            "units_per_mib": _summary([s / c for s, c in zip(stream, units, strict=True)], 3),
        },
    }


def describe(costs: dict) -> list[str]:
    """Lines for a person: each cost normalised, in µs, and its spread."""
    u, s = costs["urlecho"], costs["stream"]
    return [
        f"raw urlecho, Python per keep-alive request: {u['units_per_request']['median']:.2f} "
        f"calibration units ({u['us_per_request']['median']:.2f} µs; "
        f"spread {_spread(u['units_per_request'])} over {costs['repeats']} repeats)",
        f"raw stream, Python per MiB ({s['read_bytes'] // 1024} KiB a read): "
        f"{s['units_per_mib']['median']:.2f} calibration units ({s['us_per_mib']['median']:.2f} µs; "
        f"spread {_spread(s['units_per_mib'])})",
        f"calibration unit: {costs['unit_us']['median']:.3f} µs (spread {_spread(costs['unit_us'])})",
    ]


def _spread(summary: dict) -> str:
    return f"{summary['spread'] * 100:.0f}%, interquartile {summary['iqr'] * 100:.0f}%"


def main(argv: list[str] | None = None) -> int:
    """Measure and print (or dump the JSON)."""
    parser = argparse.ArgumentParser(prog="python -m netrosetta.bench.inprocess",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--core", type=int, help="run pinned to this core")
    parser.add_argument("--json", action="store_true", help="print the JSON instead")
    args = parser.parse_args(argv)
    costs = measure(args.repeats, args.core)
    if args.json:
        json.dump(costs, sys.stdout, indent=1)
        print()
    else:
        print("\n".join(describe(costs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
