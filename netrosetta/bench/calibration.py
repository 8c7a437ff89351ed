"""The machine index: how fast this machine runs interpreter-bound Python, measured in the same run.

A paired ratio cancels the load of the moment, not the kind of machine: an interpreted server loses
more than nginx on a core that runs Python slowly. So every full bench run times one fixed loop of
the work such a server does (dict lookups, str and bytes methods, small ints, attribute access,
method calls, a small object built and dropped) and reports its speed beside the ratios; the
in-process Python costs (netrosetta/bench/inprocess.py) are divided by its time per iteration, so
they read the same on a fast machine and a slow one.

The loop never changes: a different loop is a different unit. If it must change, bump VERSION,
and compare indexes only between runs of the same version.

    python -m netrosetta.bench.calibration [--core N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

VERSION = "calibration/1"
# One sample: ITERATIONS of the loop, about 50 ms on a 2 vCPU AMD EPYC of 2026 (about 1 µs each).
ITERATIONS = 50_000
# Samples per calibration: the median is kept, the spread reported.
SAMPLES = 7

_LINE = b"GET /bench/echo?n=1 HTTP/1.1"
_NAMES = ("host", "accept", "user-agent", "content-length", "connection", "cookie", "expect", "via")


class _Event:
    """A small object like a parser's event: built, read once, dropped."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: int) -> None:
        self.name = name
        self.value = value

    def weight(self) -> int:
        return len(self.name) + self.value


def _work(iterations: int) -> int:
    """The fixed work; returns a checksum so nothing can be optimised away (and to check it is fixed)."""
    table: dict[str, int] = {}
    total = 0
    for i in range(iterations):
        name = _NAMES[i & 7]
        table[name] = table.get(name, 0) + 1
        text = _LINE.decode("latin-1")
        method, _, rest = text.partition(" ")
        if rest.startswith("/"):
            total += len(method) + rest.find("?")
        event = _Event(name, i & 255)
        total += event.weight()
        parts = [method, name, str(i & 1023)]
        total += len(",".join(parts).encode("ascii")) + (i * 7 + 3) % 11
    return total + sum(table.values())


CHECKSUM = _work(ITERATIONS)


def sample(iterations: int = ITERATIONS) -> float:
    """Seconds of CPU time per iteration of the loop, once (CPU time: a wait for the core is not counted)."""
    start = time.thread_time()
    _work(iterations)
    return (time.thread_time() - start) / iterations


def calibrate(samples: int = SAMPLES, core: int | None = None) -> dict:
    """Time the loop ``samples`` times (on ``core`` if given); the median and the spread.

    ``us_per_iteration`` is the unit the in-process costs are divided by; ``index`` is its inverse in
    thousands of iterations per second (higher is a faster machine).
    """
    previous = os.sched_getaffinity(0)
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        sample(ITERATIONS // 10)  # warm up: the loop's code and objects into the caches
        times = [sample() * 1e6 for _ in range(samples)]
    finally:
        os.sched_setaffinity(0, previous)
    median = statistics.median(times)
    return {
        "version": VERSION,
        "iterations": ITERATIONS,
        "us_per_iteration": median,
        "index": 1000 / median,
        "samples_us": [round(t, 4) for t in times],
        "spread": (max(times) - min(times)) / median,
        "core": core,
    }


def combine(calibrations: list[dict]) -> dict:
    """One index from several calibrations of a run (at its start and its end): the median of all samples."""
    times = [t for each in calibrations for t in each["samples_us"]]
    median = statistics.median(times)
    return {
        "version": VERSION,
        "iterations": ITERATIONS,
        "us_per_iteration": median,
        "index": 1000 / median,
        "samples_us": times,
        "spread": (max(times) - min(times)) / median,
        "core": calibrations[0]["core"],
        "parts": [{"us_per_iteration": each["us_per_iteration"], "spread": each["spread"]}
                  for each in calibrations],
    }


def describe(calibration: dict) -> str:
    """One line: the index, the unit, and how much the samples spread."""
    return (f"machine index {calibration['index']:.0f} ({calibration['version']}: "
            f"{calibration['us_per_iteration']:.3f} µs per iteration, median of "
            f"{len(calibration['samples_us'])}, spread {calibration['spread'] * 100:.0f}%)")


def main(argv: list[str] | None = None) -> int:
    """Print this machine's index."""
    parser = argparse.ArgumentParser(prog="python -m netrosetta.bench.calibration",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--core", type=int, help="run pinned to this core")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    args = parser.parse_args(argv)
    print(describe(calibrate(args.samples, args.core)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
