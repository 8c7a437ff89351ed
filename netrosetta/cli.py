"""The ``netrosetta`` command: serve, fetch, conformance, bench, compare and diff.

Each subcommand lives in its own module and is imported only when asked for, so ``netrosetta
serve`` starts as fast as ``python -m impl_raw`` and never pays for matplotlib or pytest.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module, function, one-line help). Each function takes argv and returns an exit code.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("netrosetta.cli", "serve", "launch a server: netrosetta serve IMPL BEHAVIOUR [options]"),
    "fetch": ("netrosetta.cli", "fetch", "run a client: netrosetta fetch IMPL [options] URL... | -"),
    "conformance": ("netrosetta.matrix", "main", "run the conformance suite, write the matrix"),
    "bench": ("netrosetta.bench", "main", "benchmark the implementations against references"),
    "compare": ("netrosetta.compare", "main", "write the side-by-side HTML pages"),
    "diff": ("netrosetta.compare", "diff_main", "unified diff of two implementations"),
}


def _usage() -> str:
    lines = ["usage: netrosetta COMMAND [...]", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, _, text) in SUBCOMMANDS.items()]
    lines += ["", "netrosetta COMMAND --help: that command's options; netrosetta --version: the versions"]
    return "\n".join(lines)


def _serve_usage() -> str:
    from netrosetta.registry import BEHAVIOURS, IMPLEMENTATIONS

    lines = ["usage: netrosetta serve IMPL BEHAVIOUR [--host H] [--port P | --ports P1,P2,...] [options]", "",
             "Launch a server (the launch contract: SPEC.md, section L).", "", "IMPL:"]
    lines += [f"  {name:<12} {impl.title}" for name, impl in IMPLEMENTATIONS.items()]
    lines += ["", "BEHAVIOUR:"]
    lines += [f"  {name:<12} {behaviour.summary}" for name, behaviour in BEHAVIOURS.items()]
    lines += ["", "netrosetta serve IMPL --help: that implementation's options (--loop, --model, limits)"]
    return "\n".join(lines)


def serve(argv: Sequence[str], command: str = "serve", behaviour: Sequence[str] = ()) -> int:
    """``netrosetta serve IMPL BEHAVIOUR ...``: the same launch as ``python -m impl_IMPL``, and the
    URL echo's address on stderr (``netrosetta fetch IMPL ...`` launches a client the same way)."""
    from netrosetta.registry import IMPLEMENTATIONS

    if argv and argv[0] in ("-h", "--help"):
        print(_serve_usage())
        return 0
    if not argv or argv[0] not in IMPLEMENTATIONS:
        got = repr(argv[0]) if argv else "nothing"
        sys.stderr.write(
            f"netrosetta {command}: error: unknown implementation {got} "
            f"(choose from {', '.join(IMPLEMENTATIONS)})\n"
        )
        return 2
    package = importlib.import_module(f"impl_{argv[0]}")
    from netrosetta.launch import run

    run(package.IMPLEMENTATION, [*behaviour, *argv[1:]], prog=f"netrosetta {command} {argv[0]}",
        show_url=command == "serve")
    return 0  # run() always exits; this is for the type checker


def fetch(argv: Sequence[str]) -> int:
    """``netrosetta fetch IMPL URL...``: the same launch as ``python -m impl_IMPL fetch URL...``."""
    return serve(argv, "fetch", ("fetch",))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    ours = rest[:rest.index("--")] if "--" in rest else rest  # after --: pytest's arguments
    if name in ("--version", "-V") or (name in SUBCOMMANDS and "--version" in ours):
        from netrosetta.version import version_text

        print(version_text(full_changelog=name == "conformance"))
        return 0
    if name not in SUBCOMMANDS:
        sys.stderr.write(f"netrosetta: error: unknown command {name!r}\n{_usage()}\n")
        return 2
    module_name, function, _ = SUBCOMMANDS[name]
    return getattr(importlib.import_module(module_name), function)(rest)


if __name__ == "__main__":
    raise SystemExit(main())
