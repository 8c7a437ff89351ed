"""Line counts of one implementation file, with and without what it imports.

A behaviour file leans on two kinds of module: modules of its own package (impl_raw/loop.py, the
hand-written event loop, is part of what raw makes you write; the package's __init__ holds its
launch settings) and the shared plumbing,
netrosetta/launch.py, netrosetta/answer.py and netrosetta/fetching.py (what the fetch client
prints), which every implementation gets for free.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

# The plumbing every implementation shares: not the lesson, counted apart.
SHARED = ("netrosetta.launch", "netrosetta.answer", "netrosetta.fetching")
# The package's ``python -m`` entry: the launcher's, not the behaviour's.
GLUE = ("__main__",)


@dataclass(frozen=True)
class Lines:
    """How long one module is: every line, and the lines of code (no blanks, comments, docstrings)."""

    path: str
    total: int
    code: int


@dataclass
class Counts:
    """One behaviour file and the repository modules it imports, directly or through its helpers."""

    file: Lines
    helpers: list[Lines] = field(default_factory=list)
    shared: list[Lines] = field(default_factory=list)

    @property
    def without_plumbing(self) -> tuple[int, int]:
        own = [self.file, *self.helpers]
        return sum(m.total for m in own), sum(m.code for m in own)

    @property
    def with_plumbing(self) -> tuple[int, int]:
        total, code = self.without_plumbing
        return total + sum(m.total for m in self.shared), code + sum(m.code for m in self.shared)


def code_lines(source: str) -> set[int]:
    """The numbers of the lines of ``source`` that hold code (not blank, comment or docstring)."""
    prose: set[int] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                prose.update(range(body[0].lineno, body[0].end_lineno + 1))
    code: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            code.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        code = {n for n, line in enumerate(source.splitlines(), 1)
                if line.strip() and not line.lstrip().startswith("#")}
    return code - prose


def count_lines(source: str, path: str = "") -> Lines:
    """Total lines and code lines of one module's source."""
    return Lines(path, len(source.splitlines()), len(code_lines(source)))


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            # `from impl_raw import loop` imports a module, not a name
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def count_implementation(root: Path, path: Path) -> Counts:
    """Counts for one behaviour file under ``root``, following imports of repository modules."""
    package = path.parent.name
    source = path.read_text(encoding="utf-8")
    counts = Counts(count_lines(source, path.relative_to(root).as_posix()))
    seen: set[Path] = {path.resolve()}
    queue = [source]
    while queue:
        for module in sorted(_imported_modules(queue.pop())):
            parts = module.split(".")
            shared = module in SHARED
            helper = parts[0] == package and parts[-1] not in GLUE
            if not (shared or helper):
                continue
            found = _module_file(root, module)
            if found is None or found.resolve() in seen:
                continue
            seen.add(found.resolve())
            text = found.read_text(encoding="utf-8")
            lines = count_lines(text, found.relative_to(root).as_posix())
            (counts.shared if shared else counts.helpers).append(lines)
            queue.append(text)
    return counts
