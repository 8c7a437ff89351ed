"""What each framework gives you for free: SPEC section U with each framework's hardening off and on.

    python -m netrosetta.hardening [--impl NAME[,NAME]] [-n JOBS] [--out DIR]   (make hardening)
    python -m netrosetta.hardening --check

Every implementation with an ``impl_X/hardening.py`` (the frameworks; impl_raw has none, its parser
is netrosetta/rules.py itself) runs the suite's U clauses twice: as served, and with
``NETROSETTA_HARDENING=off`` in its environment, which makes its URL echo run the idiomatic core
alone. A clause that passes without the hardening is the framework's own work; one that fails
without it and passes with it is the hardening's, at the cost of the lines its ``# SPEC:`` tags
attribute to that clause. The table goes to DIR (default docs/hardening) as ``table.json`` and
``table.md``; the urlecho compare page shows it, and tests/test_hardening_table.py (``--check``)
fails when it no longer matches the code's clause tags.

Clause tags: a comment line ``# SPEC: U12.1 U13.7`` directly above a ``def`` or ``class`` (above
its decorators; other comment lines may sit between them, and a long tag may go on in a second
``# SPEC:`` line) names the clauses that definition exists to serve. Its lines of code (not blank
lines, comments or docstrings) count for each clause it names; a tagged definition inside another
one takes its lines out of the outer one's count. Untagged code is plumbing.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from netrosetta.compare.counts import code_lines
from netrosetta.launch import HARDENING_SWITCH
from netrosetta.registry import IMPLEMENTATIONS, variants

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "hardening"
SCHEMA = "netrosetta-hardening/1"
# The behaviour the hardening modules serve: their clauses are SPEC section U.
BEHAVIOUR = "urlecho"
CLAUSE_PREFIX = "U"
# Two workers: the U clauses include timeouts and a 1,000-connection test, and the machine is shared.
DEFAULT_JOBS = 2
RERUN_HINT = ("fix the `# SPEC:` tags (or the code) where they are wrong, then run `make hardening` to "
              "record the table again (docs/hardening/)")

TAG = re.compile(r"#\s*SPEC:(.*)$")
CLAUSE_ID = re.compile(r"[A-Z]\d+(?:\.\d+)*")

# What a (clause, framework) cell of the table says, and how the Markdown and the page word it.
STATUSES = ("framework", "hardening", "divergence", "fail", "not run")
WORDS = {
    "framework": "the framework does it (passes with the hardening off)",
    "hardening": "our hardening adds it (fails with the hardening off, passes with it on)",
    "divergence": "a documented divergence (conformance/divergences.py)",
    "fail": "fails even with the hardening on",
    "not run": "no result recorded",
}


# -- clause tags ---------------------------------------------------------------------------------

@dataclass
class Definition:
    """One tagged def or class: its dotted name, the clauses its tag names, its own lines of code."""

    name: str
    lines: tuple[int, ...]  # of its tag (a long one may go on over several comment lines)
    clauses: tuple[str, ...]
    code: int = 0


@dataclass
class Tags:
    """The clause tags of one hardening module and the lines of code each clause costs."""

    path: str
    code: int = 0  # lines of code in the whole module
    definitions: list[Definition] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clauses(self) -> dict[str, int]:
        """Clause id -> lines of code of the definitions tagged with it, in the natural order."""
        cost: dict[str, int] = {}
        for definition in self.definitions:
            for clause in definition.clauses:
                cost[clause] = cost.get(clause, 0) + definition.code
        return dict(sorted(cost.items(), key=lambda item: natural(item[0])))

    @property
    def tagged(self) -> int:
        """Lines of code that serve some clause (the rest of ``code`` is plumbing)."""
        return sum(d.code for d in self.definitions)

    def names(self, clause: str) -> list[str]:
        return [d.name for d in self.definitions if clause in d.clauses]


def natural(clause: str) -> tuple:
    """``U7.3`` sorts after ``U7`` and before ``U10``."""
    return (clause[:1], *(int(n) for n in re.findall(r"\d+", clause)))


def _comment_lines(source: str) -> dict[int, str]:
    """Line number -> text of every line that holds nothing but a comment."""
    comments = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and not token.line[:token.start[1]].strip():
                comments[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        pass
    return comments


def _definitions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(dotted name, first line with decorators, last line) of every def and class, outer first."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                found.append((name, start, child.end_lineno or child.lineno))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def count_tags(source: str, path: str = "") -> Tags:
    """The clause tags of one module, the lines each tagged definition owns, and misplaced tags."""
    tags = Tags(path)
    try:
        tree = ast.parse(source, filename=path or "<hardening>")
    except SyntaxError as error:
        tags.problems.append(f"{path}: line {error.lineno}: not valid Python ({error.msg})")
        return tags
    comments = _comment_lines(source)
    code = code_lines(source)
    tags.code = len(code)
    tag_lines: dict[int, tuple[str, ...]] = {}
    for number, text in comments.items():
        match = TAG.match(text)
        if not match:
            continue
        words = match.group(1).split()
        bad = [w for w in words if not CLAUSE_ID.fullmatch(w)]
        if bad or not words:
            what = f"not clause ids: {' '.join(bad)}" if bad else "names no clause"
            tags.problems.append(f"{path}: line {number}: `# SPEC:` tag {what} (`# SPEC: U12.1 U13.7`)")
        tag_lines[number] = tuple(dict.fromkeys(w for w in words if CLAUSE_ID.fullmatch(w)))
    spans = []  # (start, end, Definition) of the tagged definitions
    used: set[int] = set()
    for name, start, end in _definitions(tree):
        # The comment block directly above the definition (no blank line between) may hold its tag.
        block = []
        line = start - 1
        while line in comments:
            block.insert(0, line)
            line -= 1
        found = [number for number in block if number in tag_lines]
        if found:
            clauses = tuple(dict.fromkeys(c for number in found for c in tag_lines[number]))
            definition = Definition(name, tuple(found), clauses)
            tags.definitions.append(definition)
            spans.append((start, end, definition))
            used.update(found)
    for number in sorted(set(tag_lines) - used):
        tags.problems.append(f"{path}: line {number}: `# SPEC:` tag not directly above a def or class "
                             "(put it above the decorators)")
    for number in code:
        # Each line of code belongs to the innermost tagged definition around it.
        around = [(start, definition) for start, end, definition in spans if start <= number <= end]
        if around:
            max(around, key=lambda pair: pair[0])[1].code += 1
    return tags


def hardening_path(root: Path, impl: str) -> Path:
    """Where an implementation's hardening module lives (it may not exist)."""
    return root / f"impl_{impl}" / "hardening.py"


