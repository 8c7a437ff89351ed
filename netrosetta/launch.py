"""Launch plumbing shared by every implementation: the command line, the READY line, signals.

None of this is the lesson, so it lives once, here, and the behaviour files stay about their
behaviour. Every implementation package has a ``__main__`` that calls :func:`run` with an
:class:`Implementation`; ``netrosetta serve IMPL ...`` calls the same function, so both launch
paths accept exactly the same command line (the launch contract in conformance/SPEC.md, clauses L).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import logging
import os
import resource
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from netrosetta.registry import BEHAVIOURS, Implementation

# Set to "off" in a server's environment to run each framework's URL echo without its hardening
# module: a switch for recording the "what the framework gives you" table, never for serving.
HARDENING_SWITCH = "NETROSETTA_HARDENING"

# URL-echo limits; their reasons are in conformance/SPEC.md (section U) beside each clause.
KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Config:
    """Everything a behaviour's ``main`` needs, parsed and checked."""

    impl: str
    behaviour: str
    host: str = "127.0.0.1"
    ports: list[int] = field(default_factory=list)
    quiet: bool = False
    loop: str = "default"
    model: str = "eventloop"
    max_target: int = 8 * KIB
    max_header_bytes: int = 16 * KIB
    max_body: int = 1 * MIB
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 60.0
    # False only while `make hardening` records what each framework does by itself: the
    # URL echo then runs its idiomatic core without its hardening module (HARDENING_SWITCH below).
    hardening: bool = True


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2, never the usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _port(text: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {port}")
    return port


def _port_list(text: str) -> list[int]:
    ports = [_port(part.strip()) for part in text.split(",")]
    twice = sorted({port for port in ports if port and ports.count(port) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"port {twice[0]} given twice: each listener needs its own port")
    return ports


class _Version(argparse.Action):
    """--version, looked up only when asked for, so a server's start pays nothing for it."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the versions and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> NoReturn:
        from netrosetta.version import version_text

        print(version_text())
        parser.exit()


def _positive(kind: type) -> Callable[[str], float | int]:
    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    convert.__name__ = kind.__name__
    return convert


def build_parser(impl: Implementation, prog: str) -> argparse.ArgumentParser:
    """The launch contract's command line for one implementation."""
    parser = _Parser(prog=prog, description=f"Run a netrosetta server ({impl.name}).")
    parser.add_argument("behaviour", metavar="BEHAVIOUR", help=", ".join(BEHAVIOURS))
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, help="port (echo, urlecho); 0 picks a free one")
    parser.add_argument("--ports", type=_port_list, help="comma-separated ports (multiport)")
    parser.add_argument("--quiet", action="store_true", help="no logs on stderr")
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--loop", choices=impl.loops, default=impl.loops[0],
                        help=f"event loop (default {impl.loops[0]})")
    parser.add_argument("--model", choices=impl.model_names, default=impl.model_names[0],
                        help=f"server model (default {impl.model_names[0]})")
    limits = parser.add_argument_group("urlecho limits")
    limits.add_argument("--max-target", type=_positive(int), default=Config.max_target)
    limits.add_argument("--max-header-bytes", type=_positive(int), default=Config.max_header_bytes)
    limits.add_argument("--max-body", type=_positive(int), default=Config.max_body)
    limits.add_argument("--header-timeout", type=_positive(float), default=Config.header_timeout)
    limits.add_argument("--body-timeout", type=_positive(float), default=Config.body_timeout)
    limits.add_argument("--idle-timeout", type=_positive(float), default=Config.idle_timeout)
    return parser


