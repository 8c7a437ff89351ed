"""Reading the results shown beside the code: the conformance matrix and the benchmark files.

All are optional: a page says plainly when a result file is absent or unreadable, and never
shows figures it could not read. The urlecho page also reads the recorded "what each framework gives
you" table (docs/hardening/table.json, written by `make hardening`, see netrosetta/hardening.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

# A clause's letter names the behaviour it belongs to (conformance/SPEC.md's sections).
CLAUSE_BEHAVIOUR = {"E": "echo", "M": "multiport", "U": "urlecho", "F": "fetch"}


@dataclass
class Matrix:
    """The clause x variant matrix of one behaviour, or why there is none (``problem``)."""

    source: str
    problem: str = ""
    generated: str = ""
    variants: list[dict] = field(default_factory=list)
    clauses: list[dict] = field(default_factory=list)
    cells: dict[tuple[str, str], dict] = field(default_factory=dict)

    def counts(self, impl: str) -> dict[str, int]:
        """How many cells of each status the variants of one implementation have."""
        impl_variants = {v["id"] for v in self.variants if v.get("impl") == impl}
        tally: dict[str, int] = {}
        for (_, variant), cell in self.cells.items():
            if variant in impl_variants:
                tally[cell["status"]] = tally.get(cell["status"], 0) + 1
        return tally


def shown(path: Path, root: Path | None = None) -> str:
    """``path`` as a page shows it: relative to the repository ``root`` or to the current directory
    when it lies under one, so that a page (and the README's screenshot) names no machine's paths."""
    where = path.resolve()
    for base in (root, Path.cwd()):
        if base is not None and where.is_relative_to(base.resolve()):
            return where.relative_to(base.resolve()).as_posix()
    return str(path)


def _clause_key(clause: str) -> tuple:
    return (clause[:1], *(int(n) for n in re.findall(r"\d+", clause)))


def _behaviour_of(cell: dict) -> str | None:
    test = str(cell.get("test", ""))
    match = re.search(r"test_([a-z]+)(?:_\w+)?\.py::", test)  # test_urlecho_input.py: urlecho
    if match and match.group(1) in CLAUSE_BEHAVIOUR.values():
        return match.group(1)
    return CLAUSE_BEHAVIOUR.get(str(cell.get("clause", ""))[:1])


def load_matrix(path: Path, behaviour: str, root: Path | None = None) -> Matrix:
    """The rows of ``behaviour`` from a matrix.json (``netrosetta conformance`` or ``--matrix-json``);
    the page names it relative to ``root`` (see ``shown``)."""
    matrix = Matrix(shown(path, root))
    if not path.is_file():
        matrix.problem = f"no conformance results ({matrix.source} not found): run `netrosetta conformance`"
        return matrix
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in document["cells"] if _behaviour_of(c) == behaviour]
        for cell in cells:
            matrix.cells[(str(cell["clause"]), str(cell["variant"]))] = cell
    except (OSError, ValueError, KeyError, TypeError) as error:
        matrix.problem = f"{matrix.source} is not a conformance matrix ({type(error).__name__}: {error})"
        return matrix
    matrix.generated = str(document.get("generated", ""))
    used_variants = {variant for _, variant in matrix.cells}
    variants = [v for v in document.get("variants", [])
                if isinstance(v, dict) and v.get("id") in used_variants]
    listed = {v["id"] for v in variants}
    variants += [{"id": v, "impl": v.split("-")[0]} for v in sorted(used_variants - listed)]
    matrix.variants = variants
    titles = {str(c.get("id")): str(c.get("title", "")) for c in document.get("clauses", [])
              if isinstance(c, dict)}
    order = {clause: number for number, clause in enumerate(titles)}
    used_clauses = sorted({clause for clause, _ in matrix.cells},
                          key=lambda c: (order.get(c, len(order)), _clause_key(c)))
    matrix.clauses = [{"id": c, "title": titles.get(c, "")} for c in used_clauses]
    if not matrix.cells:
        matrix.problem = f"{matrix.source} has no results for {behaviour}"
    return matrix


@dataclass
class Bench:
    """Benchmark tables for one behaviour, one per result file, or why there are none."""

    source: str
    problem: str = ""
    tables: list[dict] = field(default_factory=list)  # {"title", "columns", "rows", "note"}


def _scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _records(document: object) -> list[dict]:
    """The list of result records in a bench file, wherever the file keeps it."""
    if isinstance(document, list):
        return [r for r in document if isinstance(r, dict)]
    if isinstance(document, dict):
        for key in ("results", "runs", "rows", "records"):
            if isinstance(document.get(key), list):
                return [r for r in document[key] if isinstance(r, dict)]
    return []


# (FIGURES key, column title) shown for each server of a scenario of netrosetta-bench/1.
BENCH_FIGURES = (
    ("requests_per_s", "requests/s"),
    ("mib_per_s", "MiB/s"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p99_ms", "p99 ms"),
    ("server_cpu_us_per_request", "server CPU µs/request"),
    ("server_peak_rss_mib", "peak RSS MiB"),
    ("errors", "errors"),
)


def _titled(scenario: dict) -> str:
    """A scenario's title with its id, the one ``netrosetta bench --scenario`` takes."""
    title, sid = scenario.get("title"), scenario.get("id")
    return f"{title} ({sid})" if title and sid else str(title or sid)


def _result_cells(result: dict, label: str | None) -> tuple[str, dict, str]:
    """A bench result's server label (references marked), its medians and its status line."""
    label = label or result.get("server")
    if result.get("kind") == "reference":
        label = f"{label} (reference)"
    median = result.get("median") if isinstance(result.get("median"), dict) else {}
    status = result.get("status", "")
    if status != "ok":
        status = f"{status}: {result.get('reason') or ''}".rstrip(": ")
    return label, median, status

def _bench_v1(document: dict, behaviour: str, name: str) -> list[dict]:
    """One table per scenario of ``behaviour`` from a ``netrosetta-bench/1`` file, ratios last."""
    servers = {s.get("id"): s for s in document.get("servers", []) if isinstance(s, dict)}
    scenarios = [s for s in document.get("scenarios", [])
                 if isinstance(s, dict) and s.get("group") == behaviour]
    machine = document.get("machine") or {}
    about = (f"{name}, {document.get('mode', '')} run, {document.get('started', '')}; "
             f"{machine.get('cpu', '')}, {machine.get('cores', '')} cores. Medians of the runs; "
             "compare ratios measured in one run, not absolute figures across runs.")
    tables = []
    for scenario in scenarios:
        results = [r for r in document.get("results", [])
                   if isinstance(r, dict) and r.get("scenario") == scenario.get("id")]
        if not results:
            continue
        # The scenario's own metric first; the other throughput figure is the same one, rescaled.
        metric = scenario.get("metric", "requests_per_s")
        figures = sorted((f for f in BENCH_FIGURES if f[0] == metric
                          or f[0] not in ("requests_per_s", "mib_per_s")), key=lambda f: f[0] != metric)
        shown = [(key, title) for key, title in figures
                 if any(isinstance(r.get("median"), dict) and r["median"].get(key) is not None
                        for r in results)]
        rows = []
        for result in results:
            label, median, status = _result_cells(result, servers.get(result.get("server"), {}).get("label"))
            rows.append([label, *[median.get(key) for key, _ in shown], status])
        tables.append({"title": _titled(scenario),
                       "columns": ["server", *[title for _, title in shown], "status"],
                       "rows": rows, "note": ""})
    # The memory scenario of this behaviour (group "memory"): KiB per connection with N held open.
    for scenario in document.get("scenarios", []):
        if not isinstance(scenario, dict) or scenario.get("group") != "memory" \
                or (scenario.get("params") or {}).get("behaviour") != behaviour:
            continue
        rows = []
        for result in document.get("per_connection", []):
            if not isinstance(result, dict) or result.get("scenario") != scenario.get("id"):
                continue
            label, median, status = _result_cells(result, result.get("label"))
            held = (f"{median['held']}/{median['requested']}" if "held" in median and "requested" in median
                    else None)
            rows.append([label, median.get("kib_per_connection"), held, status])
        if rows:
            tables.append({"title": _titled(scenario), "columns": ["server", "KiB per connection",
                                                                   "held / opened", "status"],
                           "rows": rows, "note": ""})
    ids = {s.get("id") for s in scenarios}
    ratios = [r for r in document.get("ratios", []) if isinstance(r, dict) and r.get("scenario") in ids]
    if ratios:
        rows = [[r.get("title") or r.get("id"), r.get("scenario"), r.get("throughput_ratio"),
                 r.get("cpu_ratio"), r.get("headline"), r.get("target"),
                 {True: "met", False: "NOT met"}.get(r.get("met"), "—"), r.get("note") or ""]
                for r in ratios]
        tables.append({"title": "Against the references (ours / reference)",
                       "columns": ["comparison", "scenario", "throughput ratio", "CPU ratio", "headline",
                                   "target", "", "note"], "rows": rows, "note": ""})
    memory = [r for r in document.get("memory_ratios", []) if isinstance(r, dict)
              and r.get("scenario") == f"memory-{behaviour}"]
    if memory:
        rows = [[r.get("title") or r.get("id"), r.get("scenario"), r.get("ratio"), r.get("target"),
                 {True: "met", False: "NOT met"}.get(r.get("met"), "—")] for r in memory]
        tables.append({"title": "Memory per connection against the references (ours / reference, lower is "
                                "better)", "columns": ["comparison", "scenario", "ratio", "at most", ""],
                       "rows": rows, "note": ""})
    if tables:
        tables[-1]["note"] = about
    return tables


def load_bench(directory: Path, behaviour: str, root: Path | None = None) -> Bench:
    """The bench figures for ``behaviour`` from every ``*.json`` in ``directory`` (named relative
    to ``root``, see ``shown``)."""
    bench = Bench(shown(directory, root))
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        bench.problem = f"no benchmark results ({bench.source}/*.json not found): run `netrosetta bench`"
        return bench
    for path in files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            bench.tables.append({"title": path.name, "columns": [], "rows": [],
                                 "note": f"unreadable: {error}"})
            continue
        if isinstance(document, dict) and document.get("schema") == "netrosetta-bench/1":
            bench.tables += _bench_v1(document, behaviour, path.name)
            continue
        mine = [r for r in _records(document) if r.get("behaviour") == behaviour]
        if not mine:
            continue
        columns: list[str] = []
        for record in mine:
            columns += [k for k, v in record.items() if _scalar(v) and k != "behaviour" and k not in columns]
        note = ""
        if isinstance(document, dict):
            note = " ".join(str(document[k]) for k in ("generated", "machine", "note")
                            if _scalar(document.get(k)) and document.get(k))
        bench.tables.append({"title": path.name, "columns": columns,
                             "rows": [[r.get(c) for c in columns] for r in mine], "note": note})
    if not bench.tables:
        bench.problem = f"the benchmark results in {bench.source} have no figures for {behaviour}"
    return bench


@dataclass
class Gives:
    """The recorded framework / hardening / divergence table, or why there is none (``problem``);
    ``stale`` says where it no longer matches the hardening modules' clause tags."""

    source: str
    problem: str = ""
    table: dict | None = None
    stale: list[str] = field(default_factory=list)


def load_gives(path: Path, root: Path) -> Gives:
    """The table recorded at ``path``, checked against the hardening modules under ``root``."""
    from netrosetta.hardening import check, load_table

    gives = Gives(shown(path, root))
    if not path.is_file():
        gives.problem = f"no recorded table ({gives.source} not found): run `make hardening`"
        return gives
    try:
        gives.table = load_table(path)
        gives.stale = check(root, gives.table)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        gives.table = None
        gives.problem = f"{gives.source} is not a hardening table ({type(error).__name__}: {error})"
    return gives
