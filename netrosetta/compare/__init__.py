"""``netrosetta compare`` and ``netrosetta diff``: read the implementations of a behaviour side by side.

    netrosetta compare BEHAVIOUR [--out DIR] [--open [--port N]] [--matrix FILE] [--bench DIR]
                                 [--hardening-table FILE]
    netrosetta compare --all [...]
    netrosetta compare BEHAVIOUR --screenshot PNG [--window-size W,H] [--matrix FILE] [...]
    netrosetta diff BEHAVIOUR A B [--hardening] [--color auto|always|never]

``compare`` writes one self-contained HTML page per behaviour (``--all``: every behaviour and an
index) to DIR (default ``compare-results``) and prints each path. The code of each implementation
sits in a column, cut into the sections of the skeleton every behaviour file follows (see
netrosetta/compare/sections.py), beside the conformance matrix (default
``conformance-results/matrix.json``), the benchmark figures (default ``bench-results/*.json``) and
the line counts. The urlecho page also shows each framework's hardening module
(impl_X/hardening.py) below the cores and, first, the "what each framework gives you" table that
``make hardening`` records (``--hardening-table``, default docs/hardening/table.json; see
netrosetta/hardening.py). ``--open`` then serves DIR on 127.0.0.1 (``--port``, default any free
port) and prints the URL until Ctrl-C. Exit status: 0; 1 if a file does not follow the skeleton
(its column says why, and so does stderr) or the port can't be bound; 2 for a bad command line.

``--screenshot PNG`` writes the page into a temporary directory instead and saves a PNG of its top
(``--window-size``, default 1600,1200) taken with headless Chromium (netrosetta/compare/browser.py):
``make screenshot`` makes the README's docs/compare.png this way. The picture leaves out the
Benchmark card (the README shows the bench in a section of its own), so that the implementations'
columns come up within the window. Result files are named on the page
relative to the repository (or the current directory), so the picture shows no machine's paths.
Exit status 1 if Chromium is not installed or writes no picture.

``diff`` prints the unified diff of two implementations' files (``--hardening``: of their hardening
modules instead), coloured when stdout is a terminal; its exit status is 0 whether or not the files
differ, 1 if a file is not there.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import http.server
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from netrosetta.registry import BEHAVIOURS, IMPLEMENTATIONS

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_OUT = "compare-results"
DEFAULT_MATRIX = "conformance-results/matrix.json"
DEFAULT_BENCH = "bench-results"
DEFAULT_GIVES = "docs/hardening/table.json"  # under the repository: it is recorded and committed
# Added to the page a --screenshot takes: without the bench's tall tables, the columns come into view.
SCREENSHOT_STYLE = "<style>#bench { display: none }</style>"


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"not a port number 0-65535: {text!r}")
    return int(text)


def _window(text: str) -> tuple[int, int]:
    width, comma, height = text.partition(",")
    if not comma or not width.isdigit() or not height.isdigit() or not (100 <= int(width) <= 10000
                                                                        and 100 <= int(height) <= 20000):
        raise argparse.ArgumentTypeError(f"not WIDTH,HEIGHT in pixels (such as 1600,1200): {text!r}")
    return int(width), int(height)


def _compare_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netrosetta compare", description="Write the side-by-side HTML pages.")
    parser.add_argument("behaviour", nargs="?", metavar="BEHAVIOUR", help=", ".join(BEHAVIOURS))
    parser.add_argument("--all", action="store_true", help="every behaviour, and an index page")
    parser.add_argument("--out", help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--open", action="store_true", help="serve the page on 127.0.0.1 and print its URL")
    parser.add_argument("--port", type=_port, default=0, help="port for --open (default: any free port)")
    parser.add_argument("--matrix", help=f"conformance matrix (default {DEFAULT_MATRIX})")
    parser.add_argument("--bench", help=f"benchmark results (default {DEFAULT_BENCH})")
    parser.add_argument("--hardening-table", metavar="FILE",
                        help=f"the table `make hardening` records (default {DEFAULT_GIVES})")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="write the page into a temporary directory and save a PNG of its top, "
                             "taken with headless Chromium (the README's docs/compare.png)")
    parser.add_argument("--window-size", type=_window, default=(1600, 1200), metavar="W,H",
                        help="the --screenshot's size in pixels (default 1600,1200)")
    return parser


def _check_behaviour(name: str) -> str:
    if name not in BEHAVIOURS:
        raise UsageError(f"unknown behaviour {name!r} (choose from {', '.join(BEHAVIOURS)})")
    return name


def build(behaviours: Sequence[str], out: Path, matrix_path: Path, bench_dir: Path,
          index: bool, gives_path: Path | None = None) -> tuple[list[Path], list[str]]:
    """Write the pages; return their paths (index first) and the convention problems found."""
    # Imported here, not at the top (netrosetta.hardening imports this package's counts).
    from netrosetta.compare.page import collect, collect_hardening, render_index, render_page
    from netrosetta.compare.results import load_bench, load_gives, load_matrix
    from netrosetta.hardening import BEHAVIOUR as HARDENED

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[str] = []
    summary = []
    for behaviour in behaviours:
        columns = collect(ROOT, behaviour)
        problems += [c.problem for c in columns if c.state == "broken"]
        matrix = load_matrix(matrix_path, behaviour, ROOT)
        hardening = gives = None
        if behaviour == HARDENED:
            hardening = collect_hardening(ROOT)
            gives = load_gives(gives_path or ROOT / DEFAULT_GIVES, ROOT)
        html = render_page(behaviour, columns, matrix, load_bench(bench_dir, behaviour, ROOT),
                           list(behaviours) if index else None, hardening, gives)
        page = out / f"{behaviour}.html"
        page.write_text(html, encoding="utf-8")
        written.append(page)
        summary.append((behaviour, columns, matrix))
    if index:
        page = out / "index.html"
        page.write_text(render_index(summary), encoding="utf-8")
        written.insert(0, page)
    return written, problems


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_directory(directory: Path, port: int, page: str) -> int:
    """Serve ``directory`` on 127.0.0.1 until Ctrl-C, after printing the page's URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as error:
        sys.stderr.write(f"netrosetta compare: error: cannot listen on 127.0.0.1:{port}: {error.strerror}\n")
        return 1
    print(f"serving {directory} at http://127.0.0.1:{server.server_address[1]}/{page} (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: Sequence[str]) -> int:
    """``netrosetta compare``: write the pages, print their paths, and serve them with --open."""
    try:
        args = _compare_parser().parse_args(list(argv))
        if args.all == bool(args.behaviour):
            raise UsageError("give either one BEHAVIOUR or --all")
        behaviours = list(BEHAVIOURS) if args.all else [_check_behaviour(args.behaviour)]
        if args.screenshot and (args.all or args.open or args.out):
            raise UsageError("--screenshot takes one BEHAVIOUR, and neither --all, --open nor --out")
    except UsageError as error:
        sys.stderr.write(f"netrosetta compare: error: {error}\n")
        return 2
    out = Path(args.out or DEFAULT_OUT)
    for option, value in (("--matrix", args.matrix), ("--bench", args.bench)):
        if value is not None and not Path(value).exists():  # named, not the default: say so
            sys.stderr.write(f"netrosetta compare: warning: {option} {value}: no such file or directory; "
                             f"the pages show no results from it\n")
    args.matrix = args.matrix or DEFAULT_MATRIX
    args.bench = args.bench or DEFAULT_BENCH
    if args.screenshot:
        return _screenshot(args, behaviours[0])
    try:
        gives = Path(args.hardening_table) if args.hardening_table else None
        written, problems = build(behaviours, out, Path(args.matrix), Path(args.bench), args.all, gives)
    except OSError as error:
        sys.stderr.write(f"netrosetta compare: error: cannot write to {out}: {error.strerror or error}\n")
        return 1
    for path in written:
        print(path)
    for problem in problems:
        sys.stderr.write(f"netrosetta compare: {problem}\n")
    status = 1 if problems else 0
    if args.open:
        status = serve_directory(out, args.port, written[0].name) or status
    return status


def _screenshot(args: argparse.Namespace, behaviour: str) -> int:
    """``--screenshot PNG``: the page, built in a temporary directory, as a picture."""
    from netrosetta.compare.browser import find_chromium, screenshot

    browser = find_chromium()
    if browser is None:
        sys.stderr.write("netrosetta compare: error: --screenshot needs chromium (`make browser`, or "
                         "apt-get install chromium)\n")
        return 1
    png = Path(args.screenshot)
    with tempfile.TemporaryDirectory(prefix="netrosetta-compare-") as scratch:
        gives = Path(args.hardening_table) if args.hardening_table else None
        written, problems = build([behaviour], Path(scratch), Path(args.matrix),
                                  Path(args.bench), False, gives)
        for problem in problems:
            sys.stderr.write(f"netrosetta compare: {problem}\n")
        page = written[0]
        page.write_text(page.read_text(encoding="utf-8").replace("</head>", SCREENSHOT_STYLE + "</head>", 1),
                        encoding="utf-8")
        try:
            screenshot(browser, page, png, args.window_size)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
            sys.stderr.write(f"netrosetta compare: error: {png}: {error}\n")
            return 1
    print(png)
    return 1 if problems else 0


def _diff_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netrosetta diff", description="Unified diff of two implementations.")
    parser.add_argument("behaviour", metavar="BEHAVIOUR", help=", ".join(BEHAVIOURS))
    parser.add_argument("a", metavar="A", help=", ".join(IMPLEMENTATIONS))
    parser.add_argument("b", metavar="B", help=", ".join(IMPLEMENTATIONS))
    parser.add_argument("--hardening", action="store_true",
                        help="diff the hardening modules (impl_X/hardening.py) instead of the "
                             "behaviour files")
    parser.add_argument("--color", "--colour", choices=("auto", "always", "never"), default="auto",
                        help="colour the diff (default: when stdout is a terminal)")
    parser.add_argument("-U", "--unified", type=int, default=3, metavar="N", help="lines of context")
    return parser


def unified_diff(behaviour: str, a: str, b: str, context: int = 3, hardening: bool = False) -> str:
    """The unified diff of impl_A/BEHAVIOUR.py and impl_B/BEHAVIOUR.py (``hardening``: of
    impl_A/hardening.py and impl_B/hardening.py), labelled with those paths."""
    from netrosetta.hardening import hardening_path, without_hardening

    if hardening:
        paths = [hardening_path(ROOT, impl) for impl in (a, b)]
    else:
        paths = [ROOT / f"impl_{impl}" / f"{behaviour}.py" for impl in (a, b)]
    files = [path.relative_to(ROOT).as_posix() for path in paths]
    texts = []
    for impl, name, path in zip((a, b), files, paths, strict=True):
        if not path.is_file():
            why = without_hardening(ROOT, impl) if hardening else f"{name} is not written yet"
            raise FileNotFoundError(why)
        texts.append(path.read_text(encoding="utf-8").splitlines(keepends=True))
    lines = difflib.unified_diff(texts[0], texts[1], files[0], files[1], n=context)
    # A file without a final newline would glue its last line to the next one.
    missing_newline = "\n\\ No newline at end of file\n"
    return "".join(line if line.endswith("\n") else line + missing_newline for line in lines)


def diff_main(argv: Sequence[str]) -> int:
    """``netrosetta diff BEHAVIOUR A B``: print the unified diff of two implementations."""
    try:
        args = _diff_parser().parse_args(list(argv))
        _check_behaviour(args.behaviour)
        for impl in (args.a, args.b):
            if impl not in IMPLEMENTATIONS:
                choices = ", ".join(IMPLEMENTATIONS)
                raise UsageError(f"unknown implementation {impl!r} (choose from {choices})")
        if args.unified < 0:
            raise UsageError("-U must be 0 or more")
        from netrosetta.hardening import BEHAVIOUR as HARDENED

        if args.hardening and args.behaviour != HARDENED:
            raise UsageError(f"--hardening: only {HARDENED} has hardening modules (impl_X/hardening.py)")
    except UsageError as error:
        sys.stderr.write(f"netrosetta diff: error: {error}\n")
        return 2
    try:
        text = unified_diff(args.behaviour, args.a, args.b, args.unified, args.hardening)
    except (FileNotFoundError, OSError) as error:
        sys.stderr.write(f"netrosetta diff: error: {error}\n")
        return 1
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                        and not os.environ.get("NO_COLOR"))
    if colour and text:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import DiffLexer

        text = highlight(text, DiffLexer(), TerminalFormatter())
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `netrosetta diff ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
