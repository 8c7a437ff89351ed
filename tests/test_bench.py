"""A tiny `netrosetta bench` (a few hundred requests per scenario): the schema, and clean figures.

Speed is never asserted here (the machine is shared); what must hold on any machine is that the
bench runs every implementation that exists, reports the missing ones as skipped, writes the JSON
its readers rely on, and that no client saw an error.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BEHAVIOUR_FILES = {"echo": "echo", "multiport": "multiport", "urlecho": "urlecho", "scaling": "echo"}
HELD_KEYS = {"requested": int, "held": int, "failed": int, "dropped": int, "processes": int,
             "rss_before_kib": int, "rss_with_kib": int, "kib_per_connection": float, "open_s": float}

FIGURE_KEYS = {
    "tool": str, "requests": int, "seconds": float, "requests_per_s": float, "mib_per_s": float,
    "latency_p50_ms": float, "latency_p90_ms": float, "latency_p99_ms": float, "latency_max_ms": float,
    "errors": int, "error_kinds": dict, "server_cpu_s": float, "server_cpu_us_per_request": float,
    "server_peak_rss_mib": float, "client_cpu_s": float, "client_cpu_share": float,
    "idle_requested": int, "idle_open": int, "idle_failed": int, "idle_dropped": int,
    "stream_cpu_us_per_mib": list,
}


def _check_type(where: str, value: object, kind: type) -> None:
    if kind is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        assert number, f"{where}: {value!r} is not a number"
    else:
        assert isinstance(value, kind), f"{where}: {value!r} is not {kind.__name__}"


def _check_figures(where: str, figures: dict) -> None:
    assert set(figures) == set(FIGURE_KEYS), f"{where}: keys {sorted(set(figures) ^ set(FIGURE_KEYS))} differ"
    for key, kind in FIGURE_KEYS.items():
        if figures[key] is None and key.startswith(("latency_", "server_cpu_us")):
            continue
        _check_type(f"{where}.{key}", figures[key], kind)


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "netrosetta.cli", "bench", "--tiny", "--no-references", "--no-progress",
         "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, (f"bench exited {done.returncode}\nstdout:\n{done.stdout}"
                                  f"\nstderr:\n{done.stderr}")
    return json.loads((out / "bench.json").read_text()), out, done


@pytest.mark.timeout(300)
def test_bench_schema(tiny_bench: tuple) -> None:
    """bench.json carries every documented field, with the documented types."""
    document, out, _ = tiny_bench
    assert document["schema"] == "netrosetta-bench/1"
    assert document["mode"] == "tiny"
    for key in ("started", "finished", "machine", "settings", "tools", "servers", "scenarios", "results",
                "ratios", "memory", "scaling", "per_connection", "memory_ratios", "wall_s"):
        assert key in document, f"bench.json lacks {key!r}"
    assert document["tools"]["loadgen"]["ok"] is True
    assert {"cpu", "cores", "server_core", "client_core", "pinned"} <= set(document["machine"])
    scenario_ids = {s["id"] for s in document["scenarios"]}
    assert {s["group"] for s in document["scenarios"]} == {"echo", "multiport", "urlecho", "scaling",
                                                           "memory"}
    for scenario in document["scenarios"]:
        assert scenario["metric"] in ("requests_per_s", "mib_per_s", "kib_per_connection")
        assert "{" not in scenario["title"], scenario  # every placeholder filled in
    assert document["settings"]["memory_conns"] == 200 and document["settings"]["memory_runs"] == 1
    for result in document["per_connection"]:
        assert result["scenario"] in ("memory-echo", "memory-urlecho")
        assert result["behaviour"] == result["scenario"].removeprefix("memory-")
        assert result["status"] in ("ok", "error", "skipped")
        for i, figures in enumerate([*result["runs"], *([result["median"]] if result["median"] else [])]):
            assert set(figures) == set(HELD_KEYS), f"{result['server']} {i}: {sorted(figures)}"
            for key, kind in HELD_KEYS.items():
                _check_type(f"{result['scenario']}/{result['server']} {i}.{key}", figures[key], kind)
    for server in document["servers"]:
        assert server["kind"] in ("implementation", "reference")
        assert server["status"] in ("ok", "skipped", "failed")
        assert (server["reason"] is None) == (server["status"] == "ok"), server
    for result in document["results"]:
        assert result["scenario"] in scenario_ids
        assert result["status"] in ("ok", "error", "skipped")
        for i, figures in enumerate(result["runs"]):
            _check_figures(f"{result['scenario']}/{result['server']} run {i}", figures)
        if result["median"] is not None:
            _check_figures(f"{result['scenario']}/{result['server']} median", result["median"])
    for entry in document["memory"]:
        assert entry["limit_mib"] == 64 and entry["met"] in (True, False, None)
    calibration = document["calibration"]
    assert calibration["version"] == "calibration/1" and calibration["us_per_iteration"] > 0
    assert len(calibration["parts"]) == 2, "the loop is timed at the start and the end of a run"
    costs = document["python_costs"]
    assert costs["urlecho"]["units_per_request"]["median"] > 0
    assert costs["stream"]["units_per_mib"]["median"] > 0
    assert document["nginx_keepalive"] is None  # --no-references
    assert (out / "bench.md").read_text().count("|") > 10
    assert list(out.glob("*.png")), "no chart written"


@pytest.mark.timeout(300)
def test_bench_every_implementation_has_clean_figures(tiny_bench: tuple) -> None:
    """Every implementation that exists produced figures with zero client errors; a missing one is skipped."""
    document, _, done = tiny_bench
    servers = {(s["group"], s["id"]): s for s in document["servers"]}
    measured = 0
    for result in document["results"]:
        group = next(s["group"] for s in document["scenarios"] if s["id"] == result["scenario"])
        server = servers[(group, result["server"])]
        impl = result["server"].split("-")[0]
        exists = (REPO / f"impl_{impl}" / f"{BEHAVIOUR_FILES[group]}.py").exists()
        if not exists:
            assert result["status"] == "skipped" and "not written yet" in result["reason"], result
            continue
        assert server["status"] == "ok", f"{server['id']} did not start: {server['reason']}"
        assert result["status"] == "ok", f"{result['scenario']} on {result['server']}: {result['reason']}"
        median = result["median"]
        assert median["errors"] == 0, f"{result['scenario']} on {result['server']}: {median['error_kinds']}"
        assert median["requests"] > 0 and median["requests_per_s"] > 0
        assert median["server_peak_rss_mib"] > 0
        measured += 1
    assert measured >= 4, f"only {measured} results measured\n{done.stdout[-3000:]}"
    # Every implementation's default variant held every connection of the memory scenario (and the
    # asyncio Protocol model too, for echo), and reported what it costs.
    held = {(r["scenario"], r["server"]): r for r in document["per_connection"]}
    expected = {(f"memory-{behaviour}", impl) for impl in ("raw", "twisted", "tornado", "asyncio")
                for behaviour in ("echo", "urlecho")} | {("memory-echo", "asyncio-protocol")}
    assert set(held) == expected, sorted(set(held) ^ expected)
    for (scenario, server), result in held.items():
        assert result["status"] == "ok", f"{scenario} on {server}: {result['reason']}"
        median = result["median"]
        assert median["held"] == median["requested"] == 200 and not median["failed"] and not median["dropped"]
        assert median["rss_with_kib"] > 0 and median["kib_per_connection"] is not None
    # The terminal's tables name their scenario ids too (in brackets, which rich must not eat as markup).
    assert "[memory-echo, memory-urlecho]" in done.stdout and "KiB/conn echo" in done.stdout
    assert "[echo-1k-c10]" in done.stdout and "[scaling-c10-idle]" in done.stdout
    # asyncio (both models where they apply) is in every table the others are in.
    servers_of = {}
    for result in document["results"]:
        servers_of.setdefault(result["scenario"], set()).add(result["server"])
    for scenario, ids in servers_of.items():
        if "raw" in ids:
            assert "asyncio" in ids, f"{scenario}: no asyncio"
        if scenario.startswith(("echo", "multiport", "scaling")) and "raw" in ids:
            assert "asyncio-protocol" in ids, f"{scenario}: no asyncio-protocol"
    assert "requests_per_s" not in done.stdout  # the table shows labels, not JSON keys
    assert "req/s" in done.stdout
    assert "tiny mode: " in done.stdout and "are rough" in done.stdout  # said in the terminal too


def test_calibration_loop_is_fixed() -> None:
    """The machine index's loop does the same work on every machine (its checksum) and reports a median."""
    from netrosetta.bench import calibration

    assert calibration._work(calibration.ITERATIONS) == calibration.CHECKSUM == 8_501_227
    result = calibration.calibrate(samples=3)
    assert result["us_per_iteration"] == pytest.approx(sorted(result["samples_us"])[1], abs=1e-4)
    assert abs(result["index"] * result["us_per_iteration"] - 1000) < 1e-6


