"""``netrosetta bench``: the implementations measured side by side, against real references.

    netrosetta bench [--impl raw,twisted,tornado,asyncio]
                     [--behaviour echo,multiport,urlecho,scaling,memory]
                     [--scenario ID,...] [--quick | --tiny] [--runs N] [--duration S]
                     [--no-references] [--out DIR]

Method (vmbench's): a C load generator (loadgen.c, built here with the system compiler, epoll, one
thread) runs C connections that each send an M-byte message and wait for the whole echo before the
next; one connection streams through the echo full duplex (then another, for as long as a
ping-pong run lasts); wrk loads the URL echo with keep-alive, the load generator with a new
connection per request. The server is pinned to one core and every
client to another; the server's CPU time and peak RSS come from /proc/PID while it runs, the
client's CPU time from the kernel. Every server of a behaviour runs in the same bench run, each
scenario is repeated ``runs`` times round-robin over the servers, and medians are kept: the machine
is shared and noisy, so the headline is the **ratio** to a reference measured seconds apart, never
an absolute number compared across runs. Each implementation is measured straight before the
reference of its target, and every other round runs backwards (ABBA), so a load that drifts during
the run weighs on both sides of a ratio alike. Where the client saturates its core (it does against nginx
and the fastest servers) the fair comparison is server CPU time per request, so both are reported.

Memory per connection (group ``memory``, scenarios ``memory-echo`` and ``memory-urlecho``): each server
is started afresh, warmed up with a few connections (closed again, and waited for until its descriptor
count is back), its RSS read; then the load generator opens N connections (10,000 in a full run), uses
each once (one 1 KiB message echoed, or one keep-alive GET answered) and holds them all open while the
server's RSS is read again. (RSS with - RSS before) / N is its resident memory per connection. RSS is
VmRSS summed over the server process and its descendants (nginx runs as one process here,
``master_process off``; nginx preallocates its ``worker_connections`` slots at start, so that part of
its cost is in its baseline). ``--loop select`` variants are not in this scenario: select() cannot
watch a descriptor past FD_SETSIZE (1,024), by design.

Output, under ``--out`` (default ``bench-results/``): ``bench.json``, ``bench.md`` (Markdown tables)
and PNG charts (``echo.png``, ``stream.png``, ``multiport.png``, ``urlecho.png``, ``scaling.png``,
``memory.png``, ``targets.png``); and a table on stdout.

JSON schema (``bench.json``, ``"schema": "netrosetta-bench/1"``)::

    {
      "schema": "netrosetta-bench/1",
      "mode": "full" | "quick" | "tiny",
      "started": ISO-8601 UTC, "finished": ISO-8601 UTC, "wall_s": float,
      "machine": {"cpu": str, "cores": int, "memory_gib": float, "kernel": str, "python": str,
                  "server_core": int | null, "client_core": int | null, "pinned": bool},
      "settings": {"runs": int, "duration_s": float, "wrk_s": int, "requests": int | null,
                   "stream_bytes": int, "idle_scaling": int, "idle_urlecho": int, "idle_over": int,
                   "memory_conns": int, "memory_runs": int},
      "tools": {"loadgen": {"ok": bool, "path": str | null, "reason": str | null},
                "wrk": {"ok": bool, "path": str | null, "reason": str | null}},
      "servers": [{"id": str, "kind": "implementation" | "reference", "behaviour": str,
                   "group": str, "label": str, "status": "ok" | "skipped" | "failed",
                   "reason": str | null}],
      "scenarios": [{"id": str, "group": "echo" | "multiport" | "urlecho" | "scaling" | "memory",
                     "title": str, "tool": str,
                     "metric": "requests_per_s" | "mib_per_s" | "kib_per_connection",
                     "params": {...}}],
      "results": [{"scenario": str, "server": str, "kind": str,
                   "status": "ok" | "error" | "skipped", "reason": str | null,
                   "runs": [FIGURES, ...], "median": FIGURES | null}],
      "ratios": [{"id": str, "title": str, "scenario": str, "server": str, "reference": str,
                  "metric": str, "throughput_ratio": float | null, "cpu_ratio": float | null,
                  "client_bound": bool, "headline": float | null, "headline_rounds": [float | null],
                  "target": float | null, "met": bool | null, "note": str}],
      "memory": [{"server": str, "kind": str, "peak_rss_mib": float | null, "limit_mib": 64,
                  "met": bool | null}],
      "scaling": [{"server": str, "requests_per_s": float | null,
                   "requests_per_s_idle": float | null, "ratio": float | null,
                   "cpu_us_per_request": float | null, "cpu_us_per_request_idle": float | null,
                   "idle_open": int | null, "idle_failed": int | null, "idle_dropped": int | null,
                   "over": {"requests_per_s": float | null, "errors": int | null,
                            "idle_open": int | null, "idle_failed": int | null} | null}],
      "per_connection": [{"scenario": str, "server": str, "kind": str, "behaviour": str,
                          "label": str, "status": "ok" | "error" | "skipped", "reason": str | null,
                          "runs": [HELD, ...], "median": HELD | null}],
      "memory_ratios": [{"id": str, "title": str, "scenario": str, "server": str, "reference": str,
                         "kib_per_connection": float, "reference_kib_per_connection": float,
                         "ratio": float, "rounds": [float | null], "target": float,
                         "met": bool}],
      "calibration": CALIBRATION | null,
      "python_costs": PYTHON_COSTS | null,
      "nginx_keepalive": {"requests_per_s": float, "cpu_us_per_request": float | null} | null
    }

The last three keys came later (absent from older runs): ``calibration`` is the machine index, the
fixed pure-Python loop of netrosetta/bench/calibration.py timed on the server core at the start
and at the end of the run (``{"version": str, "us_per_iteration": float, "index": float,
"samples_us": [float], "spread": float, ...}``); ``python_costs`` is impl_raw's Python cost per
keep-alive request and per MiB streamed, measured in process and normalised by that loop
(netrosetta/bench/inprocess.py, whose ``measure`` documents the shape); ``nginx_keepalive`` is
nginx's median on ``urlecho-keepalive-c50``, the machine's speed seen from C.

FIGURES (one run, or the medians of the runs; errors are summed, peak RSS is the maximum)::

    {"tool": "loadgen" | "wrk", "requests": int, "seconds": float, "requests_per_s": float,
     "mib_per_s": float (payload one way), "latency_p50_ms": float, "latency_p90_ms": float,
     "latency_p99_ms": float, "latency_max_ms": float, "errors": int, "error_kinds": {str: int},
     "server_cpu_s": float, "server_cpu_us_per_request": float | null,
     "server_peak_rss_mib": float, "client_cpu_s": float, "client_cpu_share": float,
     "idle_requested": int, "idle_open": int, "idle_failed": int, "idle_dropped": int,
     "stream_cpu_us_per_mib": [float]}

HELD (one fresh server holding the memory scenario's connections; in a median, the medians, with
the fewest held and the most failed or dropped)::

    {"requested": int, "held": int, "failed": int, "dropped": int, "processes": int,
     "rss_before_kib": int, "rss_with_kib": int, "kib_per_connection": float | null,
     "open_s": float}

``held``: connections served once and open when the RSS was read; ``failed``: refused, reset or not
served; ``dropped``: closed by the server while held (counted until the load generator let go).
``kib_per_connection`` divides by ``held``. ``memory_ratios`` are ours / the reference in KiB per
connection, paired round by round like the others (median over the rounds); lower is better, and
``met`` is ``ratio <= target``. ``per_connection`` and ``memory_ratios`` came later still (absent from
older runs).

``stream_cpu_us_per_mib`` is the server's CPU per MiB of each stream of a streaming run, in order
(empty for the other scenarios; in a median, every stream of every run).

``throughput_ratio`` is ours / reference on the scenario's metric; ``cpu_ratio`` is reference CPU
per request / ours (above 1: we spend less); both are medians over the rounds of the ratio within
each round (ours and the reference are measured seconds apart, so the pair shares the machine's load
of the moment; in the streaming scenario they take turns stream by stream, and a round's CPU ratio
is the ratio of the two sides' median streams). ``headline`` is the CPU ratio when the reference run
saturated the client core (``client_bound``) or for a stream (whose throughput is whichever side is
slower), else the throughput ratio; ``headline_rounds`` is that ratio in every round; ``met``
compares the headline with the issue's target.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import NoReturn

from netrosetta.bench import clients, servers
from netrosetta.bench.servers import Target
from netrosetta_conformance.harness import ServerError

SCHEMA = "netrosetta-bench/1"
MIB = 1024 * 1024
KIB = 1024
RSS_LIMIT_MIB = 64
CLIENT_BOUND = 0.9  # a client using 90% of its core may be what limits the rate
GROUPS = ("echo", "multiport", "urlecho", "scaling", "memory")
MULTIPORT_PORTS = 3
MAX_STREAMS = 8  # streams of stream_bytes per measurement, each on its own connection
# An implementation and the reference of its streaming target take turns, stream by stream, at least
# this many times a round: a ratio then compares streams measured a fraction of a second apart.
MIN_STREAM_PAIRS = 4


@dataclass
class Scenario:
    """One load shape, run against every server of its group."""

    id: str
    group: str
    title: str
    tool: str
    metric: str = "requests_per_s"
    params: dict = field(default_factory=dict)
    modes: tuple[str, ...] = ("full",)


SCENARIOS = [
    Scenario("echo-1k-c10", "echo", "echo 1 KiB ping-pong, 10 connections", "loadgen pingpong",
             params={"size": KIB, "conns": 10}, modes=("full", "tiny")),
    Scenario("echo-1k-c100", "echo", "echo 1 KiB ping-pong, 100 connections", "loadgen pingpong",
             params={"size": KIB, "conns": 100}, modes=("full", "quick")),
    Scenario("echo-64k-c10", "echo", "echo 64 KiB ping-pong, 10 connections", "loadgen pingpong",
             params={"size": 64 * KIB, "conns": 10}),
    Scenario("echo-64k-c100", "echo", "echo 64 KiB ping-pong, 100 connections", "loadgen pingpong",
             params={"size": 64 * KIB, "conns": 100}),
    Scenario("echo-stream", "echo", "echo, one connection at a time streaming full duplex", "loadgen stream",
             metric="mib_per_s", params={"stream": True}, modes=("full", "quick", "tiny")),
    Scenario("multiport-1k-c10", "multiport", "multiport 1 KiB lines, 10 connections over 3 ports",
             "loadgen pingpong --tagged", params={"size": KIB, "conns": 10, "tagged": True},
             modes=("full", "tiny")),
    Scenario("multiport-1k-c100", "multiport", "multiport 1 KiB lines, 100 connections over 3 ports",
             "loadgen pingpong --tagged", params={"size": KIB, "conns": 100, "tagged": True},
             modes=("full", "quick")),
    Scenario("urlecho-keepalive-c50", "urlecho", "urlecho keep-alive, 50 connections", "wrk",
             params={"conns": 50}, modes=("full", "quick", "tiny")),
    Scenario("urlecho-close-c50", "urlecho", "urlecho new connection per request, 50 clients",
             "loadgen http --close", params={"conns": 50, "close": True}, modes=("full", "quick", "tiny")),
    Scenario("urlecho-keepalive-c50-idle100", "urlecho",
             "urlecho keep-alive, 50 connections + {idle:,} idle keep-alive", "wrk + loadgen hold",
             params={"conns": 50, "idle": "idle_urlecho"}),
    Scenario("scaling-c10", "scaling", "echo 1 KiB ping-pong, 10 connections", "loadgen pingpong",
             params={"size": KIB, "conns": 10}, modes=("full", "quick", "tiny")),
    Scenario("scaling-c10-idle", "scaling", "the same beside {idle:,} idle connections", "loadgen pingpong",
             params={"size": KIB, "conns": 10, "idle": "idle_scaling"}, modes=("full", "quick", "tiny")),
    # select(2) cannot watch a descriptor >= FD_SETSIZE (1024): raw --loop select must refuse some of
    # these, cleanly. Its errors here are the lesson, shown as measured.
    Scenario("scaling-c10-idle-over", "scaling",
             "the same beside {idle:,} idle connections (beyond FD_SETSIZE)", "loadgen pingpong",
             params={"size": KIB, "conns": 10, "idle": "idle_over"}),
    # Resident memory per connection (the module's docstring says how it is measured).
    Scenario("memory-echo", "memory", "echo, resident memory per connection, {conns:,} connections held open",
             "loadgen hold", metric="kib_per_connection",
             params={"behaviour": "echo", "size": KIB, "conns": "memory_conns"},
             modes=("full", "quick", "tiny")),
    Scenario("memory-urlecho", "memory",
             "urlecho, resident memory per connection, {conns:,} keep-alive connections held open",
             "loadgen hold --http", metric="kib_per_connection",
             params={"behaviour": "urlecho", "conns": "memory_conns"}, modes=("full", "quick", "tiny")),
]

# The targets: (id, title, scenario, ours, reference, target).
TARGETS = [
    ("raw-echo", "raw echo vs asyncio+uvloop Protocol", "echo-1k-c100", "raw", "uvloop", 1.0),
    ("raw-stream", "raw streaming vs uvloop", "echo-stream", "raw", "uvloop", 0.8),
    ("raw-urlecho", "raw urlecho vs nginx", "urlecho-keepalive-c50", "raw", "nginx", 0.5),
    ("twisted-echo", "twisted echo vs Twisted echoserv", "echo-1k-c100", "twisted", "twisted-echoserv", 0.9),
    ("tornado-echo", "tornado echo vs Tornado tcpecho", "echo-1k-c100", "tornado", "tornado-tcpecho", 0.9),
    ("twisted-urlecho", "twisted urlecho vs bare twisted.web", "urlecho-keepalive-c50", "twisted",
     "twisted-web", 0.9),
    ("tornado-urlecho", "tornado urlecho vs bare tornado.web", "urlecho-keepalive-c50", "tornado",
     "tornado-web", 0.9),
    ("asyncio-echo", "asyncio echo vs the docs' streams echo", "echo-1k-c100", "asyncio",
     "asyncio-streams-stock", 0.9),
    ("asyncio-protocol-echo", "asyncio --model protocol echo vs asyncio Protocol", "echo-1k-c100",
     "asyncio-protocol", "asyncio-stock", 0.9),
    ("asyncio-urlecho-twisted-web", "asyncio urlecho vs bare twisted.web", "urlecho-keepalive-c50", "asyncio",
     "twisted-web", 1.0),
    ("asyncio-urlecho-tornado-web", "asyncio urlecho vs bare tornado.web", "urlecho-keepalive-c50", "asyncio",
     "tornado-web", 1.0),
    # Context, no target: where the stock frameworks and the others stand.
    ("twisted-web-nginx", "bare twisted.web vs nginx", "urlecho-keepalive-c50", "twisted-web", "nginx", None),
    ("tornado-web-nginx", "bare tornado.web vs nginx", "urlecho-keepalive-c50", "tornado-web", "nginx", None),
    ("node-http-nginx", "Node.js http vs nginx", "urlecho-keepalive-c50", "node-http", "nginx", None),
    ("raw-echo-node", "raw echo vs Node.js net", "echo-1k-c100", "raw", "node-net", None),
    ("twisted-echo-uvloop", "twisted echo vs uvloop", "echo-1k-c100", "twisted", "uvloop", None),
    ("tornado-echo-uvloop", "tornado echo vs uvloop", "echo-1k-c100", "tornado", "uvloop", None),
    ("asyncio-urlecho-nginx", "asyncio urlecho vs nginx", "urlecho-keepalive-c50", "asyncio", "nginx", None),
    ("asyncio-echo-uvloop", "asyncio echo vs uvloop", "echo-1k-c100", "asyncio", "uvloop", None),
    ("raw-multiport-echo", "raw multiport vs raw echo (1 KiB, c=100)", "multiport-1k-c100", "raw", None,
     None),
]

# The memory targets, lower is better: (id, title, scenario, ours, reference, at most this
# many times the reference's KiB per connection).
MEMORY_TARGETS = [
    ("raw-memory-echo", "raw echo memory/conn vs uvloop", "memory-echo", "raw", "uvloop", 1.0),
    ("twisted-memory-echo", "twisted echo memory/conn vs Twisted echoserv", "memory-echo", "twisted",
     "twisted-echoserv", 1.2),
    ("twisted-memory-urlecho", "twisted urlecho memory/conn vs bare twisted.web", "memory-urlecho", "twisted",
     "twisted-web", 1.2),
    ("tornado-memory-echo", "tornado echo memory/conn vs Tornado tcpecho", "memory-echo", "tornado",
     "tornado-tcpecho", 1.2),
    ("tornado-memory-urlecho", "tornado urlecho memory/conn vs bare tornado.web", "memory-urlecho", "tornado",
     "tornado-web", 1.2),
    ("asyncio-memory-echo", "asyncio echo memory/conn vs the docs' streams echo", "memory-echo", "asyncio",
     "asyncio-streams-stock", 1.2),
    ("asyncio-protocol-memory-echo", "asyncio --model protocol echo memory/conn vs asyncio Protocol",
     "memory-echo", "asyncio-protocol", "asyncio-stock", 1.2),
]
# Connections of the memory scenario used once and closed before the baseline is read, so that what
# a server sets up lazily on its first connection or request is not counted per connection.
MEMORY_WARM_UP = 20
MEMORY_OPEN_TIMEOUT = 120.0  # seconds to open and serve them all (a slow server, a busy machine)


@dataclass(frozen=True)
class Settings:
    """How long and how often: the three modes differ only here."""

    mode: str
    runs: int
    duration: float
    wrk_seconds: int
    requests: int | None
    stream_bytes: int
    idle_scaling: int = 1000
    idle_urlecho: int = 100
    idle_over: int = 1100
    memory_conns: int = 10_000
    # One fresh start per server and round: 10,000 connections take a slow server tens of seconds,
    # and the figure moves little between starts (the README judges on the median of five runs).
    memory_runs: int = 1


MODES = {
    "full": Settings("full", runs=3, duration=2.0, wrk_seconds=2, requests=None, stream_bytes=256 * MIB),
    "quick": Settings("quick", runs=2, duration=0.5, wrk_seconds=1, requests=None, stream_bytes=64 * MIB,
                      memory_conns=2000),
    "tiny": Settings("tiny", runs=1, duration=0.5, wrk_seconds=1, requests=300, stream_bytes=4 * MIB,
                     idle_scaling=100, idle_urlecho=10, memory_conns=200),
}


def _utc() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def machine(server_core: int | None, client_core: int | None) -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpu": cpu, "cores": os.cpu_count() or 1, "memory_gib": round(memory, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "server_core": server_core, "client_core": client_core, "pinned": server_core is not None,
    }


# -- one measurement --------------------------------------------------------------------------

def _figures(report: dict, monitor: servers.Monitor, payload_bytes: float) -> dict:
    seconds = max(report["elapsed"], 1e-9)
    requests = report["requests"]
    latency = report["latency_us"]
    errors = report["errors"]
    kinds = dict(report["error_kinds"])
    if requests == 0:
        errors += 1
        kinds["no_request_completed"] = 1
    cpu = None if math.isnan(monitor.cpu) else monitor.cpu
    return {
        "tool": report.get("tool", "loadgen"),
        "requests": requests,
        "seconds": round(seconds, 4),
        "requests_per_s": requests / seconds,
        "mib_per_s": payload_bytes / seconds / MIB,
        **{f"latency_{p}_ms": (latency[p] / 1000 if latency[p] >= 0 else None)
           for p in ("p50", "p90", "p99", "max")},
        "errors": errors,
        "error_kinds": {k: v for k, v in kinds.items() if v},
        "server_cpu_s": cpu,
        "server_cpu_us_per_request": cpu / requests * 1e6 if requests and cpu is not None else None,
        "server_peak_rss_mib": monitor.peak_kib / 1024,
        "client_cpu_s": report["client_cpu_s"],
        "client_cpu_share": report["client_cpu_s"] / seconds,
        "idle_requested": report.get("idle_requested", 0),
        "idle_open": report.get("idle_open", 0),
        "idle_failed": report.get("idle_failed", 0),
        "idle_dropped": report.get("idle_dropped", 0),
        "stream_cpu_us_per_mib": report.get("stream_cpu_us_per_mib", []),
    }


class Bench:
    """Runs scenarios against running servers and keeps every figure."""

    def __init__(self, settings: Settings, loadgen: Path, wrk: str | None, wrk_reason: str | None,
                 server_core: int | None, client_core: int | None) -> None:
        self.settings = settings
        self.loadgen = loadgen
        self.wrk = wrk
        self.wrk_reason = wrk_reason
        self.server_core = server_core
        self.client_core = client_core

    def _idle(self, scenario: Scenario) -> int:
        name = scenario.params.get("idle")
        return getattr(self.settings, name) if name else 0

    def measure(self, scenario: Scenario, running: servers.Running) -> dict:
        """One run of one scenario against one server."""
        s = self.settings
        p = scenario.params
        timeout = s.duration + s.wrk_seconds + 60
        core = self.client_core
        common = {"timeout": 10}
        if s.requests:
            common["requests"] = s.requests
        else:
            common["duration"] = s.duration
        if p.get("stream"):
            return self.measure_streams([running], warm_up=False)[running.target.id]
        with servers.Monitor(running.pid) as monitor:
            if scenario.group == "urlecho" and not p.get("close") and self.wrk:
                idle = self._idle(scenario)
                holder = None
                if idle:
                    holder = clients.start_loadgen(self.loadgen, "hold", running.ports[:1], core,
                                                   idle=idle, http=True, duration=s.wrk_seconds + 1)
                    time.sleep(0.5)  # the idle connections are open before the load starts
                report = clients.wrk(self.wrk, running.ports[0], p["conns"], s.wrk_seconds, core, timeout)
                if holder:
                    held = clients.collect_loadgen(holder, timeout)
                    report.update({k: held[k] for k in ("idle_requested", "idle_open", "idle_failed",
                                                        "idle_dropped")})
                    report["client_cpu_s"] += held["client_cpu_s"]
            elif scenario.group == "urlecho":
                report = clients.loadgen(self.loadgen, "http", running.ports[:1], core, timeout,
                                         conns=p["conns"], close=p.get("close", False),
                                         idle=self._idle(scenario), **common)
                if not p.get("close") and not self.wrk:
                    report["tool"] = f"loadgen (wrk unavailable: {self.wrk_reason})"
            else:
                ports = running.ports if scenario.group == "multiport" else running.ports[:1]
                report = clients.loadgen(self.loadgen, "pingpong", ports, core, timeout,
                                         conns=p["conns"], size=p["size"], tagged=p.get("tagged", False),
                                         idle=self._idle(scenario), **common)
        if scenario.group == "urlecho":
            payload = report["bytes"]
        else:
            payload = report["requests"] * p["size"]
        return _figures(report, monitor, payload)

    def measure_streams(self, runs: list[servers.Running], warm_up: bool) -> dict[str, dict]:
        """One run of the streaming scenario for servers that take turns (see ``stream_turns``):
        FIGURES per server id."""
        wait = self.settings.duration + 60
        turns = self.stream_turns(runs, self.client_core, wait, warm_up)
        return {target_id: _figures(report, SimpleNamespace(cpu=cpu, peak_kib=peak), report["bytes"])
                for target_id, (report, cpu, peak) in turns.items()}

    def measure_memory(self, scenario: Scenario, target: Target, count: int) -> dict:
        """One fresh server of ``target``: its RSS after a warm-up, then with ``count`` connections
        served once and held open (HELD in the module's docstring)."""
        http = scenario.params["behaviour"] == "urlecho"
        size = scenario.params.get("size", KIB)
        timeout = MEMORY_OPEN_TIMEOUT
        if http and target.kind == "implementation":
            # The slowest servers take tens of seconds to answer 10,000 new connections on a busy
            # machine, and our keep-alive idle timeout (60 s) would close the first ones meanwhile.
            # A timer's memory does not depend on its duration.
            target = dataclasses.replace(target, argv=(*target.argv, "--idle-timeout", str(timeout * 3)))
        # nginx closes idle keep-alive connections once fewer than 1/16 of its slots are free.
        server = servers.start(target, self.server_core, connections=(count + MEMORY_WARM_UP) * 9 // 8 + 64)
        try:
            fds = servers.open_fds(server.pid)
            clients.hold(self.loadgen, server.ports[0], MEMORY_WARM_UP, http, self.client_core, timeout,
                         lambda: None, size=size)
            _settle(server, fds)
            before, _ = servers.tree_rss_kib(server.pid)
            started = time.monotonic()

            def reading() -> tuple[int, int, float]:
                return (*servers.tree_rss_kib(server.pid), time.monotonic() - started)

            held, (with_, processes, opened), final = clients.hold(
                self.loadgen, server.ports[0], count, http, self.client_core, timeout, reading, size=size)
            if not server.alive():
                raise ServerError(f"server exited (status {server.proc.returncode}): "
                                  f"{server.stderr_tail(300)}")
        finally:
            server.stop()
        n = held["held"]
        return {"requested": count, "held": n, "failed": final["idle_failed"],
                "dropped": final["idle_dropped"], "processes": processes, "rss_before_kib": before,
                "rss_with_kib": with_,
                "kib_per_connection": (with_ - before) / n if n else None, "open_s": round(opened, 2)}

    def stream_turns(self, runs: list[servers.Running], core: int | None, wait: float,
                     warm_up: bool = False) -> dict[str, tuple[dict, float, int]]:
        """Stream ``stream_bytes`` through each server in turn, on a new connection each time, again
        and again: for ``duration`` seconds per server at least (a single 256 MiB stream lasts a
        tenth of a second against the fastest servers, too short to measure their CPU time to
        better than 10-20%), and MIN_STREAM_PAIRS turns at least when several take turns, at most
        MAX_STREAMS. Every other turn goes backwards (ABBA), as the rounds do.

        Each stream's server CPU time is read on its own, and a ratio compares the two sides'
        median streams (netrosetta/bench/report.py), taken from the same seconds: a drift in the
        machine's load weighs on both, and a burst from another process spoils one stream, not the
        round. ``warm_up`` first
        streams once through each server, unmeasured: the first stream after a start pays for page
        faults in buffers that later streams reuse. Returns, per server, (merged report, its server
        CPU seconds, its peak RSS in KiB).
        """
        streams: dict[str, list[tuple[dict, float, int]]] = {run.target.id: [] for run in runs}
        if warm_up:
            for run in runs:
                self._one_stream(run, core, wait)
        turn = 0
        while True:
            for run in runs if turn % 2 == 0 else runs[::-1]:
                streams[run.target.id].append(self._one_stream(run, core, wait))
            turn += 1
            done = all(sum(report["elapsed"] for report, _, _ in each) >= self.settings.duration
                       for each in streams.values())
            failed = any(each[-1][0]["errors"] for each in streams.values())
            if failed or turn >= MAX_STREAMS or (done and (len(runs) == 1 or turn >= MIN_STREAM_PAIRS)):
                break
        merged = {}
        for target_id, each in streams.items():
            reports = [report for report, _, _ in each]
            report = dict(reports[-1])
            for key in ("elapsed", "bytes", "requests", "errors", "client_cpu_s"):
                report[key] = sum(r[key] for r in reports)
            report["error_kinds"] = {kind: sum(r["error_kinds"].get(kind, 0) for r in reports)
                                     for kind in reports[-1]["error_kinds"]}
            report["stream_cpu_us_per_mib"] = [cpu / max(r["bytes"] / MIB, 1e-9) * 1e6
                                               for r, cpu, _ in each]
            merged[target_id] = (report, sum(cpu for _, cpu, _ in each), max(peak for _, _, peak in each))
        return merged

    def _one_stream(self, run: servers.Running, core: int | None, wait: float) -> tuple[dict, float, int]:
        with servers.Monitor(run.pid) as monitor:
            report = clients.loadgen(self.loadgen, "stream", run.ports[:1], core, wait,
                                     total=self.settings.stream_bytes, timeout=30)
        return report, monitor.cpu, monitor.peak_kib


def _settle(server: servers.Running, fds: int, timeout: float = 10.0) -> None:
    """Wait (bounded) until the server has closed the warm-up's connections: its descriptor count is
    back where it was."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while servers.open_fds(server.pid) > fds and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _held_median(runs: list[dict]) -> dict | None:
    """The medians of HELD figures: the fewest held, the most failed or dropped, medians of the rest."""
    if not runs:
        return None
    median: dict = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        numbers = [v for v in values if v is not None]
        if key == "held":
            median[key] = min(values)
        elif key in ("failed", "dropped", "processes"):
            median[key] = max(values)
        else:
            median[key] = statistics.median(numbers) if numbers else None
    return median


def _median(runs: list[dict]) -> dict | None:
    if not runs:
        return None
    median: dict = {}
    for key, value in runs[0].items():
        values = [run.get(key) for run in runs]
        if key == "errors":
            median[key] = sum(values)
        elif key == "error_kinds":
            merged: dict = {}
            for kinds in values:
                for name, count in kinds.items():
                    merged[name] = merged.get(name, 0) + count
            median[key] = merged
        elif key == "server_peak_rss_mib":
            median[key] = max(values)
        elif key in ("idle_failed", "idle_dropped"):
            median[key] = max(values)
        elif key == "idle_open":
            median[key] = min(values)
        elif key == "stream_cpu_us_per_mib":
            median[key] = [each for value in values for each in value]  # every stream of every run
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
            median[key] = statistics.median(numbers) if numbers else None
        else:
            median[key] = value
    return median


# -- the whole run ----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (ValueError), never the usage block."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(prog="netrosetta bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", action="append", default=[],
                        help="implementations, comma-separated (raw, twisted, tornado, asyncio); default all")
    parser.add_argument("--behaviour", "--behavior", action="append", default=[],
                        help="groups, comma-separated (echo, multiport, urlecho, scaling, memory); "
                             "default all")
    parser.add_argument("--scenario", action="append", default=[],
                        help="only these scenarios, comma-separated (ids as in the tables)")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true",
                       help="two short rounds of the main scenarios (~1 minute); rough ratios")
    speed.add_argument("--tiny", action="store_true",
                       help="a few hundred requests per scenario: a smoke test of the bench itself")
    parser.add_argument("--runs", type=int, help="repetitions of each scenario (medians are kept)")
    parser.add_argument("--duration", type=float, help="seconds per load-generator run")
    parser.add_argument("--no-references", action="store_true", help="measure our implementations only")
    parser.add_argument("--baseline", metavar="REV",
                        help="A/B: also measure our implementations as they were at git revision REV, "
                             "in the same rounds (not in the memory scenarios); every ratio gets a twin "
                             "for REV and each implementation a ratio to itself at REV")
    parser.add_argument("--out", default="bench-results", help="output directory (default bench-results)")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(list(argv))


def _split(values: list[str], allowed: Sequence[str], what: str) -> tuple[str, ...]:
    chosen = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))} (choose from {', '.join(allowed)})")
    return tuple(dict.fromkeys(chosen)) or tuple(allowed)


def _cores() -> tuple[int | None, int | None]:
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


def main(argv: Sequence[str] | None = None) -> int:
    """``netrosetta bench``: run, print the table, write JSON, Markdown and charts."""
    # Imported here: each is also a `python -m` entry point of its own.
    from netrosetta.bench import calibration, inprocess, report

    try:
        args = _parse(sys.argv[1:] if argv is None else argv)
        impls = _split(args.impl, servers.IMPLEMENTATIONS, "implementation")
        groups = _split(args.behaviour, GROUPS, "behaviour")
        only = set(_split(args.scenario, [sc.id for sc in SCENARIOS], "scenario")) if args.scenario else None
        if args.runs is not None and args.runs < 1 or args.duration is not None and args.duration <= 0:
            raise ValueError("--runs and --duration must be positive")
    except ValueError as error:
        sys.stderr.write(f"netrosetta bench: error: {error}\n")
        return 2
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    settings = MODES[mode]
    if args.runs or args.duration:
        settings = dataclasses.replace(
            settings, runs=args.runs or settings.runs, duration=args.duration or settings.duration,
            wrk_seconds=max(1, round(args.duration or settings.wrk_seconds)),
            memory_runs=args.runs or settings.memory_runs)
    out = Path(args.out)
    started, wall = _utc(), time.monotonic()
    server_core, client_core = _cores()
    document: dict = {
        "schema": SCHEMA, "mode": mode, "started": started, "finished": None, "wall_s": None,
        "machine": machine(server_core, client_core),
        "settings": {"runs": settings.runs, "duration_s": settings.duration, "wrk_s": settings.wrk_seconds,
                     "requests": settings.requests, "stream_bytes": settings.stream_bytes,
                     "idle_scaling": settings.idle_scaling, "idle_urlecho": settings.idle_urlecho,
                     "idle_over": settings.idle_over, "memory_conns": settings.memory_conns,
                     "memory_runs": settings.memory_runs},
        "tools": {}, "servers": [], "scenarios": [], "results": [], "ratios": [], "memory": [], "scaling": [],
        "per_connection": [], "memory_ratios": [],
        "calibration": None, "python_costs": None, "nginx_keepalive": None,
    }
    try:
        loadgen = clients.build_loadgen()
        document["tools"]["loadgen"] = {"ok": True, "path": str(loadgen), "reason": None}
    except clients.ToolError as error:
        sys.stderr.write(f"netrosetta bench: error: {error}\n")
        return 1
    wrk_path, wrk_reason = (clients.wrk_status() if "urlecho" in groups else (None, "not needed"))
    document["tools"]["wrk"] = {"ok": wrk_path is not None, "path": wrk_path, "reason": wrk_reason}
    if not args.no_references and ("urlecho" in groups or "memory" in groups):
        servers.ensure_program("nginx", "nginx-light")
    if not args.no_references and mode != "tiny":
        servers.ensure_program("node", "nodejs")

    rows = TARGETS
    if args.baseline:
        baseline_tree = Path(tempfile.mkdtemp(prefix="netrosetta-baseline-"))
        try:
            commit = servers.export(args.baseline, baseline_tree)
        except ValueError as error:
            shutil.rmtree(baseline_tree, ignore_errors=True)
            sys.stderr.write(f"netrosetta bench: error: {error}\n")
            return 2
        document["baseline"] = {"revision": args.baseline, "commit": commit}
        rows = TARGETS + _baseline_rows(TARGETS, commit)

    plan = []
    memory_plan: list[tuple[Scenario, list[Target], dict]] = []
    for group in groups:
        scenarios = [sc for sc in SCENARIOS if sc.group == group
                     and (sc.id in only if only else mode in sc.modes)]
        if not scenarios:
            continue
        for sc in scenarios:
            params = _params(sc, settings)
            document["scenarios"].append({"id": sc.id, "group": sc.group, "title": sc.title.format(**params),
                                          "tool": sc.tool, "metric": sc.metric, "params": params})
        if group == "memory":
            # One server at a time, each started afresh: not the group's shared servers.
            memory_plan = [(sc, _memory_targets(sc, impls, not args.no_references), _params(sc, settings))
                           for sc in scenarios]
            continue
        targets = servers.implementations(group, impls)
        if args.baseline:
            targets += servers.baselines(targets, commit, baseline_tree)
        if not args.no_references:
            targets += servers.references(group)
        plan.append((group, scenarios, targets))

    # Know the machine: how fast it runs Python today, on the core the servers will run on.
    calibrations = [calibration.calibrate(core=server_core)]
    document["python_costs"] = inprocess.measure(3 if mode == "tiny" else inprocess.REPEATS, server_core)
    print(calibration.describe(calibrations[0]))
    print("\n".join(inprocess.describe(document["python_costs"])))
    bench = Bench(settings, loadgen, wrk_path, wrk_reason, server_core, client_core)
    previous_affinity = os.sched_getaffinity(0)
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})  # keep our own polling off the server's core
    # SIGTERM unwinds like Ctrl-C, so every server and client we started is stopped on the way out.
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with report.progress(disabled=args.no_progress) as bar:
            total = sum(len(sc) * len(tg) * settings.runs for _, sc, tg in plan)
            total += sum(len(tg) * settings.memory_runs for _, tg, _ in memory_plan)
            task = bar.add_task("bench", total=total)
            for group, scenarios, targets in plan:
                _run_group(bench, document, group, scenarios, targets, bar, task, rows)
            for scenario, targets, params in memory_plan:
                _run_memory(bench, document, scenario, targets, params["conns"], bar, task)
        calibrations.append(calibration.calibrate(core=server_core))
    except KeyboardInterrupt:
        sys.stderr.write("netrosetta bench: interrupted; every server it started is stopped\n")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        os.sched_setaffinity(0, previous_affinity)
        if args.baseline:
            shutil.rmtree(baseline_tree, ignore_errors=True)
    document["calibration"] = calibration.combine(calibrations)
    report.derive(document, rows, RSS_LIMIT_MIB, CLIENT_BOUND)
    report.derive_memory(document, MEMORY_TARGETS)
    document["finished"] = _utc()
    document["wall_s"] = round(time.monotonic() - wall, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(document, indent=1, default=_json_default) + "\n")
    (out / "bench.md").write_text(report.markdown(document))
    report.print_tables(document)
    if mode != "full":
        print(f"{mode} mode: {settings.runs} short round(s) per scenario, so the ratios and verdicts above "
              f"are rough; a full run (netrosetta bench) decides")
    if not args.no_charts:
        charts = report.charts(document, out)
        print(f"wrote {out / 'bench.json'}, {out / 'bench.md'} and {len(charts)} charts in {out}/")
    else:
        print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _json_default(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")


def _params(scenario: Scenario, settings: Settings) -> dict:
    params = {k: v for k, v in scenario.params.items() if k != "idle"}
    if "idle" in scenario.params:
        params["idle"] = getattr(settings, scenario.params["idle"])
    if scenario.group == "memory":
        params["conns"] = settings.memory_conns
        # Each connection is a descriptor in the client and in the server (both raise their soft
        # limit to the hard one): past the hard limit, fewer are asked for, and the params say so.
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard - MEMORY_WARM_UP - 64 < params["conns"]:
            params["conns"] = max(hard - MEMORY_WARM_UP - 64, 1)
            params["capped_by_nofile_limit"] = hard
    if scenario.params.get("stream"):
        params["bytes"] = settings.stream_bytes
    return params


def _run_group(bench: Bench, document: dict, group: str, scenarios: list[Scenario], targets: list[Target],
               bar, task, rows: list | None = None) -> None:
    """Start every server of a group, run each scenario round-robin over them ``runs`` times."""
    running: dict[str, servers.Running] = {}
    reasons: dict[str, str] = {}
    results = {(sc.id, t.id): {"scenario": sc.id, "server": t.id, "kind": t.kind, "status": "ok",
                               "reason": None, "runs": [], "median": None}
               for sc in scenarios for t in targets}
    try:
        for target in targets:
            entry = {"id": target.id, "kind": target.kind, "behaviour": target.behaviour, "group": group,
                     "label": target.label, "status": "ok", "reason": None}
            why = target.missing()
            if why is None:
                try:
                    running[target.id] = servers.start(target, bench.server_core, MULTIPORT_PORTS)
                except (ServerError, OSError) as error:
                    entry.update(status="failed", reason=f"did not start: {error}")
            else:
                entry.update(status="skipped", reason=why)
            if entry["reason"]:
                reasons[target.id] = entry["reason"]
            document["servers"].append(entry)
        paired = _paired(targets, rows)
        for run in range(bench.settings.runs):
            # ABBA: every other run goes backwards, so a load that drifts during the run weighs on
            # an implementation and its reference alike.
            order = paired if run % 2 == 0 else paired[::-1]
            for scenario in scenarios:
                if scenario.params.get("stream"):
                    _measure_streams(bench, scenario, order, running, results, reasons, run == 0, bar, task)
                    continue
                for target in order:
                    bar.update(task, description=f"{scenario.id} · {target.id}")
                    result = results[(scenario.id, target.id)]
                    if target.id in reasons:
                        result.update(status="skipped", reason=reasons[target.id])
                        bar.advance(task)
                        continue
                    _measure_once(bench, scenario, target, running, result)
                    bar.advance(task)
    finally:
        for each in running.values():
            each.stop()
    for result in results.values():
        result["median"] = _median(result["runs"])
        if result["status"] == "ok" and result["median"] and result["median"]["errors"]:
            result["status"] = "error"
            result["reason"] = result["reason"] or "client saw errors: " + ", ".join(
                f"{k} {v}" for k, v in result["median"]["error_kinds"].items())
            if result["scenario"] == "scaling-c10-idle-over" and result["server"].endswith("-select"):
                result["reason"] = "by design, select() cannot watch fd >= FD_SETSIZE: " + result["reason"]
        document["results"].append(result)


def _memory_targets(scenario: Scenario, impls: tuple[str, ...], references: bool) -> list[Target]:
    """The servers of a memory scenario: our default variants (and the extra models the targets
    name), and the references of its behaviour; never a select() loop."""
    behaviour = scenario.params["behaviour"]
    targets = servers.implementations(behaviour, impls)
    if references:
        targets += servers.references(behaviour)
    return _paired(targets, MEMORY_TARGETS)


def _run_memory(bench: Bench, document: dict, scenario: Scenario, targets: list[Target], count: int,
                bar, task) -> None:
    """The memory scenario: ``memory_runs`` rounds, each server started afresh for each measurement,
    every other round backwards (ABBA)."""
    results = {t.id: {"scenario": scenario.id, "server": t.id, "kind": t.kind, "behaviour": t.behaviour,
                      "label": t.label, "status": "ok", "reason": None, "runs": [], "median": None}
               for t in targets}
    for run in range(bench.settings.memory_runs):
        for target in targets if run % 2 == 0 else targets[::-1]:
            bar.update(task, description=f"{scenario.id} · {target.id}")
            result = results[target.id]
            why = target.missing()
            if why is not None:
                result.update(status="skipped", reason=why)
                bar.advance(task)
                continue
            try:
                figures = bench.measure_memory(scenario, target, count)
            except (ServerError, clients.ToolError, OSError, ValueError, KeyError) as error:
                result.update(status="error", reason=f"{error}"[:600])
            else:
                result["runs"].append(figures)
                if figures["held"] < count or figures["dropped"]:
                    result.update(status="error", reason=f"{figures['held']} of {count} held, "
                                  f"{figures['failed']} failed, {figures['dropped']} dropped")
            bar.advance(task)
    for result in results.values():
        result["median"] = _held_median(result["runs"])
        document["per_connection"].append(result)


def _paired(targets: list[Target], table: list | None = None) -> list[Target]:
    """The measuring order: each implementation straight before the reference of its target.

    The machine is shared and its load drifts: what a ratio compares is best measured seconds
    apart, not a whole round of servers apart.
    """
    by_id = {target.id: target for target in targets}
    order: list[Target] = []
    for target in targets:
        if target.kind != "implementation" or target in order:
            continue
        order.append(target)
        # A baseline (--baseline) goes between the implementation and its reference: each of the
        # three ratios (now, then, now against then) is of servers measured seconds apart.
        order += [t for t in targets if t.kind == "baseline" and t.id.startswith(f"{target.id}@")]
        for _, _, _, ours, reference, goal in TARGETS if table is None else table:
            if goal and ours == target.id and reference in by_id and by_id[reference] not in order:
                order.append(by_id[reference])
    return order + [target for target in targets if target not in order]


def _baseline_rows(table: list, commit: str) -> list:
    """For an A/B run: each row of ``table`` measured on our side at ``commit`` too, and each
    implementation against itself at ``commit`` on the scenarios those rows use (no target: the
    finding is whether it stays within noise of 1.0)."""
    rows, seen = [], set()
    for rid, title, scenario, ours, reference, goal in table:
        if reference is None:
            continue
        then = f"{ours}@{commit}"  # rows whose "ours" is a reference find no results and are left out
        rows.append((f"{rid}@{commit}", f"{title}, at {commit}", scenario, then, reference, goal))
        if (ours, scenario) not in seen:
            seen.add((ours, scenario))
            rows.append((f"{ours}-{scenario}-vs-{commit}", f"{ours} now vs at {commit} ({scenario})",
                         scenario, ours, then, None))
    return rows


def _alive(bench: Bench, target: Target, running: dict, result: dict) -> servers.Running | None:
    """The target's server, restarted if it died (the result says so), or None if it cannot be."""
    server = running.get(target.id)
    if server is None or not server.alive():
        why = f"server exited (status {server.proc.returncode}): {server.stderr_tail(300)}" if server else ""
        try:
            if server:
                server.stop()
            running[target.id] = server = servers.start(target, bench.server_core, MULTIPORT_PORTS)
        except (ServerError, OSError) as error:
            result.update(status="error", reason=f"{why} and did not restart: {error}")
            return None
        result["reason"] = result["reason"] or why
    return server


def _keep(server: servers.Running, figures: dict, result: dict) -> None:
    """Add one run's figures to a result; a server that died during the run counts as an error."""
    if not server.alive():
        figures["errors"] += 1
        figures["error_kinds"]["server_died"] = 1
        result["reason"] = f"server exited (status {server.proc.returncode}): {server.stderr_tail(300)}"
    result["runs"].append(figures)


def _measure_once(bench: Bench, scenario: Scenario, target: Target, running: dict, result: dict) -> None:
    server = _alive(bench, target, running, result)
    if server is None:
        return
    try:
        figures = bench.measure(scenario, server)
    except (clients.ToolError, OSError, ValueError, KeyError) as error:
        result.update(status="error", reason=f"client failed: {error}")
        return
    _keep(server, figures, result)


def _stream_units(scenario: Scenario, order: list[Target]) -> list[list[Target]]:
    """The streaming scenario's servers in measuring order, each implementation together with the
    reference of its streaming target (they take turns, stream by stream), every other one alone."""
    pairs = {frozenset((ours, reference)) for _, _, sc, ours, reference, goal in TARGETS
             if sc == scenario.id and goal}
    units: list[list[Target]] = []
    for target in order:
        if units and len(units[-1]) == 1 and frozenset((units[-1][0].id, target.id)) in pairs:
            units[-1].append(target)
        else:
            units.append([target])
    return units


def _measure_streams(bench: Bench, scenario: Scenario, order: list[Target], running: dict, results: dict,
                     reasons: dict, first_round: bool, bar, task) -> None:
    """One round of the streaming scenario, unit by unit (see _stream_units)."""
    for unit in _stream_units(scenario, order):
        bar.update(task, description=f"{scenario.id} · {' + '.join(target.id for target in unit)}")
        ready = []
        for target in unit:
            result = results[(scenario.id, target.id)]
            if target.id in reasons:
                result.update(status="skipped", reason=reasons[target.id])
            elif (server := _alive(bench, target, running, result)) is not None:
                ready.append((target, server, result))
        if ready:
            try:
                figures = bench.measure_streams([server for _, server, _ in ready], warm_up=first_round)
            except (clients.ToolError, OSError, ValueError, KeyError) as error:
                for _, _, result in ready:
                    result.update(status="error", reason=f"client failed: {error}")
            else:
                for target, server, result in ready:
                    _keep(server, figures[target.id], result)
        bar.advance(task, len(unit))
