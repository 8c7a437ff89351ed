"""The fetch benchmark: each implementation's client fetching 20,000 URLs from nginx, against references.

    python -m netrosetta.bench.fetch [--impl raw,twisted,tornado,asyncio] [--urls N] [--concurrency C]
                                     [--rounds R] [--out DIR]
    make bench-fetch [ARGS=...]

Here the client is what is measured and nginx (``return 200 $request_uri``, one process) is the
server, pinned to one core while every client runs pinned to the other. Each client GETs the same N
URLs (default 20,000) at concurrency C (default 50) and must print a ``200`` line for every one;
its CPU time (user + system, from wait4, the interpreter's start-up included, spread over the N
URLs) divided by N is the headline, with requests per second beside it. References, measured in the
same rounds: wrk (the C limit: one thread, C keep-alive connections, for as long as the slowest
client took, at most 5 s), Node.js's built-in ``fetch`` and aiohttp's client on uvloop
(``pip install 'netrosetta[bench]'``), the Python anchor: the issue's target is raw's fetch at 1.0x
aiohttp or better by client CPU per request. Rounds alternate their order (ABBA), and each ratio is
the median of the per-round ratios, as in ``netrosetta bench``.

Output: ``DIR/fetch.json`` (schema ``netrosetta-bench-fetch/1``: settings, machine, every run, the
medians and the ratios) and ``DIR/fetch.md``, and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from netrosetta.bench import clients, servers
from netrosetta.bench.servers import REFERENCES, REPO, find_program
from netrosetta.registry import BEHAVIOURS, IMPLEMENTATIONS

SCHEMA = "netrosetta-bench-fetch/1"
ANCHOR = "aiohttp-uvloop"
# The target: raw fetch at least this, by client CPU per request, against the anchor.
TARGET = ("raw", 1.0)
RUN_TIMEOUT = 300.0


def clients_to_run(impls: Sequence[str], concurrency: int,
                   urls_file: str) -> list[tuple[str, str, list[str]]]:
    """(id, kind, argv) of every client: ours, then the references that can run here."""
    runs = [(impl, "implementation",
             [sys.executable, "-m", f"impl_{impl}", "fetch", "--quiet", "--concurrency", str(concurrency),
              "-"])
            for impl in impls]
    try:
        import aiohttp  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        sys.stderr.write("bench fetch: aiohttp or uvloop missing (pip install 'netrosetta[bench]'): "
                         f"no {ANCHOR} reference\n")
    else:
        runs.append((ANCHOR, "reference",
                     [sys.executable, str(REFERENCES / "aiohttp_fetch.py"), str(concurrency), urls_file]))
    node = find_program("node")
    if node:
        runs.append(("node-fetch", "reference", [node, str(REFERENCES / "node_fetch.js"), str(concurrency),
                                                 urls_file]))
    return runs


def run_one(argv: list[str], core: int | None, urls_file: str, count: int) -> dict:
    """Run one client to its end, URLs on stdin; its wall time, CPU time and how many 200 lines."""
    with open(urls_file) as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
        proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, cwd=REPO,
                                env=dict(os.environ, PYTHONPATH=str(REPO)), preexec_fn=pin)
        try:
            status, cpu = clients._wait_bounded(proc, RUN_TIMEOUT)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.monotonic() - start
        out.seek(0)
        ok = sum(1 for line in out.read().decode("utf-8", "replace").splitlines() if line.startswith("200 "))
        err.seek(0)
        problem = err.read().decode("utf-8", "replace").strip()[-300:]
    figures = {"status": status, "seconds": round(wall, 4), "cpu_s": round(cpu, 4), "ok": ok,
               "requests_per_s": count / wall, "cpu_us_per_request": cpu / count * 1e6}
    if status != 0 or ok != count:
        figures["error"] = f"status {status}, {ok}/{count} fetched: {problem}"
    return figures


def run_wrk(port: int, concurrency: int, seconds: int, core: int | None) -> dict:
    """wrk for ``seconds`` at ``concurrency`` keep-alive connections: the C limit of a client."""
    path, reason = clients.wrk_status()
    if path is None:
        return {"error": f"wrk unavailable: {reason}"}
    report = clients.wrk(path, port, concurrency, seconds, core, RUN_TIMEOUT)
    requests = max(report["requests"], 1)
    return {"status": 0, "seconds": round(report["elapsed"], 4), "cpu_s": round(report["client_cpu_s"], 4),
            "ok": report["requests"] - report["errors"],
            "requests_per_s": report["requests"] / report["elapsed"],
            "cpu_us_per_request": report["client_cpu_s"] / requests * 1e6}


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds, print the table, write fetch.json and fetch.md."""
    parser = argparse.ArgumentParser(prog="python -m netrosetta.bench.fetch",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--impl", default=",".join(n for n in IMPLEMENTATIONS
                                                   if (REPO / f"impl_{n}" / "fetch.py").exists()))
    parser.add_argument("--urls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args(argv)
    impls = [name for name in args.impl.split(",") if name]
    assert BEHAVIOURS["fetch"].is_client
    from netrosetta.bench import _cores, machine

    server_core, client_core = _cores()
    nginx = servers.start(servers.references("urlecho")[0], server_core)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {}
    kinds: dict[str, str] = {}
    started = time.time()
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".urls", delete=False) as file:
            file.write("".join(f"http://127.0.0.1:{nginx.ports[0]}/fetch/{n}?q={n % 97}\n"
                               for n in range(args.urls)))
            urls_file = file.name
        plan = clients_to_run(impls, args.concurrency, urls_file)
        for round_number in range(args.rounds):
            order = plan if round_number % 2 == 0 else list(reversed(plan))
            for client, kind, command in order:
                kinds[client] = kind
                figures = run_one(command, client_core, urls_file, args.urls)
                runs.setdefault(client, []).append(figures)
                print(f"round {round_number + 1} {client}: {figures['cpu_us_per_request']:.1f} us/request, "
                      f"{figures['requests_per_s']:,.0f} requests/s" + (f" ({figures['error']})"
                                                                        if "error" in figures else ""))
            slowest = max(figures["seconds"] for figures in (runs[c][-1] for c, _, _ in plan))
            kinds["wrk"] = "reference"
            runs.setdefault("wrk", []).append(run_wrk(nginx.ports[0], args.concurrency,
                                                      max(1, round(min(slowest, 5))), client_core))
    finally:
        nginx.stop()
        os.unlink(urls_file)
    medians = {client: {key: _median([r.get(key) for r in rounds if "error" not in r])
                        for key in ("seconds", "cpu_s", "requests_per_s", "cpu_us_per_request")}
               for client, rounds in runs.items()}
    ratios = []
    for client in [*impls, "node-fetch", "wrk"]:
        if client not in runs or ANCHOR not in runs:
            continue
        rounds = [anchor["cpu_us_per_request"] / ours["cpu_us_per_request"]
                  if "error" not in anchor and "error" not in ours else None
                  for ours, anchor in zip(runs[client], runs[ANCHOR], strict=False)]
        target = TARGET[1] if client == TARGET[0] else None
        headline = _median(rounds)
        ratios.append({"client": client, "reference": ANCHOR, "cpu_ratio": headline,
                       "cpu_ratio_rounds": rounds, "target": target,
                       "met": None if target is None or headline is None else headline >= target})
    document = {
        "schema": SCHEMA, "started": started, "wall_s": round(time.time() - started, 1),
        "machine": machine(server_core, client_core),
        "settings": {"urls": args.urls, "concurrency": args.concurrency, "rounds": args.rounds,
                     "server": "nginx return 200 $request_uri"},
        "clients": [{"id": client, "kind": kinds[client]} for client in runs],
        "runs": runs, "medians": medians, "ratios": ratios,
    }
    (out / "fetch.json").write_text(json.dumps(document, indent=1) + "\n")
    table = markdown(document)
    (out / "fetch.md").write_text(table)
    print(table)
    return 0


