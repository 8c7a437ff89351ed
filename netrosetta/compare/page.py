"""The comparison pages: one self-contained HTML file per behaviour, and an index.

Everything a page needs is inside it (styles, the small script that switches to a diff view, the
diffs themselves, computed here with difflib), so it opens offline from disk. Pygments does the
syntax highlighting; its tokens are split at line ends so that every section and diff row holds
whole, separately highlighted lines.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES

from netrosetta.compare.counts import Counts, Lines, count_implementation
from netrosetta.compare.results import Bench, Gives, Matrix
from netrosetta.compare.sections import SECTIONS, ConventionError, Section, find_sections
from netrosetta.hardening import (
    HARDENING_SWITCH,
    Tags,
    cell_text,
    count_tags,
    hardening_path,
    summary,
    without_hardening,
)
from netrosetta.registry import BEHAVIOURS
from netrosetta.registry import IMPLEMENTATIONS as REGISTRY

IMPLEMENTATIONS = tuple(REGISTRY)
ABOUT = {name: behaviour.summary for name, behaviour in BEHAVIOURS.items()}
PYGMENTS_STYLE = "default"
STATUS_MARK = {"pass": "✓", "fail": "✗", "divergence": "≈", "missing": "–", "n/a": "n/a"}


@dataclass
class Column:
    """One implementation of the behaviour: its file, highlighted lines, sections and counts."""

    impl: str
    path: str  # relative to the repository root
    state: str = "ok"  # ok, missing (not written yet), broken (does not follow the skeleton), none
    problem: str = ""
    lines: list[str] = field(default_factory=list)  # highlighted HTML, one per source line
    plain: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    counts: Counts | None = None
    tags: Tags | None = None  # for a hardening module: its clause tags
    marks: set[int] = field(default_factory=set)  # lines to pick out: the `# SPEC:` tags


def highlight_lines(source: str) -> list[str]:
    """One string of highlighted HTML per line of ``source``."""
    lines: list[list[str]] = [[]]
    for ttype, value in PythonLexer(stripnl=False, ensurenl=True).get_tokens(source):
        while ttype not in STANDARD_TYPES:
            ttype = ttype.parent
        css = STANDARD_TYPES[ttype]
        for number, part in enumerate(value.split("\n")):
            if number:
                lines.append([])
            if part:
                text = escape(part, quote=False)
                lines[-1].append(f'<span class="{css}">{text}</span>' if css else text)
    return ["".join(parts) for parts in lines][:len(source.splitlines())]


def collect(root: Path, behaviour: str) -> list[Column]:
    """Read, highlight and section each implementation's file; never raises for a bad file."""
    columns = []
    for impl in IMPLEMENTATIONS:
        path = root / f"impl_{impl}" / f"{behaviour}.py"
        column = Column(impl, path.relative_to(root).as_posix())
        columns.append(column)
        if not path.is_file():
            column.state = "missing"
            column.problem = f"{column.path} is not written yet"
            continue
        source = path.read_text(encoding="utf-8")
        column.plain = source.splitlines()
        column.lines = highlight_lines(source)
        column.counts = count_implementation(root, path)
        try:
            column.sections = find_sections(source, column.path)
        except ConventionError as error:
            column.state = "broken"
            column.problem = str(error)
    return columns


def collect_hardening(root: Path) -> list[Column]:
    """Each implementation's hardening module (impl_X/hardening.py) with its clause tags, or why none."""
    columns = []
    for impl in IMPLEMENTATIONS:
        path = hardening_path(root, impl)
        column = Column(impl, path.relative_to(root).as_posix())
        columns.append(column)
        if not path.is_file():
            column.state = "none"
            column.problem = without_hardening(root, impl)
            continue
        source = path.read_text(encoding="utf-8")
        column.plain = source.splitlines()
        column.lines = highlight_lines(source)
        column.tags = count_tags(source, column.path)
        column.marks = {line for definition in column.tags.definitions for line in definition.lines}
    return columns


# -- pieces of HTML ----------------------------------------------------------------------------

