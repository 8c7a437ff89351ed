"""netrosetta compare and diff: section finding, the diff command, and the pages in a real browser."""

from __future__ import annotations

import html
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import netrosetta.compare as compare
from netrosetta.compare.browser import find_chromium, run_chromium
from netrosetta.compare.page import IMPLEMENTATIONS, collect
from netrosetta.compare.results import load_bench, load_matrix
from netrosetta.compare.sections import SECTIONS, ConventionError, find_sections

REPO = Path(__file__).resolve().parent.parent
BEHAVIOURS = ("echo", "multiport", "urlecho", "fetch")

GOOD = '''\
"""A behaviour file that follows the skeleton."""

import sys

from netrosetta.launch import Config, run

# Why this value.
LIMIT = 10
log = None


@decorated
class EchoThing:
    """One client."""

    def method(self) -> None:
        pass


def helper() -> None:
    pass


HELPER_INSTANCE = EchoThing()


def serve(host: str, port: int) -> None:
    """Listen."""


async def main_async(config: Config) -> None:
    pass


def main(config: Config) -> None:
    """Run."""


if __name__ == "__main__":
    run(None, ["echo", *sys.argv[1:]])
'''


def test_sections_of_a_file_that_follows_the_skeleton():
    sections = {s.key: s for s in find_sections(GOOD, "impl_x/echo.py")}
    assert [s.key for s in find_sections(GOOD, "x.py")] == [key for key, _ in SECTIONS]
    lines = GOOD.splitlines()

    def text(key: str) -> list[str]:
        return lines[sections[key].start - 1:sections[key].end]

    assert text("docstring") == ['"""A behaviour file that follows the skeleton."""']
    assert text("imports")[0] == "import sys" and text("imports")[-1].startswith("from netrosetta")
    assert text("constants") == ["# Why this value.", "LIMIT = 10", "log = None"]  # comment above joins
    assert text("handling")[0] == "@decorated"  # a decorator belongs to its class
    assert sections["handling"].names == ["EchoThing", "helper", "HELPER_INSTANCE"]
    assert sections["setup"].names == ["serve", "main_async"]  # a helper joins the section it follows
    assert text("main") == ["def main(config: Config) -> None:", '    """Run."""']
    assert text("guard") == ['if __name__ == "__main__":', '    run(None, ["echo", *sys.argv[1:]])']


def test_sections_survive_edits_inside_definitions():
    method = "\n    def more(self) -> int:\n        return 1\n"
    edited = GOOD.replace("        pass\n", "        pass\n" + method, 1)
    before = {s.key: s for s in find_sections(GOOD, "x.py")}
    after = {s.key: s for s in find_sections(edited, "x.py")}
    assert after["handling"].end == before["handling"].end + 3
    assert after["setup"].start == before["setup"].start + 3
    assert after["docstring"] == before["docstring"] and after["imports"] == before["imports"]


def test_empty_optional_sections():
    source = ('"""Doc."""\n\ndef serve():\n    pass\n\ndef main(config):\n    pass\n\n'
              'if "__main__" == __name__:\n    main(None)\n')
    sections = {s.key: s for s in find_sections(source, "x.py")}
    assert sections["imports"].empty and sections["constants"].empty and sections["handling"].empty
    assert not sections["guard"].empty


BROKEN = [
    # (what is done to GOOD, the words the one-line message must contain)
    (lambda s: s.split("\n", 1)[1], "no module docstring"),
    (lambda s: s.replace("def serve(", "def listen(", 1), "no top-level serve() function"),
    (lambda s: s.replace("def main(", "def start(", 1), "no top-level main() function"),
    (lambda s: s.replace('if __name__ == "__main__":\n    run', "if True:\n    run", 1), "has no place"),
    (lambda s: s.replace('if __name__ == "__main__":\n    run(None, ["echo", *sys.argv[1:]])\n', "", 1),
     'no `if __name__ == "__main__":` guard'),
    (lambda s: s + "\nimport os\n", "comes after the __main__ guard"),
    (lambda s: s.replace("\n\ndef serve(", "\n\nimport os\n\n\ndef serve(", 1),
     "line 27: an import (Imports) comes after Connection / request handling"),
    (lambda s: s.replace("\n\ndef main(", "\n\nclass Late:\n    pass\n\n\ndef main(", 1),
     "class Late (Connection / request handling) comes after Set-up"),
    (lambda s: s.replace("LIMIT = 10", "print('hello')", 1),
     "line 8: a top-level Expr statement has no place"),
    (lambda s: s.replace("def helper() -> None:", "def helper( -> None:", 1), "not valid Python"),
]