def test_inprocess_drives_the_real_connection() -> None:
    """The in-process measurement answers every request it feeds, and normalises by the calibration loop."""
    from netrosetta.bench import inprocess

    assert inprocess.urlecho_sample(50) > 0 and inprocess.stream_sample(50) > 0
    costs = inprocess.measure(repeats=2)
    for figure in (costs["urlecho"]["units_per_request"], costs["stream"]["units_per_mib"]):
        assert 0 < figure["min"] <= figure["median"] <= figure["max"]
    assert "calibration units" in "\n".join(inprocess.describe(costs))


def test_streams_take_turns_and_pair_stream_by_stream() -> None:
    """In the streaming scenario an implementation and the reference of its streaming target take
    turns, and their CPU ratio is that of their median streams, not of their totals."""
    from netrosetta.bench import SCENARIOS, _stream_units, report, servers

    stream = next(scenario for scenario in SCENARIOS if scenario.params.get("stream"))
    order = servers.implementations("echo", ("raw", "twisted")) + servers.references("echo")[:2]
    order = [order[0], order[2], order[1], order[3]]  # raw, uvloop, twisted, the next reference
    units = [[target.id for target in unit] for unit in _stream_units(stream, order)]
    assert units[0] == ["raw", "uvloop"] and all(len(unit) == 1 for unit in units[1:]), units
    mine = {"mib_per_s": 500.0, "server_cpu_us_per_request": None, "server_cpu_s": 1.0, "seconds": 2.0,
            "stream_cpu_us_per_mib": [400.0, 400.0, 900.0]}
    theirs = dict(mine, stream_cpu_us_per_mib=[440.0, 480.0, 300.0])
    # One of ours spoilt by a burst (900): the medians, 440 / 400, leave it out.
    assert report._ratios(mine, theirs, "mib_per_s")[1] == pytest.approx(1.1)


