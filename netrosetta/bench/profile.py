"""Profile a server under the benchmark's load: where a missed target goes, measured, not guessed.

    python -m netrosetta.bench.profile raw echo [--conns 100] [--size 1024] [--duration 3]
    python -m netrosetta.bench.profile raw urlecho --conns 50      # wrk keep-alive load
    python -m netrosetta.bench.profile raw echo --stream            # one connection streaming
    python -m netrosetta.bench.profile ref:uvloop_echo.py echo      # a reference script

The server runs under cProfile with a CPU-time clock (time.process_time), pinned to the server
core, while the load generator (or wrk) drives it from the other core; on SIGTERM it writes the
profile, and the top functions by own CPU time are printed. A CPU-time clock matters on a shared
machine: time spent waiting for the core (another process running) is not charged to a function.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import runpy
import sys
import tempfile
import time

from netrosetta.bench import clients, servers


def serve_profiled(out: str, argv: list[str]) -> None:
    """Run ``-m module args`` or ``script.py args`` in this process under cProfile; dump on exit."""
    profile = cProfile.Profile(time.process_time)
    target, args = argv[0], argv[1:]
    module = target == "-m"
    if module:
        target, args = args[0], args[1:]
    sys.argv = [target, *args]
    profile.enable()
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


def main(argv: list[str] | None = None) -> int:
    """Start the profiled server, load it, stop it, print the top of the profile."""
    parser = argparse.ArgumentParser(prog="python -m netrosetta.bench.profile")
    parser.add_argument("server", help="raw, twisted, tornado, or ref:SCRIPT (a reference script)")
    parser.add_argument("behaviour", choices=("echo", "multiport", "urlecho"))
    parser.add_argument("--conns", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--stream", action="store_true", help="one connection streaming 256 MiB")
    parser.add_argument("--close", action="store_true", help="urlecho: a new connection per request")
    parser.add_argument("--out", default="", help="where to keep the .prof file")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mktemp(prefix="netrosetta-", suffix=".prof")
    if args.server.startswith("ref:"):
        program = [str(servers.REFERENCES / args.server[4:])]
    else:
        program = ["-m", f"impl_{args.server}", args.behaviour, "--quiet"]
    target = servers.Target(id=f"profile-{args.server}", kind="reference", behaviour=args.behaviour,
                            label="profiled",
                            argv=(sys.executable, "-m", "netrosetta.bench.profile", "--serve", out, *program))
    server_core, client_core = (sorted(servers.os.sched_getaffinity(0)) + [None, None])[:2]
    running = servers.start(target, server_core, ports=3)
    try:
        loadgen = clients.build_loadgen()
        wait = args.duration + 120
        if args.stream:
            report = clients.loadgen(loadgen, "stream", running.ports, client_core, wait, total=256 << 20)
        elif args.behaviour == "urlecho" and not args.close:
            wrk, why = clients.wrk_status()
            if not wrk:
                raise SystemExit(f"wrk unavailable: {why}")
            report = clients.wrk(wrk, running.ports[0], args.conns, args.duration, client_core, wait)
        elif args.behaviour == "urlecho":
            report = clients.loadgen(loadgen, "http", running.ports, client_core, wait, conns=args.conns,
                                     close=True, duration=args.duration)
        else:
            report = clients.loadgen(loadgen, "pingpong", running.ports, client_core, wait, conns=args.conns,
                                     size=args.size, duration=args.duration,
                                     tagged=args.behaviour == "multiport")
    finally:
        running.stop()
    print(f"{report['requests']} requests, {report['bytes'] / 2**20:.1f} MiB in {report['elapsed']:.2f} s, "
          f"{report['errors']} errors; client CPU {report['client_cpu_s']:.2f} s; profile: {out}")
    stats = pstats.Stats(out)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve_profiled(sys.argv[2], sys.argv[3:])
    else:
        raise SystemExit(main())