def markdown(document: dict) -> str:
    """The tables: every client's medians, then the ratios to the anchor."""
    settings = document["settings"]
    lines = [f"### fetch: {settings['urls']:,} URLs from nginx at concurrency {settings['concurrency']} "
             f"(median of {settings['rounds']} rounds)", "",
             "| client | kind | requests/s | client CPU µs/request | wall s |", "|---|---|---|---|---|"]
    for entry in document["clients"]:
        m = document["medians"][entry["id"]]
        if m["cpu_us_per_request"] is None:
            error = next((r.get("error") for r in document["runs"][entry["id"]] if "error" in r), "failed")
            lines.append(f"| {entry['id']} | {entry['kind']} | — | — | {error} |")
            continue
        lines.append(f"| {entry['id']} | {entry['kind']} | {m['requests_per_s']:,.0f} | "
                     f"{m['cpu_us_per_request']:.1f} | {m['seconds']:.2f} |")
    lines += ["", f"Ratio: {ANCHOR}'s client CPU per request / this client's (above 1: it spends less), "
                  "median of the per-round ratios.", "",
              "| client | vs | CPU ratio | each round | target | verdict |", "|---|---|---|---|---|---|"]
    for ratio in document["ratios"]:
        rounds = " ".join(f"{r:.2f}" if r is not None else "—" for r in ratio["cpu_ratio_rounds"])
        headline = f"{ratio['cpu_ratio']:.2f}x" if ratio["cpu_ratio"] is not None else "—"
        target = f">= {ratio['target']:.1f}x" if ratio["target"] else "—"
        verdict = "—" if ratio["met"] is None else ("met" if ratio["met"] else "missed")
        lines.append(f"| {ratio['client']} | {ratio['reference']} | {headline} | {rounds} | {target} "
                     f"| {verdict} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
