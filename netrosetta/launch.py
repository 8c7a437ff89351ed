"""Launch plumbing shared by every implementation: the command line, the READY line, signals.

None of this is the lesson, so it lives once, here, and the behaviour files stay about their
behaviour. Every implementation package has a ``__main__`` that calls :func:`run` with an
:class:`Implementation`; ``netrosetta serve IMPL ...`` and ``netrosetta fetch IMPL ...`` call the
same function, so every launch path accepts exactly the same command line (the launch contract in
conformance/SPEC.md, clauses L, and "Launching a client" for a client behaviour such as fetch).

A server's ``main(config)`` returns when a signal stops it (exit 0); a client's returns its exit
status (netrosetta/fetching.py: 0, 1, or 128 + the signal that cut it short).
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
from types import FrameType
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
    # Client behaviours (fetch): the URLs in input order, at most this many connections open at
    # once, each request's time limit, and --json. ``max_body`` above is then the largest answer
    # body accepted (CLIENT_MAX_BODY by default).
    urls: tuple[str, ...] = ()
    concurrency: int = 10
    timeout: float = 10.0
    json: bool = False


# fetch's --max-body default: large pages fit, and a runaway answer is an error, not a swollen process.
CLIENT_MAX_BODY = 8 * MIB


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


def build_client_parser(impl: Implementation, prog: str) -> argparse.ArgumentParser:
    """The command line of a client behaviour (SPEC.md, "Launching a client")."""
    parser = _Parser(prog=prog, description=f"Run a netrosetta client ({impl.name}).")
    parser.add_argument("behaviour", metavar="BEHAVIOUR", help=", ".join(BEHAVIOURS))
    parser.add_argument("urls", nargs="*", metavar="URL", help="http:// URLs, or - to read them from "
                                                               "stdin, one a line")
    parser.add_argument("--concurrency", type=_positive(int), default=Config.concurrency,
                        help=f"connections open at once, at most (default {Config.concurrency})")
    parser.add_argument("--timeout", type=_positive(float), default=Config.timeout,
                        help=f"seconds for each request (default {Config.timeout:g})")
    parser.add_argument("--max-body", type=_positive(int), default=CLIENT_MAX_BODY,
                        help=f"largest answer body in bytes (default {CLIENT_MAX_BODY})")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--quiet", action="store_true", help="no logs on stderr")
    parser.add_argument("--loop", choices=impl.loops, default=impl.loops[0],
                        help=f"event loop (default {impl.loops[0]})")
    parser.add_argument("--model", choices=impl.model_names, default=impl.model_names[0],
                        help=f"model (default {impl.model_names[0]})")
    return parser


def _parse_client_args(impl: Implementation, argv: Sequence[str], prog: str) -> Config:
    from netrosetta.fetching import read_urls

    args = build_client_parser(impl, prog).parse_intermixed_args(list(argv))
    if not args.urls:
        raise UsageError("no URL given (give URLs, or - to read them from stdin)")
    if "-" in args.urls and len(args.urls) > 1:
        raise UsageError("- reads the URLs from stdin: give it alone, without URLs")
    _check_module(impl, args.behaviour, args.model)
    return Config(
        impl=impl.name, behaviour=args.behaviour, quiet=args.quiet, loop=args.loop, model=args.model,
        max_body=args.max_body, urls=tuple(read_urls(args.urls)), concurrency=args.concurrency,
        timeout=args.timeout, json=args.json,
    )


def _check_module(impl: Implementation, behaviour: str, model: str) -> None:
    if not impl.serves(behaviour, model):
        raise UsageError(f"--model {model} does not serve {behaviour} "
                         f"(use the default model, {impl.model_names[0]})")
    if importlib.util.find_spec(f"{impl.package}.{behaviour}") is None:
        raise UsageError(f"{impl.name} has no {behaviour} {BEHAVIOURS[behaviour].kind} yet")


def parse_args(impl: Implementation, argv: Sequence[str], prog: str) -> Config:
    """Parse and check a command line; raise UsageError with a one-line reason.

    The behaviour comes first; a client behaviour has a command line of its own.
    """
    if argv and argv[0] in BEHAVIOURS and BEHAVIOURS[argv[0]].is_client:
        return _parse_client_args(impl, argv, prog)
    args = build_parser(impl, prog).parse_args(list(argv))
    if args.behaviour not in BEHAVIOURS:
        raise UsageError(f"unknown behaviour {args.behaviour!r} (choose from {', '.join(BEHAVIOURS)})")
    if BEHAVIOURS[args.behaviour].is_client:
        raise UsageError(f"{args.behaviour} is a client: its name comes first, e.g. {args.behaviour} URL...")
    if args.behaviour == "multiport":
        if args.port is not None:
            raise UsageError("multiport listens on several ports: use --ports P1,P2,... not --port")
        ports = args.ports or list(BEHAVIOURS["multiport"].default_ports)
    else:
        if args.ports is not None:
            raise UsageError(f"{args.behaviour} listens on one port: use --port P, not --ports")
        ports = [args.port] if args.port is not None else list(BEHAVIOURS[args.behaviour].default_ports)
    _check_module(impl, args.behaviour, args.model)
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


class Interrupted(Exception):
    """A signal that arrived before a client installed its own handlers: exit 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


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
    client = BEHAVIOURS[config.behaviour].is_client
    if client:
        # Until the client's own handlers are in (importing a framework takes a while), a signal
        # still ends it the client's way: no lines (nothing is finished), exit 128 + the signal.
        signal.signal(signal.SIGINT, _interrupted)
        signal.signal(signal.SIGTERM, _interrupted)
    status = 0
    if show_url and config.behaviour == "urlecho" and not config.quiet:
        _SHOW_URL.append(True)
    try:
        if impl.prepare is not None:
            module_name, _, function = impl.prepare.partition(":")
            getattr(importlib.import_module(module_name), function)(config)
        module = importlib.import_module(f"{impl.package}.{config.behaviour}")
        status = module.main(config)
        if not client:
            status = 0
    except (Stop, KeyboardInterrupt):
        status = 128 + signal.SIGINT if client else 0
    except Interrupted as interrupted:
        status = 128 + interrupted.signum
    except UsageError as error:
        sys.stderr.write(f"{prog}: error: {error}\n")
        raise SystemExit(2) from None
    raise SystemExit(status)