def _code(column: Column, start: int, end: int) -> str:
    rows = [f'<span class="l{" tag" if n in column.marks else ""}" data-n="{n}">{column.lines[n - 1] or " "}'
            "</span>" for n in range(start, end + 1)]
    return '<pre class="hl">' + "".join(rows) + "</pre>"


def _lines(lines: tuple[int, int]) -> str:
    return f'{lines[0]} <span class="dim">({lines[1]})</span>'


def _module_list(modules: list[Lines]) -> str:
    if not modules:
        return '<span class="dim">none</span>'
    return "<br>".join(f'<code title="{escape(m.path)}">{escape(m.path.rsplit("/", 1)[-1])}</code> '
                       f"{_lines((m.total, m.code))}" for m in modules)


def render_counts(columns: list[Column]) -> str:
    """The line-count table: each file, its own package modules, the shared plumbing, the totals."""
    head = ("<tr><th></th><th>this file</th><th>+ own modules</th><th>= without plumbing</th>"
            "<th>+ shared plumbing</th><th>= with plumbing</th></tr>")
    rows = []
    for column in columns:
        if column.counts is None:
            rows.append(f'<tr><th>{column.impl}</th><td colspan="5" class="dim">not written yet</td></tr>')
            continue
        c = column.counts
        rows.append(
            f"<tr><th>{column.impl}</th><td>{_lines((c.file.total, c.file.code))}</td>"
            f"<td>{_module_list(c.helpers)}</td><td><b>{_lines(c.without_plumbing)}</b></td>"
            f"<td>{_module_list(c.shared)}</td><td>{_lines(c.with_plumbing)}</td></tr>")
    return (
        '<section class="card" id="counts"><h2>Line counts</h2>'
        f'<table class="data">{head}{"".join(rows)}</table>'
        '<p class="note">Lines (in brackets: code lines, without blanks, comments and docstrings). '
        "Own modules: the ones of the implementation's package that the file imports. Shared plumbing, "
        "the same for every implementation: netrosetta/launch.py (command line, READY line, signals) "
        "and netrosetta/answer.py (what the URL echo answers).</p></section>")


