"""Finding the sections of a behaviour file from its top-level definitions, with Python's ast.

Every behaviour file follows one skeleton, in this order: the module docstring; the imports; the
constants (top-level assignments); the connection, protocol or handler classes (with any helper
functions and assignments among them); the ``serve`` set-up function (for a client behaviour such
as fetch: ``fetch``, which starts the work, as ``serve`` starts listening); ``main(config)``; the
``if __name__ == "__main__":`` guard. Only the top-level statements count, so ordinary edits inside
a class or function never move a section. A helper function or assignment after the classes joins
the section it follows; comments directly above a statement belong to it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

# (key, title) in the skeleton's order: the rows of the comparison page.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("docstring", "Module docstring"),
    ("imports", "Imports"),
    ("constants", "Constants"),
    ("handling", "Connection / request handling"),
    ("setup", "Set-up: serve() or fetch()"),
    ("main", "Entry point: main(config)"),
    ("guard", "The __main__ guard"),
)
RANK = {key: rank for rank, (key, _) in enumerate(SECTIONS)}
TITLE = dict(SECTIONS)
# A file without these is not following the skeleton; the others may be empty.
REQUIRED = ("docstring", "setup", "main", "guard")
WHAT_IS_MISSING = {
    "docstring": "no module docstring (the first statement must be a string)",
    "setup": "no top-level serve() function",  # (a client's is fetch(): SETUP_NAMES)
    "main": "no top-level main() function",
    "guard": 'no `if __name__ == "__main__":` guard',
}
ORDER = "docstring, imports, constants, classes, serve() or fetch(), main(), guard"
# The set-up function's name: serve() for a server behaviour, fetch() for a client one.
SETUP_NAMES = ("serve", "fetch")


class ConventionError(Exception):
    """A file that does not follow the skeleton; str() is one line naming the file and the problem."""

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        where = f"{path}: line {line}" if line else path
        super().__init__(f"{where}: {problem}")


@dataclass
class Section:
    """One section of one file: lines ``start``..``end`` (1-based, inclusive) and what it defines."""

    key: str
    start: int = 0
    end: int = -1
    names: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return TITLE[self.key]

    @property
    def empty(self) -> bool:
        return self.end < self.start


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    operands = [test.left, *test.comparators]
    names = {n.id for n in operands if isinstance(n, ast.Name)}
    strings = {n.value for n in operands if isinstance(n, ast.Constant)}
    return (len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and names == {"__name__"} and strings == {"__main__"})


def _only_imports(statements: list[ast.stmt]) -> bool:
    return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) for s in statements)


def _describe(node: ast.stmt) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return f"def {node.name}()"
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "an import"
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return "an assignment"
    if _is_main_guard(node):
        return "the __main__ guard"
    return f"a top-level {type(node).__name__} statement"


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _kind(node: ast.stmt, first: bool, current: str | None) -> str | None:
    """The section a top-level statement belongs to, or None if it has no place in the skeleton."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
            and isinstance(node.value.value, str):
        # The first string is the docstring; a later one documents what precedes it.
        return "docstring" if first else current
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "imports"
    if isinstance(node, ast.Try) and _only_imports(node.body) and all(
            _only_imports(h.body) for h in node.handlers) and not node.finalbody:
        return "imports"  # try: import fast; except ImportError: import slow
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        # After the constants, an assignment (an instance of the class above it) joins its section.
        if current is not None and RANK[current] > RANK["constants"]:
            return current
        return "constants"
    if isinstance(node, ast.ClassDef):
        return "handling"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if node.name in SETUP_NAMES:
            return "setup"
        if node.name == "main":
            return "main"
        # A helper function joins the section it follows (at the earliest, the handling section).
        if current is None or RANK[current] < RANK["handling"]:
            return "handling"
        return current if current != "guard" else None
    if _is_main_guard(node):
        return "guard"
    return None


def find_sections(source: str, path: str) -> list[Section]:
    """The skeleton's sections of one file, in order, or ConventionError saying what is wrong."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise ConventionError(path, f"not valid Python ({error.msg})", error.lineno) from None
    lines = source.splitlines()
    sections = {key: Section(key) for key, _ in SECTIONS}
    current: str | None = None
    starts: list[tuple[int, str]] = []  # (first line, section key) where each section begins
    for index, node in enumerate(tree.body):
        if current == "guard":
            raise ConventionError(path, f"{_describe(node)} comes after the __main__ guard, which must "
                                        "be last", node.lineno)
        kind = _kind(node, index == 0, current)
        if kind is None:
            raise ConventionError(path, f"{_describe(node)} has no place in the skeleton ({ORDER})",
                                  node.lineno)
        if current is not None and RANK[kind] < RANK[current]:
            raise ConventionError(
                path, f"{_describe(node)} ({TITLE[kind]}) comes after {TITLE[current]}; "
                      f"the order is {ORDER}", node.lineno)
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if kind != current:
            starts.append((start, kind))
            current = kind
        sections[kind].names += [n for n in _names(node) if n not in sections[kind].names]
    for key in REQUIRED:
        if not any(kind == key for _, kind in starts):
            raise ConventionError(path, WHAT_IS_MISSING[key])
    # Comments directly above a section's first statement belong to that section, and everything
    # up to the next section to the one before it; the first section starts at line 1.
    bounds = []
    for number, (start, kind) in enumerate(starts):
        if number == 0:
            start = 1
        else:
            while start > 1 and lines[start - 2].lstrip().startswith("#"):
                start -= 1
        bounds.append((start, kind))
    for number, (start, kind) in enumerate(bounds):
        end = bounds[number + 1][0] - 1 if number + 1 < len(bounds) else len(lines)
        while end >= start and not lines[end - 1].strip():
            end -= 1
        sections[kind].start, sections[kind].end = start, end
    return [sections[key] for key, _ in SECTIONS]