def frameworks(root: Path = ROOT) -> list[str]:
    """The implementations that have a hardening module, in the registry's order."""
    return [impl for impl in IMPLEMENTATIONS if hardening_path(root, impl).is_file()]


def without_hardening(root: Path, impl: str) -> str:
    """Why an implementation shows no hardening module."""
    core = root / f"impl_{impl}" / f"{BEHAVIOUR}.py"
    try:
        tree = ast.parse(core.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        tree = None
    imported = set()
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    if "netrosetta.rules" in imported:
        return (f"impl_{impl} has no hardening module: its {BEHAVIOUR}.py applies netrosetta/rules.py "
                "itself, so there is nothing to switch off")
    return f"impl_{impl}/hardening.py is not written yet"


def read_tags(root: Path, impl: str) -> Tags:
    path = hardening_path(root, impl)
    return count_tags(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix())


# -- the table -------------------------------------------------------------------------------------

def classify(on: dict | None, off: dict | None) -> str:
    """A table cell from the matrix cells of the run with the hardening on and the one with it off."""
    if on is None or on["status"] == "n/a":
        return "not run"
    if on["status"] == "divergence":
        return "divergence"
    if on["status"] != "pass":
        return "fail"
    if off is None:
        return "not run"
    return "framework" if off["status"] == "pass" else "hardening"


def _file_lines(root: Path, path: Path) -> dict:
    source = path.read_text(encoding="utf-8") if path.is_file() else ""  # a core not written yet: 0
    return {"path": path.relative_to(root).as_posix(), "lines": len(source.splitlines()),
            "code": len(code_lines(source))}


def build_table(root: Path, names: list[str], on_cells: list[dict], off_cells: list[dict],
                titles: dict[str, str], runs: list[dict]) -> dict:
    """table.json's document from the two runs' matrix cells (``--matrix-json``) and the tags."""
    on = {(c["clause"], c["variant"]): c for c in on_cells}
    off = {(c["clause"], c["variant"]): c for c in off_cells}
    # A clause this run leaves out for every framework (n/a: one only --full runs) is not in the table.
    tested = {clause for (clause, variant), cell in [*on.items(), *off.items()] if variant in names
              and clause.startswith(CLAUSE_PREFIX) and cell["status"] != "n/a"}
    order = [c for c in titles if c in tested] + sorted(tested - set(titles), key=natural)
    tags = {impl: read_tags(root, impl) for impl in names}
    cells = []
    for clause in order:
        for impl in names:
            status = classify(on.get((clause, impl)), off.get((clause, impl)))
            cell = {"clause": clause, "framework": impl, "status": status,
                    "on": on.get((clause, impl), {}).get("status"),
                    "off": off.get((clause, impl), {}).get("status"),
                    "lines": tags[impl].clauses.get(clause, 0)}
            if status == "divergence":
                cell["reason"] = on[(clause, impl)].get("reason", "")
            elif status == "fail":
                cell["message"] = on[(clause, impl)].get("message", "")
            elif status == "hardening":
                # What the framework does by itself: the reader's "why is this needed?"
                cell["message"] = off[(clause, impl)].get("message", "")
            tries = [f"hardening {side}: {run[(clause, impl)]['retried']}" for side, run in
                     (("on", on), ("off", off)) if run.get((clause, impl), {}).get("retried")]
            if tries:
                cell["retried"] = "; ".join(tries)
            cells.append(cell)
    return {
        "schema": SCHEMA,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "frameworks": names,
        "runs": runs,
        "clauses": [{"id": c, "title": titles.get(c, "")} for c in order],
        "cells": cells,
        "tags": {impl: {"path": t.path, "clauses": t.clauses,
                        "definitions": {c: t.names(c) for c in t.clauses}} for impl, t in tags.items()},
        "totals": {impl: {"core": _file_lines(root, root / f"impl_{impl}" / f"{BEHAVIOUR}.py"),
                          "hardening": {**_file_lines(root, hardening_path(root, impl)),
                                        "tagged": tags[impl].tagged}} for impl in names},
    }


def summary(table: dict) -> dict[str, dict[str, int]]:
    """Per framework: how many clauses of each status, and the tagged lines of its hardening."""
    counts = {impl: dict.fromkeys(STATUSES, 0) for impl in table["frameworks"]}
    for cell in table["cells"]:
        counts[cell["framework"]][cell["status"]] += 1
    return counts


def cell_text(cell: dict) -> str:
    """How a cell reads: ``framework``, ``hardening (12 lines)``, ``divergence``, ``fail``."""
    if cell["status"] == "hardening":
        return f"hardening ({cell['lines']} line{'s' if cell['lines'] != 1 else ''})"
    return cell["status"]


def render_markdown(table: dict) -> str:
    """table.md: the per-clause table, the totals, the divergences and what failed."""
    names = table["frameworks"]
    grid = {(c["clause"], c["framework"]): c for c in table["cells"]}
    seconds = ", ".join(f"hardening {r['hardening']} {r['seconds']:.0f} s" for r in table["runs"])
    lines = [
        "# What each framework gives you", "",
        f"`make hardening`, {table['generated']} ({seconds}): the U clauses of conformance/SPEC.md, run "
        f"against each framework's URL echo with its hardening off ({HARDENING_SWITCH}=off) and on.", "",
        "- **framework**: the framework does it by itself: it passes with the hardening off;",
        "- **hardening (N lines)**: it fails with the hardening off and passes with it on; N is the lines "
        "of code its `# SPEC:` tags give that clause in impl_X/hardening.py;",
        "- **divergence**: documented in conformance/divergences.py, with its reason below;",
        "- **fail**: fails even with the hardening on.", "",
        "| clause | requirement | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for clause in table["clauses"]:
        row = [cell_text(grid[(clause["id"], impl)]) if (clause["id"], impl) in grid else "·"
               for impl in names]
        title = clause["title"].replace("|", "\\|")
        lines.append(f"| {clause['id']} | {title} | " + " | ".join(row) + " |")
    counts = summary(table)
    lines += ["", "## Totals", "", "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for status in STATUSES:
        if any(counts[impl][status] for impl in names):
            lines.append(f"| clauses: {status} | " + " | ".join(str(counts[impl][status]) for impl in names)
                         + " |")
    totals = table["totals"]
    lines.append("| core: lines (code) | " + " | ".join(
        f"`{totals[i]['core']['path']}` {totals[i]['core']['lines']} ({totals[i]['core']['code']})"
        for i in names) + " |")
    lines.append("| hardening: lines (code) | " + " | ".join(
        f"`{totals[i]['hardening']['path']}` {totals[i]['hardening']['lines']} "
        f"({totals[i]['hardening']['code']})" for i in names) + " |")
    lines.append("| hardening: code tagged with clauses | " + " | ".join(
        str(totals[i]["hardening"]["tagged"]) for i in names) + " |")
    lines += ["", "## Divergences", ""]
    divergences = [c for c in table["cells"] if c["status"] == "divergence"]
    lines += [f"- **{c['clause']}** × `{c['framework']}`: {c.get('reason', '')}" for c in divergences]
    lines += [] if divergences else ["None."]
    lines += ["", "## Failures (with the hardening on)", ""]
    failures = [c for c in table["cells"] if c["status"] == "fail"]
    for cell in failures:
        message = cell.get("message", "").rstrip()
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", message)), default=0))
        lines += [f"### {cell['clause']} × {cell['framework']}", "", fence, message, fence, ""]
    lines += [] if failures else ["None.", ""]
    retried = [c for c in table["cells"] if c.get("retried")]
    if retried:
        lines += ["## Second tries", "", "A failure the clause tags do not explain runs once more; these "
                  "passed then:", ""]
        lines += [f"- **{c['clause']}** × `{c['framework']}`: {c['retried']}" for c in retried] + [""]
    return "\n".join(lines)


# -- keeping the table true ------------------------------------------------------------------------

def check(root: Path, table: dict | None) -> list[str]:
    """Where the recorded table no longer matches the hardening modules' clause tags (none: [])."""
    names = frameworks(root)
    if table is None:
        return [f"no recorded table, but {', '.join(names)} have hardening modules"] if names else []
    problems = []
    recorded = list(table.get("frameworks", []))
    if set(recorded) != set(names):
        problems.append(f"the table records {', '.join(recorded) or 'no framework'}; the hardening modules "
                        f"are those of {', '.join(names) or 'none'}")
    tested = {c["id"] for c in table.get("clauses", [])}
    statuses = {(c["clause"], c["framework"]): c["status"] for c in table.get("cells", [])}
    for impl in names:
        tags = read_tags(root, impl)
        problems += tags.problems
        now = tags.clauses
        before = table.get("tags", {}).get(impl, {}).get("clauses")
        if impl in recorded and before != now:
            changed = [f"{c}: {before.get(c, 0) if before else 0} -> {now.get(c, 0)}"
                       for c in sorted(set(now) | set(before or {}), key=natural)
                       if (before or {}).get(c) != now.get(c)]
            problems.append(f"{tags.path}: clause tags changed since the table was recorded (lines per "
                            f"clause, recorded -> now: {', '.join(changed)})")
        for clause in now:
            where = f"{tags.path} ({', '.join(tags.names(clause))})"
            if tested and clause not in tested:
                problems.append(f"{where}: tagged {clause}, which the suite's U tests do not check")
            elif statuses.get((clause, impl)) == "framework":
                problems.append(f"{where}: dead hardening: tagged {clause}, which {impl} passes with its "
                                "hardening off (drop the code or the tag)")
        for (clause, framework), status in statuses.items():
            if framework == impl and status == "hardening" and clause not in now:
                problems.append(f"{tags.path}: {clause} is recorded as {impl}'s hardening, but no definition "
                                f"there is tagged `# SPEC: {clause}`")
    return problems


def load_table(path: Path) -> dict:
    """A recorded table.json; ValueError when it is not one."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} document")
    return document


# -- recording ----------------------------------------------------------------------------------

def suite_args(names: list[str], jobs: int) -> list[str]:
    """pytest's arguments for the U clauses of these implementations' default variants only."""
    others = [v.id for v in variants() if v.impl in names and v.id != v.impl]
    keyword = " and ".join([f"test_{CLAUSE_PREFIX}", *(f"not {other}" for other in others)])
    return ["conformance", "-n", str(jobs), "-q", "-p", "no:cacheprovider", "--impl", ",".join(names),
            "-k", keyword]


def run_suite(root: Path, names: list[str], hardening: bool, jobs: int,
              tests: Sequence[str] = ()) -> tuple[list[dict], dict]:
    """The matrix cells of one run (of ``tests`` only, if given), and what to record of it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env.pop(HARDENING_SWITCH, None)
    label = "on" if hardening else "off"
    if not hardening:
        env[HARDENING_SWITCH] = "off"
    args = suite_args(names, jobs)
    if tests:
        args = [*tests, *args[1:args.index("-k")]]
    print(f"== hardening {label}: pytest {shlex.join(args)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="netrosetta-hardening-") as scratch:
        json_path = Path(scratch) / "cells.json"
        started = time.monotonic()
        command = [sys.executable, "-m", "pytest", *args, "--matrix-json", str(json_path)]
        status = subprocess.run(command, cwd=root, env=env).returncode
        seconds = time.monotonic() - started
        if not json_path.is_file():
            raise RuntimeError(f"pytest exited with status {status} without writing results")
        cells = json.loads(json_path.read_text())["cells"]
    switch = "" if hardening else f"{HARDENING_SWITCH}=off "
    run = {"hardening": label, "pytest_status": status, "seconds": round(seconds, 1),
           "command": f"{switch}pytest {shlex.join(args)}"}
    return [c for c in cells if c["variant"] in names], run


def retry(root: Path, names: list[str], hardening: bool, jobs: int, cells: list[dict],
          suspect: Callable[[dict], bool], runs: list[dict]) -> list[dict]:
    """Run the tests of the suspect cells once more; a cell that passes then is kept as passing."""
    again = [c for c in cells if suspect(c)]
    if not again:
        return cells
    fresh, run = run_suite(root, names, hardening, jobs, sorted({c["test"] for c in again}))
    runs.append({**run, "retry": True})
    second = {(c["clause"], c["variant"]): c for c in fresh}
    merged = []
    for cell in cells:
        other = second.get((cell["clause"], cell["variant"]))
        if suspect(cell) and other is not None and other["status"] == "pass":
            cell = {**cell, "status": "pass", "retried": f"{cell['status']}, then pass"}
            cell.pop("message", None)
        merged.append(cell)
    return merged


def record(root: Path, names: list[str], jobs: int) -> dict:
    """Run the U clauses with the hardening on and off, and build the table."""
    from netrosetta.matrix import SPEC, clause_titles

    runs: list[dict] = []
    on_cells, run = run_suite(root, names, True, jobs)
    runs.append(run)
    off_cells, run = run_suite(root, names, False, jobs)
    runs.append(run)
    # The machine is shared and some clauses are timed: a failure the clause tags do not explain
    # (with the hardening on; or off, on a clause no tag claims) gets a second try before it counts.
    on_cells = retry(root, names, True, jobs, on_cells, lambda c: c["status"] == "fail", runs)
    passing = {(c["clause"], c["variant"]) for c in on_cells if c["status"] == "pass"}
    tagged = {impl: read_tags(root, impl).clauses for impl in names}
    off_cells = retry(root, names, False, jobs, off_cells,
                      lambda c: c["status"] == "fail" and (c["clause"], c["variant"]) in passing
                      and c["clause"] not in tagged[c["variant"]], runs)
    return build_table(root, names, on_cells, off_cells, clause_titles(SPEC.read_text()), runs)


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m netrosetta.hardening",
                     description="Record what each framework does for SPEC section U without its hardening.")
    parser.add_argument("--impl", default="", help="frameworks, comma-separated (default: every one with "
                                                    "an impl_X/hardening.py)")
    parser.add_argument("-n", "--jobs", type=int, default=DEFAULT_JOBS, help=f"pytest workers "
                                                                              f"(default {DEFAULT_JOBS})")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="directory for table.json and table.md "
                                                                "(default docs/hardening)")
    parser.add_argument("--check", action="store_true",
                        help="only check the recorded table against the clause tags (no run)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Record the table (or ``--check`` it); exit status 0, 1 on a problem, 2 for a bad command line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    available = frameworks(ROOT)
    try:
        args = _parser().parse_args(argv)
        names = [n.strip() for n in args.impl.split(",") if n.strip()] or available
        unknown = [n for n in names if n not in available]
        if unknown:
            raise UsageError(f"--impl: no hardening module for {', '.join(unknown)} "
                             f"(those with one: {', '.join(available) or 'none'})")
        if args.jobs < 1:
            raise UsageError("-n must be 1 or more")
    except UsageError as error:
        sys.stderr.write(f"netrosetta hardening: error: {error}\n")
        return 2
    out = Path(args.out)
    if args.check:
        path = out / "table.json"
        problems = check(ROOT, load_table(path) if path.is_file() else None)
        for problem in problems:
            print(problem)
        print(RERUN_HINT if problems else f"{path}: matches the clause tags")
        return 1 if problems else 0
    if not names:
        sys.stderr.write("netrosetta hardening: error: no implementation has an impl_X/hardening.py yet\n")
        return 1
    started = time.monotonic()
    try:
        table = record(ROOT, names, args.jobs)
    except RuntimeError as error:
        sys.stderr.write(f"netrosetta hardening: error: {error}\n")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.json").write_text(json.dumps(table, indent=2) + "\n")
    (out / "table.md").write_text(render_markdown(table))
    counts = summary(table)
    for impl in names:
        print(f"{impl}: " + ", ".join(f"{n} {status}" for status, n in counts[impl].items() if n)
              + f"; hardening {table['totals'][impl]['hardening']['tagged']} tagged lines of code")
    print(f"wrote {out / 'table.json'} and {out / 'table.md'} in {time.monotonic() - started:.0f} s")
    problems = check(ROOT, table)
    for problem in problems:
        sys.stderr.write(f"netrosetta hardening: {problem}\n")
    return 1 if problems or counts and any(c["fail"] for c in counts.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
