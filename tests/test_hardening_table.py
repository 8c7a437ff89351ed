"""The "what each framework gives you" table: clause-tag counting, and the recorded table kept true."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

import netrosetta.hardening as hardening
from netrosetta.hardening import (
    RERUN_HINT,
    build_table,
    check,
    classify,
    count_tags,
    load_table,
    render_markdown,
    suite_args,
)

REPO = Path(__file__).resolve().parent.parent
TABLE = REPO / "docs" / "hardening" / "table.json"


def test_the_recorded_table_matches_the_clause_tags():
    """docs/hardening/table.json against the hardening modules as they are now (no server runs)."""
    table = load_table(TABLE) if TABLE.is_file() else None
    problems = check(REPO, table)
    assert not problems, "\n".join([*problems, RERUN_HINT])


MODULE = '''\
"""A hardening module."""

from netrosetta import rules

LIMIT = 3


# SPEC: U12.1 U12.2
class HostCheck:
    """Refuse bad hosts."""

    def check(self, value: str) -> bool:
        # a comment is not code
        if not value:
            return False

        return True

    # SPEC: U14.1
    # Why the target comes first: a comment between the tag and the definition is fine.
    @staticmethod
    def too_long(target: bytes) -> bool:
        """Docstrings are not code either."""
        return len(target) > (
            LIMIT)


def harden(site, config):
    return site
'''


def test_tagged_lines_per_clause():
    tags = count_tags(MODULE, "impl_x/hardening.py")
    assert tags.problems == []
    # HostCheck: `class`, `def check`, `if`, two `return`s; its tagged method is taken out.
    # too_long: the decorator, `def`, and a two-line `return`.
    assert tags.clauses == {"U12.1": 5, "U12.2": 5, "U14.1": 4}
    assert [(d.name, d.clauses, d.code) for d in tags.definitions] == [
        ("HostCheck", ("U12.1", "U12.2"), 5), ("HostCheck.too_long", ("U14.1",), 4)]
    assert tags.tagged == 9
    assert tags.code == 9 + 4  # plumbing: the import, LIMIT, `def harden` and its `return`
    assert tags.names("U12.2") == ["HostCheck"]


def test_clauses_sort_naturally_and_an_untagged_inner_def_counts_for_its_tagged_class():
    source = ("# SPEC: U10.1 U9.3\n# (a long tag goes on)\n# SPEC: U9 U9.3\n"
              "class A:\n    def inner(self):\n        return 1\n\n\ndef plumbing():\n    return 2\n")
    tags = count_tags(source, "h.py")
    assert list(tags.clauses) == ["U9", "U9.3", "U10.1"]
    assert tags.clauses["U9"] == 3 and tags.code == 5
    assert [(d.lines, d.clauses) for d in tags.definitions] == [((1, 3), ("U10.1", "U9.3", "U9"))]


@pytest.mark.parametrize(("source", "words"), [
    ("@decorator\n# SPEC: U1.1\ndef f():\n    pass\n", "line 2: `# SPEC:` tag not directly above a def"),
    ("# SPEC: U1.1\n\ndef f():\n    pass\n", "line 1: `# SPEC:` tag not directly above"),
    ("# SPEC: U1.1\nLIMIT = 3\n", "line 1: `# SPEC:` tag not directly above"),
    ("# SPEC: U1.1 and-more\ndef f():\n    pass\n", "line 1: `# SPEC:` tag not clause ids: and-more"),
    ("# SPEC:\ndef f():\n    pass\n", "line 1: `# SPEC:` tag names no clause"),
    ("def f(:\n", "line 1: not valid Python"),
])
def test_misplaced_or_malformed_tags_are_reported(source, words):
    problems = count_tags(source, "impl_x/hardening.py").problems
    assert len(problems) == 1 and problems[0].startswith("impl_x/hardening.py: ") and words in problems[0], \
        problems


def test_a_tag_inside_a_string_or_after_code_is_not_a_tag():
    source = 'TEXT = """\n# SPEC: U1.1\n"""\n\n\ndef f():  # SPEC: U1.2\n    pass\n'
    tags = count_tags(source, "h.py")
    assert tags.clauses == {} and tags.problems == []


@pytest.mark.parametrize(("on", "off", "expected"), [
    ("pass", "pass", "framework"),
    ("pass", "fail", "hardening"),
    ("pass", "missing", "hardening"),
    ("divergence", "divergence", "divergence"),
    ("divergence", "fail", "divergence"),
    ("fail", "pass", "fail"),
    ("fail", "fail", "fail"),
    ("missing", "missing", "fail"),
    (None, "pass", "not run"),
    ("pass", None, "not run"),
])
def test_classify(on, off, expected):
    def cell(status):
        return None if status is None else {"status": status}

    assert classify(cell(on), cell(off)) == expected