def test_bench_bad_command_line() -> None:
    """A bad option is one line on stderr and exit status 2."""
    done = subprocess.run([sys.executable, "-m", "netrosetta.cli", "bench", "--impl", "nope"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown implementation" in done.stderr


def test_baseline_is_an_a_b_run_in_the_same_rounds(tmp_path: Path) -> None:
    """--baseline REV measures each implementation as it was at REV beside itself: its own files
    (a git archive), between the implementation and its reference, with a ratio now against then."""
    from netrosetta.bench import _baseline_rows, _paired, servers

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    commit = servers.export("HEAD", tmp_path)
    assert commit == head.stdout.strip()
    assert (tmp_path / "impl_raw" / "echo.py").read_bytes() == (REPO / "impl_raw" / "echo.py").read_bytes()
    ours = servers.implementations("urlecho", ("twisted",))
    then = servers.baselines(ours, commit, tmp_path)
    assert [(t.id, t.kind, t.tree) for t in then] == [(f"twisted@{commit}", "baseline", tmp_path)]
    order = _paired(ours + servers.references("urlecho") + then)
    assert [t.id for t in order[:3]] == ["twisted", f"twisted@{commit}", "twisted-web"]
    rows = {row[0]: row for row in _baseline_rows([("tw", "t", "sc", "twisted", "twisted-web", 0.9)], commit)}
    assert rows[f"tw@{commit}"][3:] == (f"twisted@{commit}", "twisted-web", 0.9)
    assert rows[f"twisted-sc-vs-{commit}"][3:] == ("twisted", f"twisted@{commit}", None)
    done = subprocess.run([sys.executable, "-m", "netrosetta.cli", "bench", "--baseline", "no-such-rev"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr


class _Corrupting(socketserver.BaseRequestHandler):
    """An echo that flips the last byte of what it sends back: the load generator must notice."""

    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data[:-1] + bytes([data[-1] ^ 1]))


class _Failing(socketserver.BaseRequestHandler):
    """An HTTP server that answers every request with a 500."""

    def handle(self) -> None:
        buffer = b""
        while chunk := self.request.recv(65536):
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                _, _, buffer = buffer.partition(b"\r\n\r\n")
                self.request.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("handler", "mode", "kind"), [(_Corrupting, "pingpong", "mismatch"),
                                                       (_Failing, "http", "status")])
def test_loadgen_counts_what_goes_wrong(handler: type, mode: str, kind: str) -> None:
    """The load generator counts a corrupted echo or an error status as client errors, never as requests."""
    from netrosetta.bench import clients

    binary = clients.build_loadgen()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        report = clients.loadgen(binary, mode, [server.server_address[1]], None, 60, conns=2, size=64,
                                 duration=0.3, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert report["requests"] == 0, report
    assert report["errors"] > 0 and report["error_kinds"][kind] > 0, report


def test_readme_shows_the_published_runs() -> None:
    """README.md's bench tables, docs/bench/history.md and the latest run's summary are exactly what
    `make bench-readme` writes from docs/bench/runs/ and docs/bench/bench.json (a full run, whose
    charts are all there): nobody retouched the numbers."""
    from netrosetta.bench import report

    document = json.loads((REPO / "docs" / "bench" / "bench.json").read_text())
    assert document["mode"] == "full" and document["schema"] == "netrosetta-bench/1"
    assert {r["id"] for r in document["ratios"] if r["target"] is not None} >= {
        "raw-echo", "raw-stream", "raw-urlecho", "twisted-echo", "tornado-echo", "twisted-urlecho",
        "tornado-urlecho"}
    runs = report.load_runs(REPO / "docs" / "bench" / "runs")
    assert runs and runs[-1] == json.loads(json.dumps(report.run_summary(document))), \
        "docs/bench/bench.json is not the latest published run"
    for run in runs:
        assert run["schema"] == report.RUN_SCHEMA and run["ratios"], run["started"]
    assert (REPO / "docs" / "bench" / "history.md").read_text() == report.history_markdown(runs)
    readme = (REPO / "README.md").read_text()
    begin, end = readme.index(report.README_BEGIN), readme.index(report.README_END)
    shown = readme[begin + len(report.README_BEGIN):end].strip()
    assert shown == report.readme_section(document, runs).strip(), "stale: make bench-readme"
    charts = ["targets.png", "stream.png", "scaling.png", "echo.png", "urlecho.png"]
    if document.get("per_connection"):  # runs from before the memory scenario have none
        charts.append("memory.png")
        assert "### Memory per connection:" in shown
    for chart in charts:
        assert f"docs/bench/{chart}" in shown and (REPO / "docs" / "bench" / chart).stat().st_size > 1000
    assert "missed by" not in shown or "### Where a target is missed" in readme[end:]


def test_verdicts_rest_on_the_median_of_the_last_runs() -> None:
    """A target is met only where the median of the last five runs meets it; older runs drop out."""
    from netrosetta.bench import report

    def run(day: int, headline: float) -> dict:
        return {"started": f"2026-12-{day:02d}T10:00:00+00:00", "ratios": [
            {"id": "raw-echo", "title": "raw echo", "headline": headline, "target": 1.0}]}

    runs = [run(1, 0.5), run(2, 0.5), run(3, 1.2), run(4, 0.9), run(5, 1.1), run(6, 1.0), run(7, 0.95)]
    [row] = report.targets_over_runs(runs)
    # The last five: 1.2 0.9 1.1 1.0 0.95, median 1.0; the latest 0.95 misses, the median meets.
    assert row == ["raw echo", "—", "1.00x", "0.90–1.20", "0.95x", "5", ">= 1.0x", "met"]
    [row] = report.targets_over_runs(runs[:5])
    assert row[2] == "0.90x" and row[-1] == "missed by 10%"


def test_publish_appends_a_run_and_replaces_only_the_marked_section(tmp_path: Path) -> None:
    """`make bench-readme` adds a full run to docs/bench/runs/ beside the earlier ones (never a quick
    one), and rewrites nothing of the README outside the markers."""
    from netrosetta.bench import report

    document = json.loads((REPO / "docs" / "bench" / "bench.json").read_text())
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench.md").write_text(report.markdown(document))
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{report.README_BEGIN}\nstale table\n{report.README_END}\nafter\n")
    docs = tmp_path / "docs"
    (results / "bench.json").write_text(json.dumps(dict(document, mode="quick")))
    with pytest.raises(ValueError, match="quick"):
        report.publish(results, readme, docs)
    (results / "bench.json").write_text(json.dumps(document))
    report.publish(results, readme, docs)
    later = dict(document, started="2026-12-24T10:00:00+00:00")
    (results / "bench.json").write_text(json.dumps(later))
    report.publish(results, readme, docs)
    report.publish(results, readme, docs)  # the same run again: still one file
    assert sorted(path.name for path in (docs / "runs").iterdir()) == [
        report.run_file(document), "2026-12-24T100000Z.json"]
    assert (docs / "history.md").read_text().count("](runs/") == 2
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{report.README_END}\nafter\n")
    assert "stale table" not in text and "| raw echo vs asyncio+uvloop Protocol |" in text
    assert "2 published full runs" in text and "(so far 2)" in text
    assert (docs / "results.md").read_text() == report.markdown(document)
    with pytest.raises(ValueError, match="markers"):
        report.replace_readme_section("no markers here", "x")


def _memory_document() -> dict:
    """A synthetic run of the memory scenarios: two implementations, their references, one failure."""
    def held(scenario: str, server: str, kind: str, kib: list[float | None], **extra: object) -> dict:
        runs = [{"requested": 10_000, "held": 10_000, "failed": 0, "dropped": 0, "processes": 1,
                 "rss_before_kib": 20_000, "rss_with_kib": 20_000 + round(k * 10_000),
                 "kib_per_connection": k, "open_s": 3.0} for k in kib if k is not None]
        from netrosetta.bench import _held_median

        result = {"scenario": scenario, "server": server, "kind": kind, "behaviour": scenario[7:],
                  "label": server, "status": "ok", "reason": None, "runs": runs, "median": _held_median(runs)}
        result.update(extra)
        return result

    document = json.loads((REPO / "docs" / "bench" / "bench.json").read_text())
    document["settings"].update(memory_conns=10_000, memory_runs=3)
    document["per_connection"] = [
        held("memory-echo", "raw", "implementation", [0.5, 0.6, 0.4]),
        held("memory-echo", "uvloop", "reference", [1.4, 1.3, 1.5]),
        held("memory-echo", "twisted", "implementation", [2.0, 2.2, 2.1]),
        held("memory-echo", "twisted-echoserv", "reference", [1.6, 1.7, 1.8]),
        held("memory-urlecho", "raw", "implementation", [1.2, 1.1, 1.3]),
        held("memory-urlecho", "twisted", "implementation", [4.8, 4.9, 4.7]),
        held("memory-urlecho", "twisted-web", "reference", [4.2, 4.3, 4.1]),
        held("memory-urlecho", "node-http", "reference", [None], status="skipped",
             reason="node is not installed"),
    ]
    document["memory_ratios"] = []
    return document


def test_memory_per_connection_targets_are_lower_is_better() -> None:
    """A memory target is met at or under its bound (ours / reference in KiB per connection, paired
    round by round), missed above it, and each verdict names its scenario id."""
    from netrosetta.bench import MEMORY_TARGETS, report

    document = _memory_document()
    report.derive_memory(document, MEMORY_TARGETS)
    ratios = {r["id"]: r for r in document["memory_ratios"]}
    # tornado and asyncio have no figures in this document: no ratio rather than a made-up one.
    assert set(ratios) == {"raw-memory-echo", "twisted-memory-echo", "twisted-memory-urlecho"}
    raw = ratios["raw-memory-echo"]
    assert raw["rounds"] == pytest.approx([0.5 / 1.4, 0.6 / 1.3, 0.4 / 1.5])
    assert raw["ratio"] == pytest.approx(0.5 / 1.4) and raw["met"] is True
    assert raw["scenario"] == "memory-echo"
    # twisted echo: 2.0/1.6, 2.2/1.7, 2.1/1.8 -> median 1.25 > 1.2: missed, by 4%.
    twisted = ratios["twisted-memory-echo"]
    assert twisted["ratio"] == pytest.approx(1.25) and twisted["met"] is False
    assert ratios["twisted-memory-urlecho"]["met"] is True  # 4.8 / 4.2 = 1.14
    rows = {row[0]: row for row in report.memory_ratio_rows(document)}
    assert rows["twisted echo memory/conn vs Twisted echoserv"][1:] == [
        "memory-echo", "2.10", "1.70", "1.25x", "1.25 1.29 1.17", "<= 1.2x", "missed by 4%"]
    assert rows["raw echo memory/conn vs uvloop"][-1] == "met"


def test_memory_per_connection_table_in_bench_md_and_readme() -> None:
    """bench.md has one row per server of the memory scenarios (echo and urlecho side by side), the
    memory targets, and the README section shows both with the memory chart, from the same JSON."""
    from netrosetta.bench import MEMORY_TARGETS, report

    document = _memory_document()
    report.derive_memory(document, MEMORY_TARGETS)
    text = report.markdown(document)
    sections = dict(report._sections(text))
    title = ("Memory per connection: 10,000 connections served once and held open "
             "(`memory-echo`, `memory-urlecho`)")
    assert title in sections, list(sections)
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in sections[title].splitlines()
            if line.startswith("| ") and not line.startswith("| server")}
    assert list(rows) == ["raw", "uvloop", "twisted", "twisted-echoserv", "twisted-web", "node-http"]
    assert rows["raw"][1:5] == ["implementation", "echo, urlecho", "0.50", "1.20"]
    assert rows["raw"][5] == "echo 10,000/10,000; urlecho 10,000/10,000"
    assert rows["uvloop"][3:6] == ["1.40", "—", "10,000/10,000"]
    assert rows["node-http"][3:5] == ["—", "skipped"] and "node is not installed" in rows["node-http"][5]
    assert "Memory per connection against the targets" in sections
    assert "| twisted echo memory/conn vs Twisted echoserv | memory-echo |" in text
    # Every ratio row names the scenario it came from, so a reader can rerun it with --scenario.
    for ratio in document["ratios"]:
        assert f"| {ratio['title']} | {ratio['scenario']} |" in text
    shown = report.readme_section(document, [report.run_summary(document)])
    assert f"### {title}" in shown and "(docs/bench/memory.png)" in shown
    assert "### Memory per connection against the targets" in shown
    assert "| twisted echo memory/conn vs Twisted echoserv | memory-echo | 1.25x |" in shown  # over the runs
    assert "missed by 4%" in shown