def render_matrix(matrix: Matrix) -> str:
    """The clause x variant table of this behaviour, with each divergence's reason and each failure."""
    title = '<h2>Conformance</h2>'
    if matrix.problem:
        problem = escape(matrix.problem)
        return f'<section class="card" id="matrix">{title}<p class="missing">{problem}</p></section>'
    by_impl = itertools.groupby(matrix.variants, key=lambda v: v.get("impl", ""))
    groups = [(impl, list(vs)) for impl, vs in by_impl]
    top = '<tr><th rowspan="2">clause</th>' + "".join(
        f'<th colspan="{len(vs)}" class="impl">{escape(impl)}</th>' for impl, vs in groups) + "</tr>"
    def short(variant_id: str, impl: str) -> str:
        return "default" if variant_id == impl else variant_id.removeprefix(impl + "-")

    second = "<tr>" + "".join(f'<th class="variant"><span>{escape(short(v["id"], impl))}</span></th>'
                              for impl, vs in groups for v in vs) + "</tr>"
    notes: list[str] = []
    failures: list[str] = []
    rows = []
    for clause in matrix.clauses:
        cid = clause["id"]
        cells = []
        for variant in matrix.variants:
            cell = matrix.cells.get((cid, variant["id"]))
            if cell is None:
                cells.append('<td class="s-none" title="not run">·</td>')
                continue
            status = str(cell.get("status", ""))
            mark = STATUS_MARK.get(status, escape(status))
            tip = f"{cid} {variant['id']}: {status}"
            if cell.get("reason"):
                tip += f" — {cell['reason']}"
            if status == "divergence":
                reason = escape(str(cell.get("reason", "")))
                notes.append(f"<li><b>{escape(cid)}</b> {escape(variant['id'])}: {reason}</li>")
                mark += f"<sup>{len(notes)}</sup>"
            elif status == "fail":
                failures.append(f"<li><b>{escape(cid)}</b> {escape(variant['id'])}: "
                                f"<pre>{escape(str(cell.get('message', ''))[-800:])}</pre></li>")
            css = "s-" + status.replace("/", "")
            cells.append(f'<td class="{css}" title="{escape(tip)}">{mark}</td>')
        rows.append(f'<tr><th class="clause" title="{escape(clause["title"])}">{escape(cid)}'
                    f'<span class="ctitle">{escape(clause["title"])}</span></th>{"".join(cells)}</tr>')
    parts = [f'<section class="card" id="matrix">{title}',
             f'<div class="scroll"><table class="matrix"><thead>{top}{second}</thead>'
             f'<tbody>{"".join(rows)}</tbody></table></div>',
             '<p class="note">✓ pass · ✗ fail · ≈ documented divergence · – not written yet · n/a not '
             "served by that variant · <span>·</span> not run (extra loops run a smoke subset)"]
    if matrix.generated:
        parts.append(f" · from {escape(matrix.source)}, {escape(matrix.generated)}")
    parts.append("</p>")
    if notes:
        parts.append(f'<h3>Divergences</h3><ol class="reasons">{"".join(notes)}</ol>')
    if failures:
        parts.append(f'<details class="failures"><summary>Failures ({len(failures)})</summary>'
                     f'<ul>{"".join(failures)}</ul></details>')
    parts.append("</section>")
    return "".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_gives(gives: Gives) -> str:
    """What each framework gives you: per U clause and framework, the framework's own work, our
    hardening's (with the lines it costs) or a documented divergence, from `make hardening`'s run."""
    title = "<h2>What each framework gives you</h2>"
    if gives.table is None:
        problem = escape(gives.problem)
        return f'<section class="card" id="gives">{title}<p class="missing">{problem}</p></section>'
    table = gives.table
    names = list(table["frameworks"])
    grid = {(c["clause"], c["framework"]): c for c in table["cells"]}
    counts = summary(table)
    totals = table["totals"]
    parts = [f'<section class="card" id="gives">{title}']
    if gives.stale:
        items = "".join(f"<li>{escape(problem)}</li>" for problem in gives.stale)
        parts.append(f'<div class="broken">The recorded table no longer matches the code: run '
                     f'<code>make hardening</code>.<ul>{items}</ul></div>')
    head = "<tr><th></th>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"

    def total(label: str, value: object) -> str:
        return f"<tr><th>{label}</th>" + "".join(f"<td>{value(n)}</td>" for n in names) + "</tr>"

    rows = [
        total("done by the framework", lambda n: _plural(counts[n]["framework"], "clause")),
        total("added by our hardening", lambda n: f'{_plural(counts[n]["hardening"], "clause")}, '
              f'{_plural(totals[n]["hardening"]["tagged"], "line")} of code'),
        total("documented divergence", lambda n: _plural(counts[n]["divergence"], "clause")),
    ]
    if any(counts[n]["fail"] or counts[n]["not run"] for n in names):
        rows.append(total("failing or not run", lambda n: counts[n]["fail"] + counts[n]["not run"]))
    rows += [
        total("core", lambda n: f'<code>{escape(totals[n]["core"]["path"].rsplit("/", 1)[-1])}</code> '
              f'{_lines((totals[n]["core"]["lines"], totals[n]["core"]["code"]))}'),
        total("hardening", lambda n: f'<code>{escape(totals[n]["hardening"]["path"].rsplit("/", 1)[-1])}'
              f'</code> {_lines((totals[n]["hardening"]["lines"], totals[n]["hardening"]["code"]))}'),
    ]
    parts.append(f'<table class="data totals">{head}{"".join(rows)}</table>')
    notes: list[str] = []
    body = []
    for clause in table["clauses"]:
        cid, sentence = clause["id"], clause.get("title", "")
        cells = []
        for name in names:
            cell = grid.get((cid, name))
            if cell is None:
                cells.append('<td class="g-notrun">·</td>')
                continue
            text = escape(cell_text(cell))
            tip = ""
            if cell["status"] == "hardening":
                where = ", ".join(table["tags"].get(name, {}).get("definitions", {}).get(cid, []))
                tip = f"tagged: {where}" if where else ""
                if cell.get("message"):
                    tip += f"\nwith the hardening off:\n{cell['message']}"
            elif cell["status"] == "divergence":
                reason = escape(cell.get("reason", ""))
                notes.append(f"<li><b>{escape(cid)}</b> {escape(name)}: {reason}</li>")
                text += f"<sup>{len(notes)}</sup>"
                tip = cell.get("reason", "")
            elif cell["status"] == "fail":
                tip = cell.get("message", "")
            if cell.get("retried"):
                tip += f"\nsecond try: {cell['retried']}"
            css = "g-" + cell["status"].replace(" ", "")
            cells.append(f'<td class="{css}" title="{escape(tip.strip()[-1500:])}">{text}</td>')
        body.append(f'<tr><th class="clause">{escape(cid)}</th><td class="req" title="{escape(sentence)}">'
                    f'{escape(sentence)}</td>{"".join(cells)}</tr>')
    parts.append('<div class="scroll"><table class="matrix gives"><thead><tr><th>clause</th>'
                 "<th>requirement</th>" + "".join(f'<th class="impl">{escape(n)}</th>' for n in names)
                 + f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')
    seconds = ", ".join(f"hardening {r['hardening']} {r['seconds']:.0f} s" for r in table.get("runs", [])
                        if not r.get("retry"))
    parts.append(
        '<p class="note"><span class="g-framework">framework</span>: passes with the hardening off, the '
        'framework does it · <span class="g-hardening">hardening (N lines)</span>: fails with the hardening '
        "off, passes with it on; N lines of code of impl_X/hardening.py carry a <code># SPEC:</code> tag "
        "naming that clause (a definition serving several clauses counts for each) · "
        '<span class="g-divergence">divergence</span>: documented in conformance/divergences.py · '
        f'<span class="g-fail">fail</span>: fails even with the hardening on. From {escape(gives.source)}, '
        f"<code>make hardening</code>, {escape(str(table.get('generated', '')))} ({escape(seconds)}): the U "
        f"clauses run against each framework's URL echo with <code>{HARDENING_SWITCH}=off</code> and "
        "without. An implementation with no hardening module has no column; the hardening row below "
        "says why.</p>")
    if notes:
        parts.append(f'<h3>Divergences</h3><ol class="reasons">{"".join(notes)}</ol>')
    parts.append("</section>")
    return "".join(parts)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape("" if value is None else str(value))


def render_bench(bench: Bench) -> str:
    """The benchmark figures for this behaviour, one table per result file."""
    parts = ['<section class="card" id="bench"><h2>Benchmark</h2>']
    if bench.problem:
        parts.append(f'<p class="missing">{escape(bench.problem)}</p>')
    for table in bench.tables:
        parts.append(f"<h3>{escape(table['title'])}</h3>")
        if table["columns"]:
            head = "".join(f"<th>{escape(c)}</th>" for c in table["columns"])
            rows = []
            for row in table["rows"]:
                if len(row) > 2 and all(v is None for v in row[1:-1]):
                    # No figures (skipped, failed): say why across the row.
                    rows.append(f"<tr><td>{_cell(row[0])}</td><td colspan=\"{len(row) - 1}\" "
                                f'class="dim left">{_cell(row[-1])}</td></tr>')
                else:
                    rows.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
            body = "".join(rows)
            parts.append(f'<table class="data num"><tr>{head}</tr>{body}</table>')
        if table["note"]:
            parts.append(f'<p class="note">{escape(table["note"])}</p>')
    parts.append("</section>")
    return "".join(parts)


def render_columns(columns: list[Column], hardening: list[Column] | None = None) -> str:
    """The aligned view: one row per section, one column per implementation; then, for a behaviour
    with hardening modules, one more row holding each implementation's whole hardening module."""
    out = [f'<main id="columns" class="grid" style="--n:{len(columns)}">']
    for column in columns:
        badge = {"missing": "not written yet", "broken": "breaks the skeleton"}.get(column.state, "")
        state = f' <span class="badge {column.state}">{badge}</span>' if badge else ""
        out.append(f'<div class="colhead" id="col-{column.impl}" data-impl="{column.impl}">'
                   f'<b>{column.impl}</b>{state} <code>{escape(column.path)}</code></div>')
    for number, (key, title) in enumerate(SECTIONS):
        out.append(f'<h2 class="rowhead" id="row-{key}">{escape(title)}</h2>')
        for column in columns:
            attrs = f'class="cell" data-impl="{column.impl}" data-section="{key}"'
            if column.state != "ok":
                if number == 0:
                    whole = ""
                    if column.lines:  # cannot be cut into sections, but can still be read
                        whole = ('<details><summary>the whole file</summary>'
                                 f"{_code(column, 1, len(column.lines))}</details>")
                    out.append(f'<div {attrs}><p class="{column.state}">{escape(column.problem)}</p>'
                               f"{whole}</div>")
                else:
                    out.append(f'<div {attrs}><p class="dim">—</p></div>')
                continue
            section = column.sections[number]
            if section.empty:
                out.append(f'<div {attrs}><p class="dim">(none)</p></div>')
                continue
            names = ", ".join(section.names) if key in ("constants", "handling", "setup") else ""
            label = f'<div class="names">{escape(names)}</div>' if names else ""
            out.append(f"<div {attrs}>{label}{_code(column, section.start, section.end)}</div>")
    if hardening:
        out.append('<h2 class="hardhead" id="row-hardening">Hardening: what each framework needs on top '
                   "of its core to meet SPEC section U, and where it lets you intercept "
                   '<span class="dim">(<span class="tagmark"># SPEC:</span> lines name the clauses the '
                   "definition below them serves)</span></h2>")
        for column in hardening:
            attrs = f'class="hcell" data-impl="{column.impl}"'
            if column.state != "ok":
                out.append(f'<div {attrs}><p class="dim">{escape(column.problem)}</p></div>')
                continue
            tags = column.tags
            about = (f"<code>{escape(column.path)}</code>: {_plural(tags.code, 'line')} of code, "
                     f"{tags.tagged} tagged with {_plural(len(tags.clauses), 'clause')}")
            problems = "".join(f'<p class="broken">{escape(problem)}</p>' for problem in tags.problems)
            out.append(f'<div {attrs}><div class="names">{about}</div>{problems}'
                       f"{_code(column, 1, len(column.lines))}</div>")
    out.append("</main>")
    return "".join(out)


def _diff_rows(a: Column, b: Column) -> tuple[str, int, int]:
    """Side-by-side rows of a line-level diff of two files, and the counts of lines removed/added."""
    rows = []
    removed = added = 0

    def side(column: Column, n: int | None) -> str:
        if n is None:
            return '<td class="n"></td><td class="c"></td>'
        return f'<td class="n">{n + 1}</td><td class="c hl">{column.lines[n] or " "}</td>'

    matcher = difflib.SequenceMatcher(None, a.plain, b.plain, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        left, right = list(range(i1, i2)), list(range(j1, j2))
        if tag != "equal":
            removed += len(left)
            added += len(right)
        for i, j in itertools.zip_longest(left, right):
            css = {"equal": "eq", "replace": "chg", "delete": "del", "insert": "ins"}[tag]
            rows.append(f'<tr class="{css}">{side(a, i)}{side(b, j)}</tr>')
    return "".join(rows), removed, added


def _diff_table(a: Column, b: Column) -> str:
    rows, removed, added = _diff_rows(a, b)
    return (f'<p class="note">{escape(a.path)} → {escape(b.path)}: <span class="minus">−{removed}</span> '
            f'<span class="plus">+{added}</span> lines</p>'
            '<table class="difftable"><colgroup><col class="n"><col><col class="n"><col></colgroup>'
            f'<tr><th colspan="2">{escape(a.path)}</th>'
            f'<th colspan="2">{escape(b.path)}</th></tr>{rows}</table>')


def render_diffs(columns: list[Column], hardening: list[Column] | None = None) -> str:
    """Every ordered pair of written files as a line-level diff, and of their hardening modules if the
    behaviour has some; the script shows the chosen pair."""
    written = [c for c in columns if c.state != "missing"]
    modules = {c.impl: c for c in hardening or []}
    out = ['<main id="diff" hidden><p id="diff-none" class="missing" hidden>Pick two different '
           "implementations that are written.</p>"]
    for a, b in itertools.permutations(written, 2):
        out.append(f'<section class="diff" data-a="{a.impl}" data-b="{b.impl}" hidden>{_diff_table(a, b)}')
        if hardening:
            out.append('<h3 class="hardhead">Hardening</h3>')
            pair = [modules[a.impl], modules[b.impl]]
            if all(m.state == "ok" for m in pair):
                out.append(_diff_table(*pair))
            for module in pair:
                if module.state != "ok":
                    out.append(f'<p class="dim">{escape(module.problem)}</p>')
        out.append("</section>")
    out.append("</main>")
    return "".join(out)


def _toolbar(columns: list[Column]) -> str:
    written = [c.impl for c in columns if c.state != "missing"]

    def select(name: str, chosen: int) -> str:
        options = "".join(f'<option{" selected" if n == chosen else ""}>{impl}</option>'
                          for n, impl in enumerate(written))
        return f'<select id="diff-{name}" aria-label="diff {name}">{options}</select>'

    return ('<div class="toolbar" id="toolbar"><span>View:</span>'
            '<label><input type="radio" name="view" value="columns" checked> side by side, by section</label>'
            '<label><input type="radio" name="view" value="diff"> line diff of</label>'
            f'{select("a", 0)} <span>and</span> {select("b", 1)}</div>')


SCRIPT = r"""
const grid = document.getElementById('columns'), diff = document.getElementById('diff');
const pickA = document.getElementById('diff-a'), pickB = document.getElementById('diff-b');
function update() {
  const asDiff = document.querySelector('input[name=view]:checked').value === 'diff';
  grid.hidden = asDiff;
  diff.hidden = !asDiff;
  let shown = false;
  for (const section of document.querySelectorAll('section.diff')) {
    section.hidden = !(section.dataset.a === pickA.value && section.dataset.b === pickB.value);
    shown = shown || !section.hidden;
  }
  document.getElementById('diff-none').hidden = shown;
  // The view in the address (#diff-raw-twisted), so a link can point at one diff.
  try {
    history.replaceState(null, '', asDiff ? `#diff-${pickA.value}-${pickB.value}` : location.pathname);
  } catch (error) { /* some browsers refuse for file: pages; the view still works */ }
}
for (const input of document.querySelectorAll('input[name=view]')) input.addEventListener('change', update);
for (const pick of [pickA, pickB]) pick.addEventListener('change', () => {
  document.querySelector('input[name=view][value=diff]').checked = true;
  update();
});
const linked = /^#diff-(\w+)-(\w+)$/.exec(location.hash);
if (linked) {
  pickA.value = linked[1];
  pickB.value = linked[2];
  document.querySelector('input[name=view][value=diff]').checked = true;
}
update();
"""

CSS = """
:root { --line: #d0d7de; --soft: #f6f8fa; --dim: #6e7781; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; }
header { padding: 12px 20px 4px; }
header h1 { margin: 0; font-size: 22px; }
header h1 small { font-weight: normal; color: var(--dim); font-size: 15px; margin-left: 8px; }
nav a { margin-right: 12px; }
code, pre, .variant { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.facts { display: flex; flex-wrap: wrap; gap: 12px; padding: 8px 20px; align-items: flex-start; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; background: #fff;
        flex: 1 1 420px; max-width: 100%; overflow-x: auto; }
#matrix { flex: 1 1 780px; }
#gives { flex: 1 1 100%; }  /* a row of its own: one column per framework, however many */
.side { flex: 1 1 560px; display: flex; flex-direction: column; gap: 12px; min-width: 0; }
.side .card { flex: none; }
.card h2 { font-size: 15px; margin: 0 0 6px; }
.card h3 { font-size: 13px; margin: 8px 0 4px; }
.note, .dim { color: var(--dim); font-size: 12px; }
.missing, .broken { color: #9a6700; background: #fff8c5; padding: 4px 8px; border-radius: 4px; }
.broken { color: #82071e; background: #ffebe9; }
table.data { border-collapse: collapse; font-size: 13px; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left;
                               vertical-align: top; }
table.num td, table.num th { text-align: right; }
table.num td:first-child, table.num th:first-child, table.num td.left { text-align: left; }
table.matrix { border-collapse: collapse; font-size: 12px; }
.scroll { max-height: 480px; overflow: auto; }
table.matrix th, table.matrix td { border: 1px solid var(--line); padding: 2px 4px; text-align: center;
                                   min-width: 22px; }
table.matrix thead th { position: sticky; background: #fff; z-index: 1; }
table.matrix thead tr:first-child th { top: 0; height: 24px; }
table.matrix thead tr + tr th { top: 24px; }
table.matrix th.impl { background: var(--soft); }
table.matrix th.variant { font-weight: normal; font-size: 11px; vertical-align: bottom; }
table.matrix th.variant span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
table.matrix th.clause { text-align: left; white-space: nowrap; }
.ctitle { display: inline-block; max-width: 26em; overflow: hidden; text-overflow: ellipsis;
          vertical-align: bottom; font-weight: normal; color: var(--dim); margin-left: 6px; }
.s-pass { background: #dafbe1; color: #116329; }
.s-fail { background: #ffebe9; color: #82071e; font-weight: bold; }
.s-divergence { background: #fff8c5; color: #7d4e00; }
.s-missing, .s-na, .s-none { color: var(--dim); }
ol.reasons { margin: 0; padding-left: 22px; font-size: 12px; }
.failures pre { white-space: pre-wrap; font-size: 11px; max-height: 12em; overflow: auto; }
.toolbar { position: sticky; top: 0; z-index: 2; background: var(--soft); border-top: 1px solid var(--line);
           border-bottom: 1px solid var(--line); padding: 6px 20px; display: flex; gap: 12px;
           align-items: center; }
.grid { display: grid; grid-template-columns: repeat(var(--n), minmax(0, 1fr)); column-gap: 12px;
        padding: 0 20px 20px; }
.colhead { position: sticky; top: 37px; z-index: 1; background: #fff; padding: 8px 0 4px;
           border-bottom: 2px solid #1f2328; font-size: 15px; }
.colhead code { font-size: 12px; color: var(--dim); margin-left: 6px; }
.badge { font-size: 11px; padding: 1px 6px; border-radius: 10px; }
.rowhead { grid-column: 1 / -1; font-size: 13px; margin: 14px 0 4px; padding: 2px 6px;
           background: var(--soft); border-left: 3px solid #0969da; }
.cell { min-width: 0; }
.names { font-size: 12px; color: #0969da; font-family: ui-monospace, monospace; margin-bottom: 2px; }
pre.hl { margin: 0; font-size: 12px; line-height: 1.4; background: #fbfcfd; border: 1px solid #eaeef2;
         border-radius: 4px; padding: 4px 0; }
pre.hl .l { display: block; white-space: pre-wrap; overflow-wrap: anywhere; padding-left: 4.5ch;
            text-indent: -4.5ch; }
pre.hl .l::before { content: attr(data-n); display: inline-block; width: 3.5ch; margin-right: 1ch;
                    text-align: right; color: #8c959f; text-indent: 0; }
#diff { padding: 8px 20px 20px; }
table.difftable { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: 12px;
                  font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
table.difftable th { text-align: left; background: var(--soft); padding: 4px; }
table.difftable td { padding: 0 6px; vertical-align: top; }
table.difftable td.c { white-space: pre-wrap; overflow-wrap: anywhere; width: 50%; }
table.difftable td.n { width: 4ch; color: #8c959f; text-align: right; }
table.difftable col.n { width: 5ch; }
tr.del td:nth-child(2), tr.chg td:nth-child(2) { background: #ffebe9; }
tr.ins td:nth-child(4), tr.chg td:nth-child(4) { background: #dafbe1; }
tr.ins td:nth-child(2), tr.del td:nth-child(4) { background: #f6f8fa; }
.minus { color: #82071e; } .plus { color: #116329; }
.g-framework { background: #dafbe1; color: #116329; }
.g-hardening { background: #ddf4ff; color: #0550ae; font-weight: 600; }
.g-divergence { background: #fff8c5; color: #7d4e00; }
.g-fail { background: #ffebe9; color: #82071e; font-weight: bold; }
.g-notrun { color: var(--dim); }
.note [class^="g-"] { padding: 0 3px; border-radius: 3px; }
table.gives td { white-space: nowrap; padding: 2px 8px; }
table.gives td.req { text-align: left; max-width: 34em; overflow: hidden; text-overflow: ellipsis;
                     color: var(--dim); }
table.gives thead th { top: 0; }
table.totals td { white-space: nowrap; }
#gives .broken ul { margin: 4px 0; font-size: 12px; }
.hardhead { grid-column: 1 / -1; font-size: 13px; margin: 24px 0 4px; padding: 2px 6px;
            background: var(--soft); border-left: 3px solid #bf8700; }
.hcell { min-width: 0; }
.hcell > p { margin: 4px 0; }
pre.hl .l.tag, .tagmark { background: #fff8c5; }
"""


def _document(title: str, body: str, script: str = "") -> str:
    style = CSS + HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs(".hl")
    tail = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{style}</style></head>"
            f"<body>{body}{tail}</body></html>\n")


def _nav(behaviours: list[str] | None, current: str | None) -> str:
    if not behaviours:
        return ""
    links = ['<a href="index.html">index</a>'] + [
        f"<b>{b}</b>" if b == current else f'<a href="{b}.html">{b}</a>' for b in behaviours]
    return f"<nav>{' '.join(links)}</nav>"


def render_page(behaviour: str, columns: list[Column], matrix: Matrix, bench: Bench,
                behaviours: list[str] | None = None, hardening: list[Column] | None = None,
                gives: Gives | None = None) -> str:
    """The page of one behaviour. ``behaviours``: the pages to link to (with --all); ``hardening``
    and ``gives``: the hardening modules and the recorded table, for the behaviour that has them."""
    header = (f"<header><h1>netrosetta · {escape(behaviour)}<small>{escape(ABOUT.get(behaviour, ''))}"
              f"</small></h1>{_nav(behaviours, behaviour)}</header>")
    side = f'<div class="side">{render_counts(columns)}{render_bench(bench)}</div>'
    # The finding readers come for, first, on the page that has it.
    first = render_gives(gives) if gives is not None else ""
    facts = f'<div class="facts">{first}{render_matrix(matrix)}{side}</div>'
    body = (header + facts + _toolbar(columns) + render_columns(columns, hardening)
            + render_diffs(columns, hardening))
    return _document(f"netrosetta · {behaviour}", body, SCRIPT)


def render_index(pages: list[tuple[str, list[Column], Matrix]]) -> str:
    """The index: one row per behaviour, one column per implementation."""
    head = "<tr><th>behaviour</th>" + "".join(f"<th>{impl}</th>" for impl in IMPLEMENTATIONS) + "</tr>"
    rows = []
    for behaviour, columns, matrix in pages:
        cells = []
        for column in columns:
            if column.state == "missing":
                cells.append('<td class="dim">not written yet</td>')
                continue
            text = f"{column.counts.file.total} lines" if column.counts else ""
            if column.state == "broken":
                text += f'<br><span class="broken">{escape(column.problem)}</span>'
            tally = matrix.counts(column.impl)
            if tally:
                text += "<br>" + " ".join(f'<span class="s-{s.replace("/", "")}">{n} {escape(s)}</span>'
                                          for s, n in sorted(tally.items()))
            cells.append(f"<td>{text}</td>")
        rows.append(f'<tr><th><a href="{behaviour}.html">{behaviour}</a><br><span class="dim">'
                    f"{escape(ABOUT.get(behaviour, ''))}</span></th>{''.join(cells)}</tr>")
    ways = f"{len(IMPLEMENTATIONS)} ways"
    body = (f"<header><h1>netrosetta<small>the same servers, {ways}, side by side</small></h1></header>"
            f'<div class="facts"><section class="card" id="index"><table class="data">{head}{"".join(rows)}'
            '</table><p class="note">Lines of each behaviour file; conformance cells of all its variants.'
            "</p></section></div>")
    return _document("netrosetta · compare", body)
