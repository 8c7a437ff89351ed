"""``netrosetta conformance``: run the conformance suite and show the clause x variant matrix.

    netrosetta conformance [--impl NAME[,NAME]] [--full] [--server-cmd CMD | --connect [B=]HOST:PORT]
                           [--client-cmd CMD] [--behaviour NAMES] [--not-applicable CLAUSES]
                           [--ready-timeout S] [--out DIR] [-- PYTEST ARGS]

It runs the suite (the installed ``netrosetta_conformance``: ``python -m pytest SUITE -n 4
--tb=short --matrix-json ...``) as a subprocess of this Python, in the current directory (so a
relative ``--server-cmd`` works), so the suite's output streams by as usual; then it prints the
matrix, one row per clause of SPEC.md and one column per variant, and writes it to DIR (default
``conformance-results``) as ``matrix.md`` and ``matrix.json``, each replaced whole (never half
written). pytest's cache lives in DIR too, so ``-- --lf`` reruns the last run's failures. Arguments
after ``--`` go to pytest as they are (``-- -k E3 -n 2``; a later ``-n`` wins over ours). The exit
status is 0 only when no clause fails and pytest itself succeeded; 1 if a clause fails or the
pre-flight found a server that cannot start; 130 if interrupted (Ctrl-C), which writes no matrix and
keeps the previous one; a bad command line gets one line on stderr and status 2.

matrix.json (read by ``netrosetta compare``), schema ``netrosetta-conformance-matrix/1``::

    {
      "schema": "netrosetta-conformance-matrix/1",
      "generated": "2026-11-27T03:40:00+00:00",   # UTC, when the run finished
      "spec_version": "1.1",                       # the SPEC.md the run held servers to
      "netrosetta_version": "0.1.0",
      "argv": ["--impl", "raw"],                   # this command's arguments
      "pytest_command": ["/path/python", "-m", "pytest", ...],
      "pytest_status": 0,                          # pytest's own exit status
      "status": 0,                                 # this command's exit status
      "variants": [{"id": "raw", "impl": "raw"}, ...],        # the columns, in order
      "clauses": [{"id": "E1", "title": "Every byte ..."}, ...],  # the rows, in SPEC.md order
      "cells": [                                   # one per (clause, variant) that ran
        {"clause": "E1", "variant": "raw", "status": "pass",
         "test": "conformance/test_echo.py::test_E1_echo_bytes_unchanged[raw]",
         "reason": "...",     # for divergence, missing and n/a: why
         "message": "...",    # for fail: the end of pytest's failure report
         "summary": "...",    # for fail: "requirement — got: ..." when the message has both
         "tests": 1}          # how many tests (pytest items) this cell sums up
      ],
      "counts": {"pass": 12, "fail": 0, "divergence": 1, "missing": 10, "n/a": 2},
      "tests": 25                                  # pytest items behind the cells
    }

A cell's status is one of ``pass``, ``fail``, ``divergence`` (a documented divergence from
conformance/divergences.py that still diverges), ``missing`` (the implementation is not written
yet) or ``n/a`` (the variant does not serve that behaviour). A (clause, variant) pair with no cell
was not run: extra loops run only the smoke subset unless ``--full``. A clause with several tests
fails if any of them fails. Clause titles are the ``- **ID** sentence`` lines of SPEC.md; a
clause tested but absent from SPEC.md still gets a row, with an empty title.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import netrosetta_conformance  # the package only: the suite itself runs in pytest, in a subprocess
from netrosetta import version

SUITE = Path(netrosetta_conformance.__file__).resolve().parent
SPEC = SUITE / "SPEC.md"
SCHEMA = "netrosetta-conformance-matrix/1"
STATUSES = ("pass", "fail", "divergence", "missing", "n/a")
# Workers for the suite: most tests wait on sockets, so more workers than cores pays off.
DEFAULT_JOBS = 4

# `- **E3** sentence` (the format stated at the top of SPEC.md); `*` bullets and `ID.` accepted too.
CLAUSE_LINE = re.compile(r"^\s*[-*]\s+\*\*([A-Z]\d+(?:\.\d+)*)\.?\*\*[\s:.\u2014-]*(.*?)\s*$")

# How each status reads in the terminal (rich markup) and in Markdown.
TERMINAL = {
    "pass": "[green]pass[/]",
    "fail": "[bold red]FAIL[/]",
    "divergence": "[yellow]divergence[/]",
    "missing": "[dim]missing[/]",
    "n/a": "[dim]n/a[/]",
    None: "[dim]·[/]",
}
MARKDOWN = {"pass": "pass", "fail": "**FAIL**", "divergence": "divergence", "missing": "missing",
            "n/a": "n/a", None: "·"}
LEGEND = ("pass; FAIL; divergence = documented in conformance/divergences.py; missing = not written "
          "yet; n/a = not applicable (the variant does not serve that behaviour, or this run leaves "
          "it out: --behaviour, --not-applicable, --connect, no /proc); · = not run (extra loops run "
          "the smoke subset unless --full)")


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netrosetta conformance",
                     description="Run the conformance suite and write the clause x variant matrix.",
                     epilog="Arguments after -- go to pytest unchanged, e.g. -- -k E3 -n 2.")
    parser.add_argument("--impl", default="",
                        help="implementations or variants, comma-separated (raw, twisted, raw-select, "
                             "...); default: all")
    parser.add_argument("--full", action="store_true",
                        help="every clause under every variant (default: smoke subset for extra loops)")
    parser.add_argument("--server-cmd",
                        help="test another server: a command that follows the launch contract")
    parser.add_argument("--client-cmd",
                        help="test another client (fetch): a command that follows the client launch contract")
    parser.add_argument("--connect", action="append", default=[], metavar="[BEHAVIOUR=]HOST:PORT",
                        help="test a server that is already running (echo=127.0.0.1:9000; repeatable)")
    parser.add_argument("--behaviour", "--behavior", default="",
                        help="the behaviours to test, comma-separated; the others show as n/a")
    parser.add_argument("--not-applicable", default="",
                        help="with --server-cmd: runtime clauses that do not apply to your server (L9,M2)")
    parser.add_argument("--ready-timeout", type=float,
                        help="seconds a server may take to print READY (default 15)")
    parser.add_argument("--out", default="conformance-results",
                        help="directory for matrix.md and matrix.json (default: conformance-results)")
    return parser


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the pytest arguments given after ``--``."""
    argv = list(argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    args = _parser().parse_args(argv)
    from netrosetta_conformance.harness import VARIANTS

    if args.impl and (args.server_cmd or args.client_cmd):
        raise UsageError("--impl and --server-cmd or --client-cmd exclude each other")
    if args.server_cmd is not None and not args.server_cmd.strip():
        raise UsageError("--server-cmd: empty command")
    if args.client_cmd is not None and not args.client_cmd.strip():
        raise UsageError("--client-cmd: empty command")
    known = {v.id for v in VARIANTS} | {v.impl for v in VARIANTS}
    names = [name.strip() for name in args.impl.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"--impl: unknown {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if args.impl and not names:
        raise UsageError("--impl: no implementation named")
    args.impl = ",".join(names)
    from netrosetta.registry import BEHAVIOURS
    from netrosetta_conformance.scope import parse_clauses

    behaviours = [name.strip() for name in args.behaviour.split(",") if name.strip()]
    unknown = [name for name in behaviours if name not in BEHAVIOURS]
    if unknown:
        raise UsageError(f"--behaviour: unknown {', '.join(unknown)} (known: {', '.join(BEHAVIOURS)})")
    args.behaviour = ",".join(behaviours)
    try:
        parse_clauses(args.not_applicable)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.not_applicable and not (args.server_cmd or args.connect):
        raise UsageError("--not-applicable is for a server of your own (--server-cmd or --connect)")
    if args.connect:
        if args.impl or args.server_cmd:
            raise UsageError("--connect tests a running server: it excludes --server-cmd and --impl")
        from netrosetta_conformance.harness import connect_variant

        try:
            connect_variant(args.connect, behaviours)
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.ready_timeout is not None and args.ready_timeout <= 0:
        raise UsageError("--ready-timeout must be positive")
    return args, extra


# -- reading SPEC.md and the suite's results --------------------------------------------------

def clause_titles(text: str) -> dict[str, str]:
    """Clause id -> sentence, in SPEC.md order, from its ``- **ID** sentence`` lines."""
    titles: dict[str, str] = {}
    for line in text.splitlines():
        match = CLAUSE_LINE.match(line)
        if match and match.group(1) not in titles:
            titles[match.group(1)] = match.group(2)
    return titles


def _natural(clause: str) -> tuple:
    """``U7.3`` sorts after ``U7`` and before ``U10``."""
    return (clause[0], *(int(part) for part in clause[1:].split(".")))


def build_matrix(cells: list[dict], titles: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """The rows (clauses: SPEC.md order, then any unknown ones) and columns (variants) that ran."""
    from netrosetta_conformance.harness import VARIANTS

    tested = {cell["clause"] for cell in cells}
    order = [clause for clause in titles if clause in tested]
    order += sorted(tested - set(titles), key=_natural)
    clauses = [{"id": clause, "title": titles.get(clause, "")} for clause in order]
    ran = {cell["variant"] for cell in cells}
    impls = {v.id: v.impl for v in VARIANTS}
    variants = [{"id": v.id, "impl": v.impl} for v in VARIANTS if v.id in ran]
    variants += [{"id": name, "impl": impls.get(name, name)} for name in sorted(ran - set(impls))]
    return clauses, variants


# -- rendering ---------------------------------------------------------------------------------

def _fence(text: str) -> str:
    """A code fence longer than any run of backticks inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(matrix: dict) -> str:
    """The matrix as Markdown: the table, the divergences with reasons, the failure messages."""
    grid = {(c["clause"], c["variant"]): c for c in matrix["cells"]}
    variants = [v["id"] for v in matrix["variants"]]
    counts = ", ".join(f"{n} {status}" for status, n in matrix["counts"].items() if n)
    lines = [
        "# Conformance matrix", "",
        f"`{shlex.join(['netrosetta', 'conformance', *matrix['argv']])}`, {matrix['generated']}, "
        f"SPEC.md {matrix.get('spec_version', 'unknown')}: "
        f"{counts or 'nothing ran'} (pytest exit status {matrix['pytest_status']}). "
        f"{counts_note(matrix)}", "",
        "| clause | requirement | " + " | ".join(variants) + " |",
        "|---|---|" + "---|" * len(variants),
    ]
    for clause in matrix["clauses"]:
        row = [MARKDOWN[grid[(clause["id"], v)]["status"]] if (clause["id"], v) in grid else MARKDOWN[None]
               for v in variants]
        title = clause["title"].replace("|", "\\|")
        lines.append(f"| {clause['id']} | {title} | " + " | ".join(row) + " |")
    lines += ["", LEGEND, "", "## Divergences", ""]
    divergences = [c for c in matrix["cells"] if c["status"] == "divergence"]
    lines += [f"- **{c['clause']}** × `{c['variant']}`: {c.get('reason', '')}" for c in divergences]
    lines += [] if divergences else ["None."]
    lines += ["", "## Missing", ""]
    missing: dict[str, list[str]] = {}  # reason -> variants, in column order
    for cell in sorted((c for c in matrix["cells"] if c["status"] == "missing"),
                       key=lambda c: variants.index(c["variant"])):
        names = missing.setdefault(cell.get("reason", "not written yet"), [])
        if cell["variant"] not in names:
            names.append(cell["variant"])
    lines += [f"- {', '.join(f'`{name}`' for name in names)}: {reason}" for reason, names in missing.items()]
    lines += [] if missing else ["None."]
    lines += ["", "## Not applicable", ""]
    not_applicable: dict[str, list[str]] = {}  # reason -> "clause × variant", in row order
    for cell in (c for c in matrix["cells"] if c["status"] == "n/a"):
        not_applicable.setdefault(cell.get("reason", ""), []).append(f"{cell['clause']} × {cell['variant']}")
    lines += [f"- {', '.join(cells)}: {reason}" for reason, cells in not_applicable.items()]
    lines += [] if not_applicable else ["None."]
    lines += ["", "## Failures", ""]
    failures = [c for c in matrix["cells"] if c["status"] == "fail"]
    for cell in failures:
        message = cell.get("message", "").rstrip()
        fence = _fence(message)
        lines += [f"### {cell['clause']} × {cell['variant']}", "", f"`{cell['test']}`", "",
                  fence, message, fence, ""]
    if not failures:
        lines += ["None.", ""]
    return "\n".join(lines)


def _column_groups(widths: list[int], room: int) -> list[list[int]]:
    """Indices of the variant columns, cut into groups that each fit in ``room`` characters."""
    groups: list[list[int]] = [[]]
    used = 0
    for index, width in enumerate(widths):
        if groups[-1] and used + width + 3 > room:
            groups.append([])
            used = 0
        groups[-1].append(index)
        used += width + 3
    return groups


def print_matrix(matrix: dict, out_dir: Path) -> None:
    """The matrix in colour on stdout, then the failing cells and where the files went.

    Status columns never shrink; on a narrow terminal the requirement column goes first, then the
    variants are shown in several tables, each with the clause column.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    grid = {(c["clause"], c["variant"]): c for c in matrix["cells"]}
    variants = [v["id"] for v in matrix["variants"]]
    widths = [max(len(variant), 10) for variant in variants]  # "divergence" is 10 wide
    console = Console(highlight=False)
    if not console.is_terminal:  # a file or a pipe: as wide as the table wants
        console = Console(highlight=False, width=max(console.width, 70 + sum(w + 3 for w in widths)))
    room = console.width - 12  # what the clause column and the borders leave
    for group in _column_groups(widths, room):
        spare = room - sum(widths[i] + 3 for i in group)
        table = Table(title="conformance matrix: clause × variant", title_justify="left")
        table.add_column("clause", no_wrap=True, min_width=6)
        if spare >= 23:
            table.add_column("requirement", overflow="ellipsis", no_wrap=True, max_width=min(48, spare - 3),
                             style="dim")
        for i in group:
            table.add_column(variants[i], no_wrap=True, min_width=widths[i])
        for clause in matrix["clauses"]:
            cells = [TERMINAL[grid[(clause["id"], variants[i])]["status"]]
                     if (clause["id"], variants[i]) in grid else TERMINAL[None] for i in group]
            title = [escape(clause["title"])] if spare >= 23 else []
            table.add_row(clause["id"], *title, *cells)
        console.print(table)
    console.print(LEGEND, style="dim")
    for cell in matrix["cells"]:
        if cell["status"] == "fail":
            console.print(f"[bold red]FAIL[/] {cell['clause']} × {escape(cell['variant'])}: "
                          f"{escape(cell.get('summary') or cell['test'])}", soft_wrap=True)
    counts = ", ".join(f"{n} {status}" for status, n in matrix["counts"].items() if n)
    console.print(f"{counts or 'nothing ran'}; wrote {out_dir / 'matrix.md'} and {out_dir / 'matrix.json'}")
    console.print(counts_note(matrix), style="dim")


def counts_note(matrix: dict) -> str:
    """One line on why the matrix's counts differ from pytest's."""
    cells, tests = len(matrix["cells"]), matrix.get("tests", 0)
    return (f"The matrix counts {cells} cells (clause × variant), pytest {tests} tests: a clause with "
            f"several tests or parameters is one cell, pytest's skipped are n/a or missing here and "
            f"its xfailed divergences.")


# -- running ----------------------------------------------------------------------------------

def pytest_command(args: argparse.Namespace, extra: list[str], json_path: Path, out_dir: Path) -> list[str]:
    """The suite's command line: this Python's pytest on the installed suite, xdist workers, our
    options, then the user's.

    No configuration file is read (``-c /dev/null``: neither the user's project's nor ours), and
    the root is the suite's folder, so the test ids and the cache in ``out_dir`` are the same
    wherever the suite is run from.
    """
    command = [sys.executable, "-m", "pytest", str(SUITE), "-n", str(DEFAULT_JOBS), "--tb=short",
               "-c", os.devnull, "--rootdir", str(SUITE), "-o", "timeout=120",
               "-o", f"cache_dir={out_dir.resolve() / '.pytest_cache'}", "--matrix-json", str(json_path)]
    if args.impl:
        command += ["--impl", args.impl]
    if args.full:
        command.append("--full")
    if args.server_cmd:
        command += ["--server-cmd", args.server_cmd]
    if args.client_cmd:
        command += ["--client-cmd", args.client_cmd]
    for spec in args.connect:
        command += ["--connect", spec]
    if args.behaviour:
        command += ["--behaviour", args.behaviour]
    if args.not_applicable:
        command += ["--not-applicable", args.not_applicable]
    if args.ready_timeout is not None:
        command += ["--ready-timeout", f"{args.ready_timeout:g}"]
    return command + extra


def _run(command: list[str]) -> tuple[int, bool]:
    """Run pytest; return its status and whether we were interrupted. On Ctrl-C let it wind down
    (the terminal sent SIGINT to it too): it stops every server it started."""
    proc = subprocess.Popen(command)
    interrupted = False
    while True:
        try:
            return proc.wait(), interrupted
        except KeyboardInterrupt:
            interrupted = True


def _write(path: Path, text: str) -> None:
    """Replace ``path`` whole: a reader (or a run stopped half-way) never sees it half written."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite, print the matrix, write matrix.md and matrix.json; exit status as documented."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args, extra = parse_args(argv)
    except UsageError as error:
        sys.stderr.write(f"netrosetta conformance: error: {error}\n")
        return 2
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        sys.stderr.write(f"netrosetta conformance: error: cannot create {out_dir}: {error.strerror}\n")
        return 2
    kept = (f"kept the previous {out_dir / 'matrix.md'} and {out_dir / 'matrix.json'}"
            if (out_dir / "matrix.json").exists() else "wrote no matrix")
    with tempfile.TemporaryDirectory(prefix="netrosetta-matrix-") as scratch:
        json_path = Path(scratch) / "cells.json"
        command = pytest_command(args, extra, json_path, out_dir)
        sys.stdout.flush()
        pytest_status, interrupted = _run(command)
        results = json.loads(json_path.read_text()) if json_path.exists() else {}
    if interrupted or results.get("interrupted"):
        sys.stderr.write(f"netrosetta conformance: interrupted; {kept}\n")
        return 130
    if results.get("stopped"):
        sys.stderr.write(f"netrosetta conformance: stopped before any test (a server did not start); "
                         f"{kept}\n")
        return 1
    if not results:
        sys.stderr.write(f"netrosetta conformance: error: pytest exited with status {pytest_status} "
                         f"without writing results (command: {shlex.join(command)})\n")
        return 2 if pytest_status == 4 else (pytest_status or 1)
    cells = results["cells"]
    titles = clause_titles(SPEC.read_text()) if SPEC.exists() else {}
    clauses, variants = build_matrix(cells, titles)
    counts = {status: sum(cell["status"] == status for cell in cells) for status in STATUSES}
    if counts["fail"]:
        status = 1
    elif pytest_status == 4:
        status = 2
    else:
        status = pytest_status
    matrix = {
        "schema": SCHEMA,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "spec_version": version.spec_version(),
        "netrosetta_version": version.package_version(),
        "argv": argv,
        "pytest_command": command,
        "pytest_status": pytest_status,
        "status": status,
        "variants": variants,
        "clauses": clauses,
        "cells": cells,
        "counts": counts,
        "tests": sum(cell.get("tests", 1) for cell in cells),
    }
    _write(out_dir / "matrix.json", json.dumps(matrix, indent=2) + "\n")
    _write(out_dir / "matrix.md", render_markdown(matrix))
    print_matrix(matrix, out_dir)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
