"""What the benchmark shows: the ratios against the targets, tables (stdout, Markdown) and charts."""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

# -- derived figures ----------------------------------------------------------------------------


def _result(document: dict, scenario: str, server: str) -> dict | None:
    for result in document["results"]:
        if result["scenario"] == scenario and result["server"] == server:
            return result
    return None


def _median(document: dict, scenario: str, server: str) -> dict | None:
    result = _result(document, scenario, server)
    if not result or result["status"] == "skipped" or not result["median"]:
        return None
    return result["median"]


def _metric(document: dict, scenario: str) -> str:
    for each in document["scenarios"]:
        if each["id"] == scenario:
            return each["metric"]
    return "requests_per_s"


# nginx's keep-alive rate on this scenario is the machine's speed seen from C, beside the index.
NGINX_SCENARIO = "urlecho-keepalive-c50"


def derive(document: dict, targets: list, rss_limit: float, client_bound: float) -> None:
    """Fill in ratios, the memory check and the scaling slowdowns from the results."""
    for rid, title, scenario, ours, reference, target in targets:
        if reference is None:
            if rid == "raw-multiport-echo":
                _ratio(document, rid, title, scenario, "echo-1k-c100", ours, ours, target, client_bound)
            continue
        _ratio(document, rid, title, scenario, scenario, ours, reference, target, client_bound)
    for result in document["results"]:
        if result["scenario"] != "echo-stream" or result["status"] == "skipped":
            continue
        peak = result["median"]["server_peak_rss_mib"] if result["median"] else None
        document["memory"].append({"server": result["server"], "kind": result["kind"], "peak_rss_mib": peak,
                                   "limit_mib": rss_limit, "met": None if peak is None else peak < rss_limit})
    nginx = _median(document, NGINX_SCENARIO, "nginx")
    document["nginx_keepalive"] = None if nginx is None else {
        "requests_per_s": nginx["requests_per_s"], "cpu_us_per_request": nginx["server_cpu_us_per_request"]}
    servers = [s["id"] for s in document["servers"] if s["group"] == "scaling"]
    for server in servers:
        base = _median(document, "scaling-c10", server)
        idle = _median(document, "scaling-c10-idle", server)
        if base is None and idle is None:
            continue
        rate = base["requests_per_s"] if base else None
        rate_idle = idle["requests_per_s"] if idle else None
        document["scaling"].append({
            "server": server, "requests_per_s": rate, "requests_per_s_idle": rate_idle,
            "ratio": rate_idle / rate if rate and rate_idle is not None else None,
            "cpu_us_per_request": base["server_cpu_us_per_request"] if base else None,
            "cpu_us_per_request_idle": idle["server_cpu_us_per_request"] if idle else None,
            "idle_open": idle["idle_open"] if idle else None,
            "idle_failed": idle["idle_failed"] if idle else None,
            "idle_dropped": idle["idle_dropped"] if idle else None,
            "over": _over(document, server),
        })


def _held(document: dict, scenario: str, server: str) -> dict | None:
    for result in document.get("per_connection", []):
        if result["scenario"] == scenario and result["server"] == server:
            return result
    return None


def derive_memory(document: dict, targets: list) -> None:
    """Fill in the memory targets' ratios (ours / the reference in KiB per connection, lower is better),
    paired round by round where both sides have every round."""
    document.setdefault("memory_ratios", [])
    for rid, title, scenario, ours, reference, target in targets:
        mine, theirs = _held(document, scenario, ours), _held(document, scenario, reference)
        if not mine or not theirs or not mine["median"] or not theirs["median"]:
            continue
        ours_kib, their_kib = mine["median"]["kib_per_connection"], theirs["median"]["kib_per_connection"]
        if ours_kib is None or not their_kib or their_kib <= 0:
            continue
        if len(mine["runs"]) == len(theirs["runs"]):
            rounds = [a["kib_per_connection"] / b["kib_per_connection"]
                      if a["kib_per_connection"] is not None and b["kib_per_connection"] else None
                      for a, b in zip(mine["runs"], theirs["runs"], strict=True)]
        else:
            rounds = [ours_kib / their_kib]
        ratio = _median_of(rounds)
        document["memory_ratios"].append({
            "id": rid, "title": title, "scenario": scenario, "server": ours, "reference": reference,
            "kib_per_connection": ours_kib, "reference_kib_per_connection": their_kib, "ratio": ratio,
            "rounds": rounds, "target": target, "met": None if ratio is None else ratio <= target,
        })


def _over(document: dict, server: str) -> dict | None:
    result = _result(document, "scaling-c10-idle-over", server)
    if not result or not result["median"]:
        return None
    m = result["median"]
    return {"requests_per_s": m["requests_per_s"], "errors": m["errors"], "idle_open": m["idle_open"],
            "idle_failed": m["idle_failed"]}