def parse_args(impl: Implementation, argv: Sequence[str], prog: str) -> Config:
    """Parse and check a command line; raise UsageError with a one-line reason."""
    args = build_parser(impl, prog).parse_args(list(argv))
    if args.behaviour not in BEHAVIOURS:
        raise UsageError(f"unknown behaviour {args.behaviour!r} (choose from {', '.join(BEHAVIOURS)})")
    if args.behaviour == "multiport":
        if args.port is not None:
            raise UsageError("multiport listens on several ports: use --ports P1,P2,... not --port")
        ports = args.ports or list(BEHAVIOURS["multiport"].default_ports)
    else:
        if args.ports is not None:
            raise UsageError(f"{args.behaviour} listens on one port: use --port P, not --ports")
        ports = [args.port] if args.port is not None else list(BEHAVIOURS[args.behaviour].default_ports)
    if not impl.serves(args.behaviour, args.model):
        raise UsageError(f"--model {args.model} does not serve {args.behaviour} "
                         f"(use the default model, {impl.model_names[0]})")
    if importlib.util.find_spec(f"{impl.package}.{args.behaviour}") is None:
        raise UsageError(f"{impl.name} has no {args.behaviour} server yet")
    return Config(
        impl=impl.name, behaviour=args.behaviour, host=args.host, ports=ports, quiet=args.quiet,
        loop=args.loop, model=args.model, max_target=args.max_target,
        max_header_bytes=args.max_header_bytes, max_body=args.max_body,
        header_timeout=args.header_timeout, body_timeout=args.body_timeout,
        idle_timeout=args.idle_timeout,
        hardening=os.environ.get(HARDENING_SWITCH, "on") != "off",
    )


def format_address(host: str, port: int) -> str:
    """host:port, with IPv6 literals bracketed as in a URL."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ready(addresses: Iterable[tuple[str, int]]) -> None:
    """Announce that every listener is bound: the one line a supervisor (or the suite) waits for.

    Under ``netrosetta serve``, the URL echo's address follows on stderr, for a person to open.
    """
    addresses = list(addresses)
    line = "READY " + " ".join(format_address(host, port) for host, port in addresses)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if _SHOW_URL:
        for host, port in addresses:
            # A wildcard address is reached through the loopback of its family.
            reach = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
            sys.stderr.write(f"serving http://{format_address(reach, port)}/\n")
        sys.stderr.flush()


# Set by run(show_url=True) for the URL echo unless --quiet (L4: nothing on stderr then).
_SHOW_URL: list[bool] = []


def cannot_listen(host: str, port: int, error: BaseException) -> NoReturn:
    """Exit 1 with one line naming the address that could not be bound."""
    reason = getattr(error, "strerror", None) or str(error)
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        reason = "address already in use"
    sys.stderr.write(f"cannot listen on {format_address(host, port)}: {reason}\n")
    sys.stderr.flush()
    raise SystemExit(1)


class Stop(Exception):
    """Raised by the default signal handler to unwind a blocking server loop."""


def stop_on_signals(callback: Callable[[], None] | None = None) -> None:
    """On SIGINT or SIGTERM call ``callback`` (by default: raise Stop, which run() turns into exit 0).

    Event loops pass a callback that wakes and stops the loop; blocking servers take the default.
    """

    def handler(signum: int, frame: object) -> None:
        if callback is None:
            raise Stop
        callback()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def raise_fd_limit() -> None:
    """Raise the open-file soft limit to the hard limit, so 1,000 clients fit (1,024 is common)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.CRITICAL + 1 if quiet else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def run(impl: Implementation, argv: Sequence[str] | None = None, prog: str | None = None,
        show_url: bool = False) -> NoReturn:
    """Parse the command line, then hand over to the behaviour module's ``main(config)``.

    ``show_url`` (``netrosetta serve``): after READY, the URL echo's address on stderr.
    """
    argv = sys.argv[1:] if argv is None else argv
    prog = prog or f"python -m {impl.package}"
    try:
        config = parse_args(impl, argv, prog)
    except UsageError as error:
        sys.stderr.write(f"{prog}: error: {error}\n")
        raise SystemExit(2) from None
    _configure_logging(config.quiet)
    raise_fd_limit()
    if show_url and config.behaviour == "urlecho" and not config.quiet:
        _SHOW_URL.append(True)
    try:
        if impl.prepare is not None:
            module_name, _, function = impl.prepare.partition(":")
            getattr(importlib.import_module(module_name), function)(config)
        module = importlib.import_module(f"{impl.package}.{config.behaviour}")
        module.main(config)
    except (Stop, KeyboardInterrupt):
        pass
    except UsageError as error:
        sys.stderr.write(f"{prog}: error: {error}\n")
        raise SystemExit(2) from None
    raise SystemExit(0)