def test_suite_args_run_the_u_clauses_of_the_default_variants_only():
    args = suite_args(["twisted", "tornado"], 2)
    assert args[:3] == ["conformance", "-n", "2"]
    assert args[args.index("--impl") + 1] == "twisted,tornado"
    keyword = args[args.index("-k") + 1]
    assert keyword.startswith("test_U and ")
    assert "not twisted-select" in keyword and "not tornado-uvloop" in keyword
    assert "not raw-" not in keyword and "not twisted and" not in keyword
    assert shlex.split(shlex.join(args)) == args


# -- a fake repository: four implementations, three of them frameworks with hardening modules --------

FAKE_IMPLEMENTATIONS = ("raw", "twisted", "tornado", "asyncio")
CORE = '"""A core."""\n\nfrom impl_x import hardening\n\n\ndef serve():\n    pass\n'
RAW_CORE = '"""The raw core."""\n\nfrom netrosetta import rules\n\n\ndef serve():\n    pass\n'
TAGGED = {
    "twisted": "# SPEC: U12.1 U14.1\nclass Channel:\n    def check(self):\n        return 1\n",
    "tornado": "# SPEC: U12.1\ndef refuse():\n    return 1\n\n\n# SPEC: U13.7\ndef arm():\n    pass\n",
    "asyncio": "def harden(server):\n    return server\n",
}


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    for impl in FAKE_IMPLEMENTATIONS:
        (root / f"impl_{impl}").mkdir(parents=True)
        (root / f"impl_{impl}" / "urlecho.py").write_text(RAW_CORE if impl == "raw" else CORE)
        if impl in TAGGED:
            (root / f"impl_{impl}" / "hardening.py").write_text(f'"""Hardening."""\n\n{TAGGED[impl]}')
    monkeypatch.setattr(hardening, "IMPLEMENTATIONS", dict.fromkeys(FAKE_IMPLEMENTATIONS))
    return root


def matrix_cells(statuses: dict[tuple[str, str], str]) -> list[dict]:
    return [{"clause": clause, "variant": impl, "status": status, "test": f"t.py::test_{clause}[{impl}]",
             **({"reason": "why"} if status == "divergence" else {}),
             **({"message": f"{clause} broke"} if status == "fail" else {})}
            for (clause, impl), status in statuses.items()]


CLAUSES = ("U9.2", "U12.1", "U13.7", "U14.1")
ON = {(c, i): "pass" for c in CLAUSES for i in TAGGED}
ON[("U9.2", "tornado")] = "divergence"
OFF = {**ON, ("U12.1", "twisted"): "fail", ("U14.1", "twisted"): "fail", ("U12.1", "tornado"): "fail",
       ("U13.7", "tornado"): "fail"}
TITLES = {"U9.2": "HTTP/1.x served as 1.1.", "U12.1": "Host required.", "U13.7": "Bare LF.",
          "U14.1": "Target limit.", "U1.1": "Not tested here."}
RUNS = [{"hardening": "on", "pytest_status": 0, "seconds": 40.0, "command": "pytest ..."},
        {"hardening": "off", "pytest_status": 1, "seconds": 50.0, "command": "pytest ..."}]


def record(root: Path, on=ON, off=OFF) -> dict:
    names = hardening.frameworks(root)
    table = build_table(root, names, matrix_cells(on), matrix_cells(off), TITLES, RUNS)
    return json.loads(json.dumps(table))  # as read back from table.json


def test_the_table_of_a_consistent_run(fake_root):
    table = record(fake_root)
    assert table["frameworks"] == ["twisted", "tornado", "asyncio"]  # the registry's order, raw has none
    assert [c["id"] for c in table["clauses"]] == ["U9.2", "U12.1", "U13.7", "U14.1"]  # SPEC's order
    grid = {(c["clause"], c["framework"]): c for c in table["cells"]}
    assert grid[("U12.1", "twisted")] | {"message": ""} == {
        "clause": "U12.1", "framework": "twisted", "status": "hardening", "on": "pass", "off": "fail",
        "lines": 3, "message": ""}
    assert grid[("U12.1", "twisted")]["message"] == "U12.1 broke"  # what the framework did by itself
    assert grid[("U13.7", "tornado")]["lines"] == 2 and grid[("U12.1", "tornado")]["lines"] == 2
    assert grid[("U9.2", "tornado")]["status"] == "divergence"
    assert grid[("U9.2", "tornado")]["reason"] == "why"
    assert grid[("U12.1", "asyncio")]["status"] == "framework"
    assert table["tags"]["twisted"]["clauses"] == {"U12.1": 3, "U14.1": 3}
    assert table["tags"]["twisted"]["definitions"] == {"U12.1": ["Channel"], "U14.1": ["Channel"]}
    assert table["tags"]["asyncio"]["clauses"] == {}
    assert table["totals"]["tornado"]["core"] == {"path": "impl_tornado/urlecho.py", "lines": 7, "code": 3}
    assert table["totals"]["tornado"]["hardening"] == {"path": "impl_tornado/hardening.py", "lines": 10,
                                                       "code": 4, "tagged": 4}
    assert check(fake_root, table) == []
    assert hardening.summary(table)["twisted"] == {"framework": 2, "hardening": 2, "divergence": 0,
                                                   "fail": 0, "not run": 0}
    text = render_markdown(table)
    assert "| clause | requirement | twisted | tornado | asyncio |" in text
    assert "| U12.1 | Host required. | hardening (3 lines) | hardening (2 lines) | framework |" in text
    assert "- **U9.2** × `tornado`: why" in text
    assert "hardening on 40 s, hardening off 50 s" in text