def _ratios(mine: dict, theirs: dict, metric: str) -> tuple[float | None, float | None]:
    """(throughput ratio, CPU ratio) of two sets of figures; CPU is per request, or per MiB streamed."""
    throughput = mine[metric] / theirs[metric] if theirs[metric] else None
    cpu_mine, cpu_theirs = mine["server_cpu_us_per_request"], theirs["server_cpu_us_per_request"]
    if metric == "mib_per_s":  # a stream is one "request": compare CPU per byte
        streams_mine = mine.get("stream_cpu_us_per_mib") or []
        streams_theirs = theirs.get("stream_cpu_us_per_mib") or []
        if streams_mine and streams_theirs:
            # Each side's median stream: they took turns, so both medians come from the same
            # seconds, and a stream spoilt by a burst of other work moves neither.
            return throughput, statistics.median(streams_theirs) / statistics.median(streams_mine)
        cpu_mine = mine["server_cpu_s"] / max(mine["mib_per_s"] * mine["seconds"], 1e-9)
        cpu_theirs = theirs["server_cpu_s"] / max(theirs["mib_per_s"] * theirs["seconds"], 1e-9)
    cpu = cpu_theirs / cpu_mine if cpu_mine and cpu_theirs else None
    return throughput, cpu


def _ratio(document: dict, rid: str, title: str, scenario: str, ref_scenario: str, ours: str,
           reference: str, target: float | None, client_bound: float) -> None:
    mine = _median(document, scenario, ours)
    theirs = _median(document, ref_scenario, reference)
    if mine is None or theirs is None:
        return
    metric = _metric(document, scenario)
    bound = (theirs["client_cpu_share"] or 0) >= client_bound
    # A stream's throughput is whichever side is slower: its server CPU per MiB is the headline.
    by_cpu = bound or metric == "mib_per_s"
    # Paired: round i of ours against round i of the reference, measured seconds apart, then the
    # median over the rounds. The machine's load drifts between rounds; within a pair it is shared.
    runs_mine = _result(document, scenario, ours)["runs"]
    runs_theirs = _result(document, ref_scenario, reference)["runs"]
    if len(runs_mine) == len(runs_theirs):
        pairs = [_ratios(a, b, metric) for a, b in zip(runs_mine, runs_theirs, strict=True)]
    else:  # a round failed on one side: the pairs are lost, compare the medians
        pairs = [_ratios(mine, theirs, metric)]
    throughput = _median_of([t for t, _ in pairs])
    cpu = _median_of([c for _, c in pairs])
    rounds = [c if by_cpu and c is not None else t for t, c in pairs]
    headline = cpu if by_cpu and cpu is not None else throughput
    note = ("a stream's throughput is whichever side is slower: CPU per MiB is the fair ratio"
            if metric == "mib_per_s" else
            "client core saturated on the reference: CPU per request is the fair ratio" if bound else "")
    document["ratios"].append({
        "id": rid, "title": title, "scenario": scenario, "server": ours, "reference": reference,
        "metric": metric, "throughput_ratio": throughput, "cpu_ratio": cpu, "client_bound": bound,
        "headline": headline, "headline_rounds": rounds, "target": target,
        "met": None if target is None or headline is None else headline >= target, "note": note,
    })


def _median_of(values: list[float | None]) -> float | None:
    numbers = [v for v in values if v is not None]
    return statistics.median(numbers) if numbers else None


# -- text ----------------------------------------------------------------------------------------

def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


COLUMNS = ("server", "req/s", "MiB/s", "p50 ms", "p99 ms", "CPU µs/req", "peak RSS MiB", "client CPU",
           "errors")


def _row(result: dict, stream: bool = False) -> list[str]:
    if result["status"] == "skipped":
        return [result["server"], "skipped", "", "", "", "", "", "", result["reason"] or ""]
    m = result["median"]
    if not m:
        return [result["server"], "error", "", "", "", "", "", "", result["reason"] or ""]
    if stream:  # one "request" of N MiB: the rate is MiB/s, the CPU cost is per MiB
        mib = m["mib_per_s"] * m["seconds"]
        rate, latency = "—", ("—", "—")
        cpu = _num(m["server_cpu_s"] / mib * 1e6 if mib else None, 0) + " /MiB"
    else:
        rate = _num(m["requests_per_s"])
        latency = (_num(m["latency_p50_ms"], 2), _num(m["latency_p99_ms"], 2))
        cpu = _num(m["server_cpu_us_per_request"], 1)
    return [
        result["server"], rate, _num(m["mib_per_s"], 1), *latency, cpu,
        _num(m["server_peak_rss_mib"], 1), f"{m['client_cpu_share'] * 100:.0f}%",
        str(m["errors"]) + (f" ({result['reason']})" if m["errors"] and result["reason"] else "") + _idle(m),
    ]


def _idle(m: dict) -> str:
    if not m["idle_requested"]:
        return ""
    text = f"; idle {m['idle_open']}/{m['idle_requested']} open"
    if m["idle_failed"]:
        text += f", {m['idle_failed']} refused"
    if m["idle_dropped"]:
        text += f", {m['idle_dropped']} dropped"
    return text


def _ratio_rows(document: dict) -> list[list[str]]:
    rows = []
    for r in document["ratios"]:
        short = (1 - r["headline"] / r["target"]) * 100 if r["headline"] is not None and r["target"] else 0
        verdict = "—" if r["met"] is None else ("met" if r["met"] else
                                                 f"missed by {short:.0f}%" if short >= 1 else
                                                 f"missed by {short:.1f}%")
        source = ("CPU/MiB" if r["metric"] == "mib_per_s" else
                  "CPU/req" if r["client_bound"] else "throughput")
        rows.append([r["title"], r["scenario"], _num(r["throughput_ratio"], 2) + "x",
                     _num(r["cpu_ratio"], 2) + "x",
                     source, _num(r["headline"], 3) + "x",
                     " ".join(_num(x, 2) for x in r["headline_rounds"]),
                     "—" if r["target"] is None else f">= {r['target']}x", verdict])
    return rows