@pytest.mark.parametrize(("edit", "words"), BROKEN)
def test_a_file_breaking_the_skeleton_gets_a_one_line_message(edit, words):
    with pytest.raises(ConventionError) as caught:
        find_sections(edit(GOOD), "impl_x/echo.py")
    message = str(caught.value)
    assert message.startswith("impl_x/echo.py: ") and words in message and "\n" not in message, message


def test_the_real_files_follow_the_skeleton():
    """Every implementation file written so far can be sectioned (a missing one is simply absent)."""
    for behaviour in BEHAVIOURS:
        for column in collect(REPO, behaviour):
            assert column.state in ("ok", "missing"), column.problem


def test_matrix_keeps_the_behaviours_clauses_in_spec_order(tmp_path):
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps({
        "variants": [{"id": "raw", "impl": "raw"}, {"id": "raw-poll", "impl": "raw"},
                     {"id": "go", "impl": "go"}],
        "clauses": [{"id": "E10", "title": "ten"}, {"id": "E2", "title": "two"}],
        "cells": [
            {"clause": "E2", "variant": "raw", "status": "pass", "test": "conformance/test_echo.py::t[raw]"},
            {"clause": "E10", "variant": "raw-poll", "status": "divergence", "reason": "why",
             "test": "conformance/test_echo.py::t[raw-poll]"},
            {"clause": "U1", "variant": "raw", "status": "pass", "test": "test_urlecho.py::t[raw]"},
            {"clause": "L1", "variant": "raw", "status": "pass", "test": "test_launch.py::t[raw]"},
            {"clause": "E2", "variant": "raw-poll", "status": "pass", "test": "test_echo_x.py::t[raw-poll]"},
            {"clause": "L2", "variant": "raw", "status": "pass", "test": "test_echo_launch.py::t[raw]"},
        ]}))
    matrix = load_matrix(path, "echo")
    assert not matrix.problem
    assert [c["id"] for c in matrix.clauses] == ["E10", "E2", "L2"]  # SPEC.md's order, then the rest
    assert [v["id"] for v in matrix.variants] == ["raw", "raw-poll"]  # only the variants that ran
    assert matrix.cells[("E10", "raw-poll")]["reason"] == "why"
    assert matrix.counts("raw") == {"pass": 3, "divergence": 1}  # L2: tested in an echo test file
    assert "has no results for multiport" in load_matrix(path, "multiport").problem
    assert "not found" in load_matrix(tmp_path / "absent.json", "echo").problem
    path.write_text("{not json")
    assert "is not a conformance matrix" in load_matrix(path, "echo").problem


def test_bench_figures_of_one_behaviour(tmp_path):
    figures = {"requests_per_s": 1000.0, "mib_per_s": 1.0, "latency_p50_ms": 0.5, "errors": 0}
    (tmp_path / "bench.json").write_text(json.dumps({
        "schema": "netrosetta-bench/1", "mode": "quick", "started": "T", "machine": {"cpu": "C", "cores": 2},
        "servers": [{"id": "raw", "label": "impl_raw", "kind": "implementation"},
                    {"id": "nginx", "label": "nginx", "kind": "reference"}],
        "scenarios": [
            {"id": "u", "group": "urlecho", "title": "urlecho keep-alive", "metric": "requests_per_s"},
            {"id": "e", "group": "echo", "title": "echo", "metric": "requests_per_s"}],
        "results": [
            {"scenario": "u", "server": "raw", "kind": "implementation", "status": "ok", "median": figures},
            {"scenario": "u", "server": "nginx", "kind": "reference", "status": "skipped",
             "reason": "nginx not installed", "median": None},
            {"scenario": "e", "server": "raw", "kind": "implementation", "status": "ok", "median": figures}],
        "ratios": [{"title": "raw vs nginx", "scenario": "u", "throughput_ratio": 0.5, "cpu_ratio": None,
                    "headline": 0.5, "target": 0.25, "met": True, "note": ""}]}))
    bench = load_bench(tmp_path, "urlecho")
    assert not bench.problem
    first, ratios = bench.tables
    assert first["title"] == "urlecho keep-alive (u)"  # the scenario id, for `netrosetta bench --scenario`
    assert first["columns"] == ["server", "requests/s", "p50 ms", "errors", "status"]
    assert first["rows"] == [["impl_raw", 1000.0, 0.5, 0, "ok"],
                             ["nginx (reference)", None, None, None, "skipped: nginx not installed"]]
    assert ratios["rows"][0][:7] == ["raw vs nginx", "u", 0.5, None, 0.5, 0.25, "met"]
    assert "quick run" in ratios["note"]
    assert "no figures for multiport" in load_bench(tmp_path, "multiport").problem
    assert "not found" in load_bench(tmp_path / "absent", "echo").problem