def test_a_second_try_is_shown(fake_root):
    on = matrix_cells(ON)
    on[0] |= {"retried": "fail, then pass"}
    table = build_table(fake_root, hardening.frameworks(fake_root), on, matrix_cells(OFF), TITLES, RUNS)
    assert table["cells"][0]["retried"] == "hardening on: fail, then pass"
    assert "## Second tries" in render_markdown(table)


def test_changed_tags_make_the_table_stale(fake_root):
    table = record(fake_root)
    path = fake_root / "impl_twisted" / "hardening.py"
    path.write_text(path.read_text() + "\n    def more(self):\n        return 2\n")
    problems = check(fake_root, table)
    assert problems == ["impl_twisted/hardening.py: clause tags changed since the table was recorded (lines "
                        "per clause, recorded -> now: U12.1: 3 -> 5, U14.1: 3 -> 5)"]


def test_dead_and_untagged_hardening(fake_root):
    table = record(fake_root)
    (fake_root / "impl_asyncio" / "hardening.py").write_text(
        '"""Hardening."""\n\n# SPEC: U13.7\ndef harden(server):\n    return server\n')
    untagged = TAGGED["tornado"].replace("# SPEC: U12.1\n", "")
    (fake_root / "impl_tornado" / "hardening.py").write_text(f'"""Hardening."""\n\n{untagged}')
    table["tags"]["asyncio"]["clauses"] = {"U13.7": 2}  # as if recorded with the tag
    table["tags"]["tornado"]["clauses"] = {"U13.7": 2}
    problems = check(fake_root, table)
    assert problems == [
        "impl_tornado/hardening.py: U12.1 is recorded as tornado's hardening, but no definition there is "
        "tagged `# SPEC: U12.1`",
        "impl_asyncio/hardening.py (harden): dead hardening: tagged U13.7, which asyncio passes with its "
        "hardening off (drop the code or the tag)",
    ]


def test_a_tag_for_an_untested_clause_and_a_misplaced_tag(fake_root):
    table = record(fake_root)
    path = fake_root / "impl_asyncio" / "hardening.py"
    path.write_text('"""Hardening."""\n\n# SPEC: U99.1\ndef harden(server):\n    return server\n\n'
                    "# SPEC: U12.1\nLIMIT = 1\n")
    table["tags"]["asyncio"]["clauses"] = {"U99.1": 2}
    assert check(fake_root, table) == [
        "impl_asyncio/hardening.py: line 7: `# SPEC:` tag not directly above a def or class (put it above "
        "the decorators)",
        "impl_asyncio/hardening.py (harden): tagged U99.1, which the suite's U tests do not check",
    ]


def test_a_new_or_vanished_hardening_module(fake_root):
    table = record(fake_root)
    (fake_root / "impl_asyncio" / "hardening.py").unlink()
    assert check(fake_root, table) == ["the table records twisted, tornado, asyncio; the hardening modules "
                                       "are those of twisted, tornado"]
    assert check(fake_root, None) == ["no recorded table, but twisted, tornado have hardening modules"]
    for impl in ("twisted", "tornado"):
        (fake_root / f"impl_{impl}" / "hardening.py").unlink()
    assert check(fake_root, None) == []


def test_without_hardening_says_why(fake_root):
    assert "applies netrosetta/rules.py itself" in hardening.without_hardening(fake_root, "raw")
    (fake_root / "impl_asyncio" / "hardening.py").unlink()
    assert hardening.without_hardening(fake_root, "asyncio") == "impl_asyncio/hardening.py is not written yet"


def test_load_table_refuses_another_document(tmp_path):
    path = tmp_path / "table.json"
    path.write_text(json.dumps({"schema": "netrosetta-conformance-matrix/1"}))
    with pytest.raises(ValueError, match="is not a netrosetta-hardening/1 document"):
        load_table(path)


def test_check_command(fake_root, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(hardening, "ROOT", fake_root)
    out = tmp_path / "out"
    out.mkdir()
    (out / "table.json").write_text(json.dumps(record(fake_root)))
    assert hardening.main(["--check", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"{out / 'table.json'}: matches the clause tags\n"
    (fake_root / "impl_asyncio" / "hardening.py").unlink()
    assert hardening.main(["--check", "--out", str(out)]) == 1
    assert capsys.readouterr().out.endswith(RERUN_HINT + "\n")
    assert hardening.main(["--impl", "raw"]) == 2
    assert "--impl: no hardening module for raw" in capsys.readouterr().err