MACHINE_COLUMNS = ("measure", "median", "range over the samples", "spread")


def machine_rows(document: dict) -> list[list[str]]:
    """The machine index, nginx's keep-alive rate, and impl_raw's normalised Python costs."""
    rows = []
    cal = document.get("calibration")
    if cal:
        samples = cal["samples_us"]
        rows.append([f"machine index ({cal['version']}, k iterations/s; higher is faster)",
                     f"{cal['index']:.0f} ({cal['us_per_iteration']:.3f} µs an iteration)",
                     f"{1000 / max(samples):.0f}–{1000 / min(samples):.0f}", f"{cal['spread'] * 100:.0f}%"])
    nginx = document.get("nginx_keepalive")
    if nginx:
        rows.append([f"nginx keep-alive ({NGINX_SCENARIO}), req/s", _num(nginx["requests_per_s"]),
                     f"{_num(nginx['cpu_us_per_request'], 1)} µs CPU/req", "—"])
    costs = document.get("python_costs")
    if costs:
        for label, figure, raw, unit in (
                ("raw urlecho: Python per keep-alive request", costs["urlecho"]["units_per_request"],
                 costs["urlecho"]["us_per_request"], "µs"),
                (f"raw stream: Python per MiB ({costs['stream']['read_bytes'] // 1024} KiB a read)",
                 costs["stream"]["units_per_mib"], costs["stream"]["us_per_mib"], "µs")):
            rows.append([f"{label}, calibration units",
                         f"{figure['median']:.2f} ({raw['median']:.2f} {unit})",
                         f"{figure['min']:.2f}–{figure['max']:.2f}",
                         f"{figure['iqr'] * 100:.0f}% interquartile"])
    return rows


RATIO_COLUMNS = ("ratio", "scenario", "throughput", "CPU/req", "headline from", "headline", "each round",
                 "target", "verdict")
MEMORY_RATIO_COLUMNS = ("ratio", "scenario", "ours KiB/conn", "reference KiB/conn", "ratio (lower is better)",
                        "each round", "target", "verdict")
PER_CONNECTION_COLUMNS = ("server", "kind", "behaviour", "KiB/conn echo", "KiB/conn urlecho",
                          "connections served/opened", "RSS before → with, MiB")


def _exceeded(value: float | None, target: float | None) -> str:
    """The verdict on a lower-is-better ratio: met, or by how much it is over."""
    if value is None or target is None:
        return "—"
    if value <= target:
        return "met"
    over = (value / target - 1) * 100
    return f"missed by {over:.0f}%" if over >= 1 else f"missed by {over:.1f}%"


def memory_ratio_rows(document: dict) -> list[list[str]]:
    """The memory targets of one run: ours and the reference in KiB per connection, the ratio."""
    return [[r["title"], r["scenario"], _num(r["kib_per_connection"], 2),
             _num(r["reference_kib_per_connection"], 2), _num(r["ratio"], 2) + "x",
             " ".join(_num(x, 2) for x in r["rounds"]), f"<= {r['target']}x",
             _exceeded(r["ratio"], r["target"])] for r in document.get("memory_ratios", [])]


def per_connection_rows(document: dict) -> list[list[str]]:
    """One row per server of the memory scenarios: KiB per connection for echo and for urlecho."""
    rows: dict[str, dict] = {}
    for result in document.get("per_connection", []):
        row = rows.setdefault(result["server"], {"kind": result["kind"], "behaviours": [], "cells": {}})
        behaviour = result["behaviour"]
        row["behaviours"].append(behaviour)
        m = result["median"]
        if result["status"] == "skipped" or not m:
            row["cells"][behaviour] = ("skipped" if result["status"] == "skipped" else "error",
                                       f"{behaviour}: {result['reason']}", "")
            continue
        kib = _num(m["kib_per_connection"], 2)
        served = f"{m['held']:,}/{m['requested']:,}"
        if m["failed"] or m["dropped"]:
            served += f" ({m['failed']:,} failed, {m['dropped']:,} dropped)"
        rss = f"{m['rss_before_kib'] / 1024:.1f} → {m['rss_with_kib'] / 1024:.1f}"
        several = len({r["behaviour"] for r in document["per_connection"] if r["server"] == result["server"]})
        prefix = f"{behaviour} " if several > 1 else ""
        row["cells"][behaviour] = (kib, prefix + served, prefix + rss)
    table = []
    for server, row in rows.items():
        cells = row["cells"]
        echo, urlecho = cells.get("echo", ("—", "", "")), cells.get("urlecho", ("—", "", ""))
        table.append([server, row["kind"], ", ".join(row["behaviours"]), echo[0], urlecho[0],
                      "; ".join(x for x in (echo[1], urlecho[1]) if x),
                      "; ".join(x for x in (echo[2], urlecho[2]) if x)])
    return table