def test_bench_memory_per_connection_of_one_behaviour(tmp_path):
    """The memory scenario of a behaviour shows on its page: KiB per connection, held / opened, and
    the memory targets (lower is better), each named by its scenario id."""
    held = {"requested": 100, "held": 100, "failed": 0, "dropped": 0, "kib_per_connection": 1.5}
    (tmp_path / "bench.json").write_text(json.dumps({
        "schema": "netrosetta-bench/1", "mode": "quick", "started": "T", "machine": {"cpu": "C", "cores": 2},
        "servers": [], "results": [], "ratios": [],
        "scenarios": [{"id": "memory-echo", "group": "memory", "title": "echo, memory per connection",
                       "metric": "kib_per_connection", "params": {"behaviour": "echo", "conns": 100}}],
        "per_connection": [
            {"scenario": "memory-echo", "server": "raw", "kind": "implementation", "behaviour": "echo",
             "label": "impl_raw", "status": "ok", "reason": None, "median": held},
            {"scenario": "memory-echo", "server": "uvloop", "kind": "reference", "behaviour": "echo",
             "label": "uvloop", "status": "ok", "reason": None,
             "median": dict(held, kib_per_connection=2.0)}],
        "memory_ratios": [{"id": "raw-memory-echo", "title": "raw vs uvloop", "scenario": "memory-echo",
                           "ratio": 0.75, "target": 1.0, "met": True}]}))
    table, ratios = load_bench(tmp_path, "echo").tables
    assert table["title"] == "echo, memory per connection (memory-echo)"
    assert table["rows"] == [["impl_raw", 1.5, "100/100", "ok"], ["uvloop (reference)", 2.0, "100/100", "ok"]]
    assert ratios["rows"] == [["raw vs uvloop", "memory-echo", 0.75, 1.0, "met"]]
    assert "no figures for urlecho" in load_bench(tmp_path, "urlecho").problem


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A repository with raw and twisted echo files only, one of them breaking the skeleton on demand."""
    root = tmp_path / "repo"
    for impl in ("raw", "twisted"):
        (root / f"impl_{impl}").mkdir(parents=True)
        (root / f"impl_{impl}" / "echo.py").write_text(GOOD.replace("EchoThing", f"Echo{impl.title()}"))
    monkeypatch.setattr(compare, "ROOT", root)
    return root


def test_compare_page_with_a_broken_and_a_missing_file(fake_repo, tmp_path, capsys):
    (fake_repo / "impl_twisted" / "echo.py").write_text(GOOD.replace("def serve(", "def listen(", 1))
    out = tmp_path / "out"
    status = compare.main(["echo", "--out", str(out), "--matrix", str(tmp_path / "none.json"),
                           "--bench", str(tmp_path / "nobench")])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out.strip() == str(out / "echo.html")
    # Files named on the command line but not there are warned of; the broken one is the problem.
    lines = captured.err.splitlines()
    assert lines[0].startswith(f"netrosetta compare: warning: --matrix {tmp_path / 'none.json'}: no such")
    assert lines[1].startswith(f"netrosetta compare: warning: --bench {tmp_path / 'nobench'}: no such")
    assert lines[2:] == ["netrosetta compare: impl_twisted/echo.py: no top-level serve() function"]
    page = (out / "echo.html").read_text()
    assert "impl_twisted/echo.py: no top-level serve() function" in page
    assert "impl_tornado/echo.py is not written yet" in page
    assert page.count("<summary>the whole file</summary>") == 1  # the broken file can still be read
    assert "EchoRaw" in page and "no conformance results" in page and "no benchmark results" in page


@pytest.mark.parametrize("argv", [[], ["nope"], ["echo", "--all"], ["echo", "--port", "x"], ["--bogus"],
                                  ["echo", "extra"]])
def test_compare_bad_command_line(argv, capsys):
    assert compare.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("netrosetta compare: error: ") and err.count("\n") == 1, err


def test_diff_plain_when_not_a_terminal(fake_repo, capsys):
    (fake_repo / "impl_twisted" / "echo.py").write_text(GOOD.replace("LIMIT = 10", "LIMIT = 20"))
    assert compare.diff_main(["echo", "raw", "twisted"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("--- impl_raw/echo.py\n+++ impl_twisted/echo.py\n@@ ")
    assert "\n-LIMIT = 10\n+LIMIT = 20\n" in out and "\x1b[" not in out


def test_diff_colour_on_request_and_identical_files(fake_repo, capsys):
    (fake_repo / "impl_twisted" / "echo.py").write_text(GOOD.replace("LIMIT = 10", "LIMIT = 20"))
    assert compare.diff_main(["echo", "raw", "twisted", "--color", "always"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" in out and "LIMIT = 20" in out
    assert compare.diff_main(["echo", "raw", "raw"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("argv", "status", "words"), [
    (["echo", "raw"], 2, "the following arguments are required"),
    (["nope", "raw", "twisted"], 2, "unknown behaviour 'nope'"),
    (["echo", "raw", "go"], 2, "unknown implementation 'go'"),
    (["echo", "raw", "tornado"], 1, "impl_tornado/echo.py is not written yet"),
])
def test_diff_errors(fake_repo, capsys, argv, status, words):
    assert compare.diff_main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith("netrosetta diff: error: ") and words in err and err.count("\n") == 1, err


HARDENING = '"""Hardening."""\n\n\n# SPEC: U12.1\ndef harden(site, config):\n    return site\n'


def test_diff_of_the_hardening_modules(fake_repo, capsys):
    for impl, limit in (("twisted", "1"), ("tornado", "2")):
        (fake_repo / f"impl_{impl}").mkdir(exist_ok=True)
        source = HARDENING.replace("site\n", f"site  # {limit}\n")
        (fake_repo / f"impl_{impl}" / "hardening.py").write_text(source)
    assert compare.diff_main(["urlecho", "twisted", "tornado", "--hardening"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("--- impl_twisted/hardening.py\n+++ impl_tornado/hardening.py\n@@ ")
    assert "\n-    return site  # 1\n+    return site  # 2\n" in out
    raw_core = GOOD.replace("import sys", "from netrosetta import rules")
    (fake_repo / "impl_raw" / "urlecho.py").write_text(raw_core)
    assert compare.diff_main(["urlecho", "raw", "twisted", "--hardening"]) == 1
    assert capsys.readouterr().err == ("netrosetta diff: error: impl_raw has no hardening module: its "
                                       "urlecho.py applies netrosetta/rules.py itself, so there is nothing "
                                       "to switch off\n")
    assert compare.diff_main(["echo", "twisted", "tornado", "--hardening"]) == 2
    assert "--hardening: only urlecho has hardening modules" in capsys.readouterr().err


def test_every_pair_of_columns_whatever_their_number():
    """Five implementations: five columns, five hardening cells, a diff (and hardening diff) per pair."""
    from netrosetta.compare.page import Column, highlight_lines, render_page
    from netrosetta.compare.results import Bench, Gives, Matrix
    from netrosetta.hardening import count_tags

    names = ["a", "b", "c", "d", "e"]
    columns, modules = [], []
    for number, name in enumerate(names):
        source = GOOD.replace("LIMIT = 10", f"LIMIT = {number}")
        columns.append(Column(name, f"impl_{name}/urlecho.py", lines=highlight_lines(source),
                              plain=source.splitlines(), sections=find_sections(source, "x.py")))
        if name == "a":
            modules.append(Column(name, "impl_a/hardening.py", state="none", problem="a has none"))
            continue
        source = HARDENING.replace("site\n", f"site  # {name}\n")
        modules.append(Column(name, f"impl_{name}/hardening.py", lines=highlight_lines(source),
                              plain=source.splitlines(), tags=count_tags(source), marks={4}))
    gives = Gives("table.json", table=gives_table(names[1:]))
    page = render_page("urlecho", columns, Matrix("m.json", problem="none"), Bench("b", problem="none"),
                       hardening=modules, gives=gives)
    assert 'style="--n:5"' in page
    assert page.count('class="colhead"') == 5 and page.count('class="hcell"') == 5
    assert page.count('<section class="diff"') == 20 and page.count('<h3 class="hardhead">') == 20
    assert page.count("impl_b/hardening.py → impl_e/hardening.py") == 1
    assert page.count("a has none") == 1 + 8  # its cell, and the 8 diffs it is in
    assert page.count('<span class="l tag" data-n="4">') == 4  # each tag line picked out
    assert '<th class="impl">e</th>' in page and "--n:3" not in page


def test_diff_is_coloured_on_a_terminal():
    """Through the console script, with stdout a pseudo-terminal: ANSI colours; through a pipe: none."""
    command = [str(Path(sys.executable).parent / "netrosetta"), "diff", "echo", "raw", "twisted"]
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(command, stdout=secondary, stderr=subprocess.PIPE, timeout=60, cwd=REPO)
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    assert proc.returncode == 0, proc.stderr
    on_terminal = b"".join(chunks).decode()
    assert "\x1b[" in on_terminal and "impl_twisted/echo.py" in on_terminal
    piped = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert piped.returncode == 0 and piped.stdout.startswith("--- impl_raw/echo.py\n")
    assert "\x1b[" not in piped.stdout


def test_open_serves_the_page_until_interrupted(tmp_path):
    command = [str(Path(sys.executable).parent / "netrosetta"), "compare", "echo", "--open",
               "--out", str(tmp_path), "--matrix", str(tmp_path / "none.json")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout.readline().strip() == str(tmp_path / "echo.html")
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/echo\.html", line)
        assert url, line
        with urllib.request.urlopen(url.group(0), timeout=30) as response:
            assert response.status == 200 and b"impl_raw/echo.py" in response.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


# -- the pages in a real browser ---------------------------------------------------------------

# Runs in the page after its own script: measures what a reader would see, then writes it as JSON.
PROBE = """<script>
(() => {
  const visible = el => {
    if (!el) return false;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return box.width > 20 && box.height > 5 && style.visibility !== 'hidden' && style.display !== 'none';
  };
  const report = {columns: {}, cells: {}, rows: [], hardening: {}};
  for (const head of document.querySelectorAll('.colhead')) {
    report.columns[head.dataset.impl] = visible(head);
    const cells = [...document.querySelectorAll(`.cell[data-impl="${head.dataset.impl}"]`)];
    report.cells[head.dataset.impl] = cells.filter(visible).length;
    const hardening = document.querySelector(`.hcell[data-impl="${head.dataset.impl}"]`);
    if (hardening) report.hardening[head.dataset.impl] = visible(hardening) ? hardening.innerText : null;
  }
  report.hardeningRow = visible(document.getElementById('row-hardening'));
  const gives = document.getElementById('gives');
  report.gives = visible(gives);
  report.givesText = gives ? gives.innerText : '';
  report.givesCells = [...document.querySelectorAll('#gives table.gives td[class^="g-"]')].filter(visible)
    .map(td => td.innerText);
  for (const row of document.querySelectorAll('.rowhead')) {
    // the same idea on the same row: every cell of a section starts at the same height
    const tops = [...document.querySelectorAll(`.cell[data-section="${row.id.slice(4)}"]`)]
      .map(cell => Math.round(cell.getBoundingClientRect().top));
    report.rows.push({id: row.id, visible: visible(row), aligned: new Set(tops).size === 1});
  }
  const matrix = document.getElementById('matrix');
  report.matrix = visible(matrix);
  report.matrixCells = [...document.querySelectorAll('#matrix td')].filter(visible).length;
  report.matrixText = matrix ? matrix.innerText : '';
  report.index = visible(document.getElementById('index'));
  const toDiff = document.querySelector('input[name=view][value=diff]');
  if (toDiff) {
    toDiff.click();
    const shown = [...document.querySelectorAll('section.diff')].filter(visible);
    report.diffShown = shown.map(s => s.dataset.a + '/' + s.dataset.b);
    report.hardeningInDiff = shown.map(s => s.querySelector('.hardhead')).filter(visible).length;
    report.gridHiddenInDiff = !visible(document.getElementById('columns'));
    document.querySelector('input[name=view][value=columns]').click();  // as the reader found it
  }
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify(report);
  document.body.append(out);
})();
</script>"""


def chromium() -> str:
    """The browser, or a skip outside CI; in CI (CI=true) a missing browser is a failure."""
    found = find_chromium()
    if found:
        return found
    message = "chromium not found: `make test` installs it (apt-get install chromium)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message)
    pytest.skip(message)


def open_in_browser(page: Path, tmp_path: Path) -> tuple[dict, str, Path]:
    """Open a copy of the page with the probe: (the probe's report, the DOM, a screenshot)."""
    browser = chromium()
    probed = tmp_path / page.name
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    shot = tmp_path / f"{page.stem}.png"
    result = run_chromium(browser, f"--screenshot={shot}", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"no probe result; chromium said:\n{result.stderr[-2000:]}"
    assert shot.is_file() and shot.stat().st_size > 10_000, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("NETROSETTA_SCREENSHOTS")  # a directory to keep them in, e.g. for CI artifacts
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return json.loads(html.unescape(found.group(1))), result.stdout, shot


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    """Every page, with a small matrix (a pass, a failure, a divergence with its reason) and a bench file."""
    out = tmp_path_factory.mktemp("compare")
    matrix = out / "matrix.json"
    cells = [
        {"clause": "E1", "variant": "raw", "status": "pass", "test": "test_echo.py::test_E1_x[raw]"},
        {"clause": "E1", "variant": "twisted", "status": "divergence",
         "test": "test_echo.py::test_E1_x[twisted]", "reason": "a reason the reader must see"},
        {"clause": "E3", "variant": "tornado", "status": "fail", "test": "test_echo.py::test_E3_x[tornado]",
         "message": "requirement / sent / got"},
        {"clause": "M1", "variant": "raw", "status": "pass", "test": "test_multiport.py::test_M1_x[raw]"},
        {"clause": "U1", "variant": "raw", "status": "pass", "test": "test_urlecho.py::test_U1_x[raw]"},
        {"clause": "F1", "variant": "raw", "status": "pass", "test": "test_fetch.py::test_F1_x[raw]"},
    ]
    matrix.write_text(json.dumps({
        "variants": [{"id": impl, "impl": impl} for impl in IMPLEMENTATIONS],
        "clauses": [{"id": "E1", "title": "Every byte comes back."}, {"id": "E3", "title": "Half-close."}],
        "cells": cells}))
    bench = out / "bench"
    bench.mkdir()
    (bench / "run.json").write_text(json.dumps({"results": [
        {"behaviour": "echo", "impl": "raw", "requests_per_second": 12345.6}]}))
    gives = out / "table.json"
    gives.write_text(json.dumps(gives_table(FRAMEWORKS)))
    status = compare.main(["--all", "--out", str(out), "--matrix", str(matrix), "--bench", str(bench),
                           "--hardening-table", str(gives)])
    assert status == 0
    return out


# The columns of the "what each framework gives you" table: every implementation but the one whose
# parser is netrosetta/rules.py itself.
FRAMEWORKS = [impl for impl in IMPLEMENTATIONS if impl != "raw"]


def gives_table(frameworks: list[str]) -> dict:
    """A recorded table as `make hardening` writes it: one clause each framework does by itself, one
    our hardening adds (7 lines), one the last framework documents as a divergence."""
    cells = []
    for impl in frameworks:
        cells += [{"clause": "U1.1", "framework": impl, "status": "framework", "on": "pass", "off": "pass",
                   "lines": 0},
                  {"clause": "U12.1", "framework": impl, "status": "hardening", "on": "pass", "off": "fail",
                   "lines": 7, "message": "expected 400, got 200"}]
        last = impl == frameworks[-1]
        cells.append({"clause": "U9.2", "framework": impl, "status": "divergence" if last else "framework",
                      "on": "divergence" if last else "pass", "off": "pass", "lines": 0,
                      **({"reason": "a divergence the reader must see"} if last else {})})
    file = {"lines": 10, "code": 8}
    return {
        "schema": "netrosetta-hardening/1", "generated": "2026-12-01T00:00:00+00:00",
        "frameworks": frameworks,
        "runs": [{"hardening": "on", "pytest_status": 0, "seconds": 40.0, "command": "pytest"},
                 {"hardening": "off", "pytest_status": 1, "seconds": 50.0, "command": "pytest"}],
        "clauses": [{"id": "U1.1", "title": "Answered 200."}, {"id": "U9.2", "title": "HTTP/1.x."},
                    {"id": "U12.1", "title": "Host required."}],
        "cells": cells,
        "tags": {impl: {"path": f"impl_{impl}/hardening.py", "clauses": {"U12.1": 7},
                        "definitions": {"U12.1": ["HostCheck"]}} for impl in frameworks},
        "totals": {impl: {"core": {"path": f"impl_{impl}/urlecho.py", **file},
                          "hardening": {"path": f"impl_{impl}/hardening.py", **file, "tagged": 7}}
                   for impl in frameworks},
    }


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_page_in_a_real_browser(pages, behaviour, tmp_path):
    page = pages / f"{behaviour}.html"
    source = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", source), "the page must not need the network"
    report, _, _ = open_in_browser(page, tmp_path)

    assert report["columns"] == {impl: True for impl in IMPLEMENTATIONS}
    assert report["cells"] == {impl: len(SECTIONS) for impl in IMPLEMENTATIONS}
    assert [row["id"] for row in report["rows"]] == [f"row-{key}" for key, _ in SECTIONS]
    assert all(row["visible"] and row["aligned"] for row in report["rows"]), report["rows"]
    assert report["matrix"] and report["matrixCells"] > 0
    if behaviour == "echo":
        assert "a reason the reader must see" in report["matrixText"]
        assert "requests_per_second" in source
    if behaviour == "urlecho":
        # Below the cores, every implementation's hardening module, or a line saying why it has none.
        assert report["hardeningRow"]
        assert set(report["hardening"]) == set(IMPLEMENTATIONS) and all(report["hardening"].values())
        assert "netrosetta/rules.py" in report["hardening"]["raw"]
        assert report["gives"] and "What each framework gives you" in report["givesText"]
        n = len(FRAMEWORKS)
        assert report["givesCells"] == (["framework"] * n  # U1.1, then U9.2 and U12.1
                                        + ["framework"] * (n - 1) + ["divergence1"]
                                        + ["hardening (7 lines)"] * n)
        assert "a divergence the reader must see" in report["givesText"]
    else:
        assert not report["hardening"] and not report["hardeningRow"] and not report["gives"]
    written = [c.impl for c in collect(REPO, behaviour) if c.state != "missing"]
    if len(written) >= 2:
        assert report["diffShown"] == [f"{written[0]}/{written[1]}"] and report["gridHiddenInDiff"]
        assert report["hardeningInDiff"] == (behaviour == "urlecho")


def test_index_in_a_real_browser(pages, tmp_path):
    report, dom, _ = open_in_browser(pages / "index.html", tmp_path)
    assert report["index"]
    for behaviour in BEHAVIOURS:
        assert f'href="{behaviour}.html"' in dom


def test_screenshot_command_writes_a_png_of_a_page_naming_no_machine_paths(tmp_path, capsys):
    """`netrosetta compare urlecho --screenshot PNG` (make screenshot, the README's picture)."""
    chromium()
    png = tmp_path / "shot.png"
    assert compare.main(["urlecho", "--screenshot", str(png), "--window-size", "800,600"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert capsys.readouterr().out == f"{png}\n"
    # What the page prints of its result files is relative to the repository, never absolute.
    assert load_matrix(REPO / "conformance-results" / "matrix.json", "urlecho", REPO).source == \
        "conformance-results/matrix.json"
    assert load_bench(REPO / "docs" / "bench", "urlecho", REPO).source == "docs/bench"


@pytest.mark.parametrize(("argv", "words"), [
    (["--all", "--screenshot", "x.png"], "--screenshot takes one BEHAVIOUR"),
    (["urlecho", "--screenshot", "x.png", "--out", "d"], "--screenshot takes one BEHAVIOUR"),
    (["urlecho", "--screenshot", "x.png", "--window-size", "big"], "not WIDTH,HEIGHT"),
])
def test_screenshot_usage_errors(argv, words, capsys):
    assert compare.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