def _md_table(columns: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"


def markdown(document: dict) -> str:
    """The whole report as Markdown (the README's Benchmark section is cut from this)."""
    m, s = document["machine"], document["settings"]
    parts = [
        f"# netrosetta bench ({document['mode']}, {document['started']})\n",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}; server pinned to core {m['server_core']}, clients to core "
        f"{m['client_core']}. {s['runs']} run(s) of {s['duration_s']} s per scenario (wrk {s['wrk_s']} s), "
        f"medians shown; peak RSS is the maximum over the runs. Wall time {document['wall_s']} s.\n",
    ]
    if document["ratios"]:
        parts.append("## Ratios against the targets\n")
        parts.append("Each ratio is the median over the rounds of ours / the reference measured just "
                     "before or after it (paired). Headline: the throughput ratio, or the server CPU per "
                     "request ratio where the reference run saturated the client core; *each round* "
                     "shows the headline ratio of every round, so the spread is in view.\n")
        parts.append(_md_table(RATIO_COLUMNS, _ratio_rows(document)))
    rows = machine_rows(document)
    if rows:
        parts.append("## The machine, and the Python above the system calls\n")
        parts.append("The machine index is a fixed pure-Python loop timed on the server core at the start "
                     "and the end of the run (netrosetta/bench/calibration.py); nginx's keep-alive rate is "
                     "the same machine seen from C. impl_raw's Python costs are measured in process with "
                     "the system calls faked (netrosetta/bench/inprocess.py) and divided by the loop's "
                     "time per iteration, so they compare across machines; the system calls are the floor "
                     "under them.\n")
        parts.append(_md_table(MACHINE_COLUMNS, rows))
    if document["memory"]:
        parts.append(f"## Memory: peak RSS while one client streams {s['stream_bytes'] // 2**20} MiB "
                     f"(`echo-stream`)\n")
        rows = [[x["server"], x["kind"], _num(x["peak_rss_mib"], 1),
                 "—" if x["met"] is None else ("yes" if x["met"] else "NO")] for x in document["memory"]]
        limit = document["memory"][0]["limit_mib"]
        parts.append(_md_table(("server", "kind", "peak RSS MiB", f"< {limit} MiB"), rows))
    if document["scaling"]:
        parts.append(f"## Scaling: 10 clients ping-pong beside {s['idle_scaling']} idle connections "
                     f"(`scaling-c10`, `scaling-c10-idle`)\n")
        rows = [[x["server"], _num(x["requests_per_s"]), _num(x["requests_per_s_idle"]),
                 _num(x["ratio"], 2) + "x", _num(x["cpu_us_per_request"], 1),
                 _num(x["cpu_us_per_request_idle"], 1), f"{x['idle_open']}/{s['idle_scaling']}",
                 str(x["idle_failed"]), str(x["idle_dropped"])] for x in document["scaling"]]
        parts.append(_md_table(("server", "req/s alone", "req/s beside idle", "ratio", "CPU µs/req alone",
                                "CPU µs/req beside idle", "idle served", "idle refused", "idle dropped"),
                               rows))
        over = [x for x in document["scaling"] if x["over"]]
        if over:
            parts.append(f"Beyond select's FD_SETSIZE: {s['idle_over']} idle connections, then 10 clients "
                         f"(`scaling-c10-idle-over`):\n")
            rows = [[x["server"], f"{x['over']['idle_open']}/{s['idle_over']}", str(x["over"]["idle_failed"]),
                     _num(x["over"]["requests_per_s"]), str(x["over"]["errors"])] for x in over]
            parts.append(_md_table(("server", "idle served", "idle refused", "req/s", "client errors"), rows))
    rows = per_connection_rows(document)
    if rows:
        conns = s.get("memory_conns", 0)
        parts.append(f"## Memory per connection: {conns:,} connections served once and held open "
                     "(`memory-echo`, `memory-urlecho`)\n")
        parts.append("Each server started afresh and warmed up; its RSS (VmRSS of the process and its "
                     "children) read before the connections and with all of them open, each used once "
                     "(one 1 KiB message echoed, or one keep-alive GET answered): (with - before) / "
                     f"connections held. Median of {s.get('memory_runs', 1)} fresh start(s). nginx is "
                     "one process here and preallocates its connection slots at start, so that part "
                     "of its cost is in its baseline.\n")
        parts.append(_md_table(PER_CONNECTION_COLUMNS, rows))
    if document.get("memory_ratios"):
        parts.append("## Memory per connection against the targets\n")
        parts.append("Ours / the reference in KiB per connection, the median over the rounds (each round "
                     "both started afresh, one after the other); lower is better.\n")
        parts.append(_md_table(MEMORY_RATIO_COLUMNS, memory_ratio_rows(document)))
    for scenario in document["scenarios"]:
        stream = scenario["metric"] == "mib_per_s"
        rows = [_row(r, stream) for r in document["results"] if r["scenario"] == scenario["id"]]
        if rows:
            parts.append(f"## {scenario['title']} (`{scenario['id']}`, {scenario['tool']})\n")
            parts.append(_md_table(COLUMNS, rows))
    skipped = [x for x in document["servers"] if x["status"] != "ok"]
    if skipped:
        parts.append("## Skipped servers\n")
        parts.append("".join(f"- {x['id']} ({x['group']}): {x['status']}: {x['reason']}\n" for x in skipped))
    return "\n".join(parts)


def print_tables(document: dict) -> None:
    """The tables on stdout (rich)."""
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    class Table(RichTable):
        """rich's Table, taking its title and cells as plain text: a scenario id in brackets or an
        error's "[Errno 24]" would otherwise be read as markup and vanish."""

        def __init__(self, title: str, **options: object) -> None:
            super().__init__(title=Text(title), **options)

        def add_row(self, *cells: str) -> None:
            super().add_row(*(Text(cell) for cell in cells))

    console = Console(width=140)
    for scenario in document["scenarios"]:
        results = [r for r in document["results"] if r["scenario"] == scenario["id"]]
        if not results:
            continue
        table = Table(f"{scenario['title']} [{scenario['id']}]", title_justify="left")
        for column in COLUMNS:
            table.add_column(column, justify="left" if column == "server" else "right")
        for result in results:
            table.add_row(*_row(result, scenario["metric"] == "mib_per_s"))
        console.print(table)
    if document["ratios"]:
        table = Table("Ratios against the targets", title_justify="left")
        for column in RATIO_COLUMNS:
            table.add_column(column)
        for row in _ratio_rows(document):
            table.add_row(*row)
        console.print(table)
    rows = machine_rows(document)
    if rows:
        table = Table("The machine, and the Python above the system calls", title_justify="left")
        for column in MACHINE_COLUMNS:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for title, columns, rows in (
            ("Memory per connection [memory-echo, memory-urlecho]", PER_CONNECTION_COLUMNS,
             per_connection_rows(document)),
            ("Memory per connection against the targets", MEMORY_RATIO_COLUMNS, memory_ratio_rows(document))):
        if rows:
            table = Table(title, title_justify="left")
            for column in columns:
                table.add_column(column)
            for row in rows:
                table.add_row(*row)
            console.print(table)
    if document["memory"]:
        table = Table("Peak RSS while streaming [echo-stream]", title_justify="left")
        for column in ("server", "peak RSS MiB", "under limit"):
            table.add_column(column)
        for x in document["memory"]:
            table.add_row(x["server"], _num(x["peak_rss_mib"], 1),
                          "—" if x["met"] is None else ("yes" if x["met"] else "NO"))
        console.print(table)


@contextlib.contextmanager
def progress(disabled: bool = False) -> Iterator:
    """A rich progress bar on stderr (a no-op stand-in when disabled)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), disable=disabled) as bar:
        yield bar


# -- charts ------------------------------------------------------------------------------------

def _bars(ax, document: dict, scenarios: list[str], metric: str, labels: list[str]) -> None:
    servers = []
    for result in document["results"]:
        if result["scenario"] in scenarios and result["server"] not in servers and result["median"]:
            servers.append(result["server"])
    width = 0.8 / max(len(scenarios), 1)
    for i, (scenario, label) in enumerate(zip(scenarios, labels, strict=True)):
        values = []
        for server in servers:
            median = _median(document, scenario, server)
            values.append(median[metric] if median and median[metric] is not None else 0)
        ax.barh([y + i * width for y in range(len(servers))], values, height=width, label=label)
    ax.set_yticks([y + width * (len(scenarios) - 1) / 2 for y in range(len(servers))], servers, fontsize=8)
    ax.invert_yaxis()
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    if len(scenarios) > 1:
        ax.legend(fontsize=7, loc="best")


def charts(document: dict, out: Path) -> list[Path]:
    """Small PNG bar charts, one per group; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = {r["scenario"] for r in document["results"] if r["median"]}
    written = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=72)
        plt.close(fig)
        written.append(path)

    def chart(name: str, title: str, scenarios: list[tuple[str, str]], metric: str, xlabel: str) -> None:
        chosen = [(s, label) for s, label in scenarios if s in present]
        if not chosen:
            return
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.35 * _count(document, [s for s, _ in chosen])
                                        * max(1, len(chosen)) ** 0.5))
        _bars(ax, document, [s for s, _ in chosen], metric, [label for _, label in chosen])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
        save(fig, name)

    chart("echo.png", "echo ping-pong (requests/s, higher is better)",
          [("echo-1k-c10", "1 KiB c=10"), ("echo-1k-c100", "1 KiB c=100"), ("echo-64k-c10", "64 KiB c=10"),
           ("echo-64k-c100", "64 KiB c=100")], "requests_per_s", "requests/s")
    chart("multiport.png", "multiport tagged lines (requests/s)",
          [("multiport-1k-c10", "1 KiB c=10"), ("multiport-1k-c100", "1 KiB c=100")], "requests_per_s",
          "requests/s")
    chart("urlecho.png", "urlecho (requests/s, higher is better)",
          [("urlecho-keepalive-c50", "keep-alive c=50"), ("urlecho-close-c50", "close per request c=50"),
           ("urlecho-keepalive-c50-idle100", "keep-alive c=50 + idle")], "requests_per_s", "requests/s")
    if "scaling-c10" in present:
        chosen = [s for s in ("scaling-c10", "scaling-c10-idle") if s in present]
        labels = ["alone", "beside idle"][:len(chosen)]
        n = _count(document, chosen)
        fig, (left, right) = plt.subplots(1, 2, figsize=(8, 0.8 + 0.4 * n), sharey=True)
        _bars(left, document, chosen, "requests_per_s", labels)
        left.set_title("10 clients: requests/s", fontsize=9)
        _bars(right, document, chosen, "server_cpu_us_per_request", labels)
        right.set_title("server CPU µs per request (lower is better)", fontsize=9)
        save(fig, "scaling.png")
    if "echo-stream" in present:
        n = _count(document, ["echo-stream"])
        fig, (left, right) = plt.subplots(1, 2, figsize=(8, 0.8 + 0.3 * n), sharey=True)
        _bars(left, document, ["echo-stream"], "mib_per_s", ["MiB/s"])
        left.set_title("one connection streaming (MiB/s)", fontsize=9)
        _bars(right, document, ["echo-stream"], "server_peak_rss_mib", ["peak RSS"])
        right.axvline(64, color="red", linestyle="--", linewidth=1)
        right.set_title("server peak RSS (MiB, limit 64)", fontsize=9)
        save(fig, "stream.png")
    held = [r for r in document.get("per_connection", []) if r["median"]
            and r["median"]["kib_per_connection"] is not None]
    if held:
        names = list(dict.fromkeys(r["server"] for r in held))
        behaviours = [b for b in ("echo", "urlecho") if any(r["behaviour"] == b for r in held)]
        fig, ax = plt.subplots(figsize=(7, 0.8 + 0.3 * len(names) * max(1, len(behaviours)) ** 0.5))
        width = 0.8 / len(behaviours)
        for i, behaviour in enumerate(behaviours):
            values = {r["server"]: r["median"]["kib_per_connection"] for r in held
                      if r["behaviour"] == behaviour}
            ax.barh([y + i * width for y in range(len(names))], [values.get(n, 0) for n in names],
                    height=width, label=behaviour)
        ax.set_yticks([y + width * (len(behaviours) - 1) / 2 for y in range(len(names))], names, fontsize=8)
        ax.invert_yaxis()
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        conns = document["settings"].get("memory_conns", 0)
        ax.set_title(f"resident memory per connection, {conns:,} held open (KiB, lower is better)",
                     fontsize=10)
        save(fig, "memory.png")
    ratios = [r for r in document["ratios"] if r["target"] is not None and r["headline"] is not None]
    if ratios:
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * len(ratios)))
        ys = range(len(ratios))
        colours = ["tab:green" if r["met"] else "tab:red" for r in ratios]
        ax.barh(list(ys), [r["headline"] for r in ratios], color=colours)
        ax.scatter([r["target"] for r in ratios], list(ys), marker="|", s=300, color="black", label="target")
        ax.set_yticks(list(ys), [r["title"] for r in ratios], fontsize=8)
        ax.invert_yaxis()
        ax.set_title("headline ratios against the targets (black mark)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        save(fig, "targets.png")
    return written


def _count(document: dict, scenarios: list[str]) -> int:
    return len({r["server"] for r in document["results"] if r["scenario"] in scenarios and r["median"]})


# -- the published runs: docs/bench/runs/, docs/bench/history.md and the README ----------------

README_BEGIN = ("<!-- bench:begin: written by `make bench-readme` from the published full runs "
                "(docs/bench/runs/) and the latest one (docs/bench/bench.json); not edited by hand -->")
README_END = "<!-- bench:end -->"
CHARTS = ("targets.png", "stream.png", "scaling.png", "memory.png", "echo.png", "urlecho.png",
          "multiport.png")
RUN_SCHEMA = "netrosetta-bench-run/1"
RUNS = "runs"  # under docs/bench: one summary per published full run
HISTORY = "history.md"  # under docs/bench: every published run, one row each
LAST_RUNS = 5  # the README judges the targets on the median of this many latest runs
# What each run's summary keeps of a ratio, and of a result's medians.
RATIO_KEYS = ("id", "title", "scenario", "server", "reference", "metric", "throughput_ratio", "cpu_ratio",
              "client_bound", "headline", "headline_rounds", "target", "met")
PER_CONNECTION_KEYS = ("requested", "held", "failed", "dropped", "kib_per_connection")
FIGURE_KEYS = ("requests_per_s", "mib_per_s", "server_cpu_s", "server_cpu_us_per_request",
               "server_peak_rss_mib", "client_cpu_share", "seconds", "errors")


def machine_line(document: dict) -> str:
    """The machine a run was measured on, in one line."""
    m = document["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
            f"Python {m['python']}")


def run_file(document: dict) -> str:
    """The name of a run's summary in docs/bench/runs/: its start, in UTC, sortable."""
    import datetime

    started = datetime.datetime.fromisoformat(document["started"]).astimezone(datetime.UTC)
    return started.strftime("%Y-%m-%dT%H%M%SZ") + ".json"


def run_summary(document: dict) -> dict:
    """What docs/bench keeps of every published full run: when, on what, how fast the machine ran
    Python that day, every ratio and every result's medians, and impl_raw's in-process costs."""
    nginx = document.get("nginx_keepalive")
    if nginx is None:  # runs from before the key: the same figure, from the results
        median = _median(document, NGINX_SCENARIO, "nginx")
        nginx = median and {"requests_per_s": median["requests_per_s"],
                            "cpu_us_per_request": median["server_cpu_us_per_request"]}
    return {
        "schema": RUN_SCHEMA, "started": document["started"], "finished": document["finished"],
        "wall_s": document["wall_s"], "machine": document["machine"], "machine_line": machine_line(document),
        "settings": document["settings"], "calibration": document.get("calibration"),
        "nginx_keepalive": nginx, "python_costs": document.get("python_costs"),
        "ratios": [{key: ratio.get(key) for key in RATIO_KEYS} for ratio in document["ratios"]],
        # Runs from before the memory scenario have neither key: their summaries stay as they were.
        **({"memory_ratios": document["memory_ratios"]} if "memory_ratios" in document else {}),
        **({"per_connection": [{"scenario": r["scenario"], "server": r["server"], "status": r["status"],
                                **{key: (r["median"] or {}).get(key) for key in PER_CONNECTION_KEYS}}
                               for r in document["per_connection"]]}
           if "per_connection" in document else {}),
        "results": [{"scenario": r["scenario"], "server": r["server"], "status": r["status"],
                     **{key: (r["median"] or {}).get(key) for key in FIGURE_KEYS}}
                    for r in document["results"]],
    }


def load_runs(directory: Path) -> list[dict]:
    """Every published run's summary, oldest first."""
    runs = [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]
    return sorted(runs, key=lambda run: run["started"])


def _date(run: dict) -> str:
    return run["started"][:16].replace("T", " ")


def _verdict(value: float | None, target: float | None) -> str:
    if value is None or target is None:
        return "—"
    if value >= target:
        return "met"
    short = (1 - value / target) * 100
    return f"missed by {short:.0f}%" if short >= 1 else f"missed by {short:.1f}%"


def _costs(run: dict) -> tuple[str, str]:
    costs = run.get("python_costs")
    if not costs:
        return "—", "—"
    return (f"{costs['urlecho']['units_per_request']['median']:.2f}",
            f"{costs['stream']['units_per_mib']['median']:.2f}")


def _index(run: dict) -> str:
    calibration = run.get("calibration")
    return f"{calibration['index']:.0f}" if calibration else "—"


def _nginx_rate(run: dict) -> str:
    nginx = run.get("nginx_keepalive")
    return _num(nginx["requests_per_s"]) if nginx else "—"


def targets_over_runs(runs: list[dict]) -> list[list[str]]:
    """For each target of the latest run: the median and range of its headline over the last
    LAST_RUNS runs, the latest beside them, and a verdict on the median. The memory targets follow
    (KiB per connection against the reference's, lower is better)."""
    recent = runs[-LAST_RUNS:]
    rows = []
    for key, field, lower in (("ratios", "headline", False), ("memory_ratios", "ratio", True)):
        for ratio in recent[-1].get(key, []):
            if ratio["target"] is None:
                continue
            values = [r[field] for run in recent for r in run.get(key, [])
                      if r["id"] == ratio["id"] and r[field] is not None]
            median = statistics.median(values) if values else None
            rows.append([ratio["title"], ratio.get("scenario") or "—", _num(median, 2) + "x",
                         f"{min(values):.2f}–{max(values):.2f}" if values else "—",
                         _num(ratio[field], 2) + "x", str(len(values)),
                         f"{'<=' if lower else '>='} {ratio['target']}x",
                         (_exceeded if lower else _verdict)(median, ratio["target"])])
    return rows


TARGET_COLUMNS = ("target", "scenario", "median", "range", "latest", "runs", "target",
                  "verdict (on the median)")
MACHINE_RUN_COLUMNS = ("run (UTC)", "machine index", "nginx keep-alive req/s", "raw urlecho Python/req",
                       "raw stream Python/MiB")


def machine_over_runs(runs: list[dict]) -> list[list[str]]:
    """For each run: the machine index, nginx's keep-alive rate and impl_raw's Python costs."""
    return [[_date(run), _index(run), _nginx_rate(run), *_costs(run)] for run in runs]


def history_markdown(runs: list[dict]) -> str:
    """docs/bench/history.md: every published full run, one row each, oldest first."""
    ids: list[str] = []
    titles: dict[str, str] = {}
    for run in runs:
        for ratio in run["ratios"] + run.get("memory_ratios", []):
            if ratio["target"] is not None and ratio["id"] not in ids:
                ids.append(ratio["id"])
                titles[ratio["id"]] = ratio["title"]
    columns = ["run (UTC)", "machine", "index", "nginx req/s", "raw urlecho Python/req",
               "raw stream Python/MiB", *ids]
    rows = []
    for run in runs:
        headline = {r["id"]: r["headline"] for r in run["ratios"]}
        headline.update({r["id"]: r["ratio"] for r in run.get("memory_ratios", [])})
        rows.append([f"[{_date(run)}]({RUNS}/{run_file(run)})", run["machine_line"], _index(run),
                     _nginx_rate(run), *_costs(run), *(_num(headline.get(i), 2) for i in ids)])
    return "\n".join([
        "# Every published full run\n",
        "Written by `make bench-readme` (netrosetta/bench/report.py), one row per run, oldest first; "
        "each links to its summary in `runs/`. *index*: the machine index, thousands of iterations "
        "per second of the fixed calibration loop (netrosetta/bench/calibration.py) on the server "
        "core, higher is faster. *Python/req*, *Python/MiB*: impl_raw's Python cost measured in "
        "process with the system calls faked, in calibration units (netrosetta/bench/inprocess.py). "
        "The other columns are each target's headline ratio; the targets: "
        + "; ".join(f"`{i}` {titles[i]}" for i in ids) + " (the memory targets' ratios: lower is better)"
        ". A dash: not measured in that run.\n",
        _md_table(columns, rows),
    ])


def readme_section(document: dict, runs: list[dict], docs: str = "docs/bench") -> str:
    """What the README shows: the targets over the last runs, then the latest run's tables."""
    s = document["settings"]
    started = document["started"].replace("T", " ").replace("+00:00", " UTC")
    recent = runs[-LAST_RUNS:]
    parts = [
        f"{len(runs)} published full run{'s' if len(runs) != 1 else ''}, every one in "
        f"[{docs}/{HISTORY}]({docs}/{HISTORY}). A target is met only where the median of the last "
        f"{LAST_RUNS} published runs" + (f" (so far {len(recent)})" if len(recent) < LAST_RUNS else "")
        + " meets it: one good day is not the measure.\n",
        f"### Targets over the last {len(recent)} published run{'s' if len(recent) != 1 else ''}\n",
        _md_table(TARGET_COLUMNS, targets_over_runs(runs)),
        "### The machine on those runs\n",
        "The machine index is a fixed pure-Python loop timed on the server core (thousands of "
        "iterations per second, higher is faster); nginx's keep-alive rate is the same machine seen "
        "from C. impl_raw's Python costs are measured in process, system calls faked, in units of "
        "that loop, so they compare across machines (docs/bench/why-slower-machines.md).\n",
        _md_table(MACHINE_RUN_COLUMNS, machine_over_runs(recent)),
        f"Latest full run: {started}, {machine_line(document)}; server on core "
        f"{document['machine']['server_core']}, clients on core {document['machine']['client_core']}; "
        f"{s['runs']} runs of {s['duration_s']:g} s per scenario, medians; {document['wall_s']:.0f} s in "
        f"all. Every table of that run: [{docs}/results.md]({docs}/results.md), its JSON: "
        f"[{docs}/bench.json]({docs}/bench.json).\n",
    ]
    sections = dict(_sections(markdown(document)))
    wanted = [
        ("Ratios against the targets", "targets.png", "Headline ratios against the targets"),
        ("Memory per connection against the targets", None, None),
        ("Memory per connection:", "memory.png", "Resident memory per connection"),
        ("Memory: peak RSS", "stream.png", "Streaming throughput and server peak RSS"),
        ("Scaling:", "scaling.png", "Scaling: requests/s and CPU per request beside idle connections"),
        ("echo 1 KiB ping-pong, 100 connections", "echo.png", "echo ping-pong"),
        ("urlecho keep-alive, 50 connections (", "urlecho.png", "urlecho"),
    ]
    for prefix, chart, alt in wanted:
        for title, body in sections.items():
            if title.startswith(prefix):
                if title == "Ratios against the targets":
                    title = "The latest run's ratios"
                parts.append(f"### {title}\n\n{body.strip()}\n")
                if chart:
                    parts.append(f"![{alt}]({docs}/{chart})\n")
                break
    return "\n".join(parts)


def _sections(text: str) -> Iterator[tuple[str, str]]:
    """(title, body) of each ``## `` section of a Markdown report."""
    title, body = None, []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            if title is not None:
                yield title, "".join(body)
            title, body = line[3:].strip(), []
        elif title is not None:
            body.append(line)
    if title is not None:
        yield title, "".join(body)


def replace_readme_section(readme: str, section: str) -> str:
    """README text with what lies between the bench markers replaced by ``section``."""
    begin, end = readme.find(README_BEGIN), readme.find(README_END)
    if begin == -1 or end < begin:
        raise ValueError(f"README has no {README_BEGIN!r} ... {README_END!r} markers")
    return readme[:begin + len(README_BEGIN)] + "\n\n" + section + "\n" + readme[end:]


def publish(results: Path, readme: Path, docs: Path) -> None:
    """Add a full run to ``docs``: its summary to runs/ (beside every earlier one), its JSON,
    Markdown and charts as the latest; then history.md and the README's tables."""
    import shutil

    document = json.loads((results / "bench.json").read_text())
    if document["mode"] != "full":
        raise ValueError(f"{results / 'bench.json'} is a --{document['mode']} run; "
                         "the README shows full runs only")
    (docs / RUNS).mkdir(parents=True, exist_ok=True)
    (docs / RUNS / run_file(document)).write_text(json.dumps(run_summary(document), indent=1) + "\n")
    shutil.copyfile(results / "bench.json", docs / "bench.json")
    shutil.copyfile(results / "bench.md", docs / "results.md")
    for chart in CHARTS:
        if (results / chart).exists():
            shutil.copyfile(results / chart, docs / chart)
    rebuild(readme, docs)


def rebuild(readme: Path, docs: Path) -> None:
    """Write history.md and the README's tables again from what ``docs`` holds (after a change to
    how they are shown: the runs themselves are never rewritten)."""
    document = json.loads((docs / "bench.json").read_text())
    runs = load_runs(docs / RUNS)
    (docs / HISTORY).write_text(history_markdown(runs))
    relative = docs.resolve().relative_to(readme.resolve().parent).as_posix()
    readme.write_text(replace_readme_section(readme.read_text(), readme_section(document, runs, relative)))


def main(argv: list[str] | None = None) -> int:
    """``python -m netrosetta.bench.report [RESULTS] [--readme README.md] [--docs docs/bench]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m netrosetta.bench.report",
                                     description="Add a full bench run to docs/bench and the README.")
    parser.add_argument("results", nargs="?", default="bench-results", help="a full run's --out directory")
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--docs", default="docs/bench")
    parser.add_argument("--rebuild", action="store_true",
                        help="add no run: write history.md and the README's tables again from --docs")
    args = parser.parse_args(argv)
    try:
        if args.rebuild:
            rebuild(Path(args.readme), Path(args.docs))
        else:
            publish(Path(args.results), Path(args.readme), Path(args.docs))
    except (OSError, ValueError, KeyError) as error:
        sys.stderr.write(f"netrosetta bench report: error: {error}\n")
        return 2
    print(f"rebuilt {args.docs}/{HISTORY} and {args.readme}" if args.rebuild
          else f"published {args.results} into {args.docs}/ and {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
