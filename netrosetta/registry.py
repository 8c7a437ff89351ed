"""The one list of behaviours and implementations; everything that names them derives from here.

``python -m impl_X`` and ``netrosetta serve``, the conformance matrix's columns (conformance/
harness.py), the compare pages' columns and the benchmark's servers all read this module, so a new
implementation is its own folder, ``impl_NAME/``, plus one entry in ``IMPLEMENTATIONS`` below.
Nothing here imports a framework: a hook such as Twisted's reactor choice is named as
``"module:function"`` and imported only by the launcher that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- behaviours --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """One program every implementation writes: its name, default ports and one-line summary.

    ``kind`` is "server" (it listens, prints READY and serves until a signal: SPEC.md, section L)
    or "client" (it takes URLs, prints one result line each and exits by itself: SPEC.md, "Launching
    a client"); a client has no default ports.
    """

    name: str
    default_ports: tuple[int, ...]
    summary: str
    kind: str = "server"

    @property
    def is_client(self) -> bool:
        return self.kind == "client"


BEHAVIOURS: dict[str, Behaviour] = {
    behaviour.name: behaviour
    for behaviour in (
        Behaviour("echo", (8000,), "TCP echo: every byte comes back, in order, with backpressure"),
        Behaviour("multiport", (8001, 8002), "one thread, several ports; each line comes back tagged "
                                              "with its port"),
        Behaviour("urlecho", (8008,), "an HTTP/1.1 server that answers with the URL it was asked for"),
        Behaviour("fetch", (), "an HTTP/1.1 client: GET many URLs at once, one result line each, in "
                               "input order", kind="client"),
    )
}

# -- constants every implementation shares -------------------------------------------------------

# Listen queue for every listener: the usual defaults (Twisted's 50, Tornado's 128, socketserver's
# 5) would leave a burst of 1,000 clients waiting on SYN retries.
BACKLOG = 1024
# After the last response, read and drop what the client still sends for at most this long before
# closing: closing a socket with unread input sends a TCP RST, which can destroy the response in
# the client's receive buffer before it reads it ("lingering close", nginx's lingering_timeout).
LINGER_TIMEOUT = 2.0

# -- implementations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Implementation:
    """What the launcher, the suite, the compare pages and the bench know of one implementation.

    ``loops`` and ``models`` list the accepted ``--loop`` and ``--model`` values, the default first;
    each model names the behaviours it serves (the first serves them all). ``prepare`` runs after
    the command line is parsed and before the behaviour module is imported: Twisted installs its
    reactor there, because the reactor must be chosen before anything imports it.
    ``scaling_loops`` are the extra ``--loop`` values the bench's scaling scenario measures.
    """

    name: str
    title: str
    loops: tuple[str, ...] = ("default",)
    models: tuple[tuple[str, tuple[str, ...]], ...] = (("eventloop", tuple(BEHAVIOURS)),)
    prepare: str | None = None
    scaling_loops: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        return f"impl_{self.name}"

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(model for model, _ in self.models)

    def serves(self, behaviour: str, model: str | None = None) -> bool:
        """Does ``--model model`` (default: the default model) serve ``behaviour``?"""
        model = model or self.models[0][0]
        return behaviour in dict(self.models).get(model, ())


IMPLEMENTATIONS: dict[str, Implementation] = {
    impl.name: impl
    for impl in (
        Implementation(
            "raw", "raw sockets",
            # "default" is the best poller the system has: epoll on Linux, else poll (impl_raw/loop.py).
            loops=("default", "select", "poll", "epoll"),
            models=(("eventloop", tuple(BEHAVIOURS)), ("threaded", ("echo", "urlecho")),
                    ("iterative", ("echo",))),
            scaling_loops=("select", "poll", "epoll"),
        ),
        Implementation(
            "twisted", "Twisted",
            loops=("default", "select", "poll", "epoll", "asyncio"),
            prepare="impl_twisted:prepare",
        ),
        Implementation(
            "tornado", "Tornado",
            loops=("asyncio", "uvloop"),
            prepare="impl_tornado:use_loop",
        ),
        Implementation(
            "asyncio", "asyncio",
            loops=("asyncio", "uvloop"),
            # Streams (start_server, a coroutine per client) are how most asyncio code is written;
            # the callback-style Protocol/Transport API is the variant, for the TCP behaviours.
            models=(("streams", tuple(BEHAVIOURS)), ("protocol", ("echo", "multiport"))),
            prepare="impl_asyncio:use_loop",
        ),
    )
}


def implementation(name: str) -> Implementation:
    """The registry entry called ``name``; KeyError names the known ones."""
    try:
        return IMPLEMENTATIONS[name]
    except KeyError:
        raise KeyError(f"unknown implementation {name!r} (choose from {', '.join(IMPLEMENTATIONS)})") \
            from None


@dataclass(frozen=True)
class VariantSpec:
    """One column of the conformance matrix: an implementation under one --loop or --model."""

    id: str
    impl: str
    extra: tuple[str, ...] = ()
    # Default variants run every clause in `make test`; the others run the smoke subset.
    default: bool = True
    behaviours: tuple[str, ...] = tuple(BEHAVIOURS)


def variants() -> list[VariantSpec]:
    """Every implementation's columns: its default, each other model (every clause), each other
    loop (the smoke subset in `make test`, everything in `make test-full`)."""
    specs = []
    for impl in IMPLEMENTATIONS.values():
        specs.append(VariantSpec(impl.name, impl.name))
        for model, behaviours in impl.models[1:]:
            specs.append(VariantSpec(f"{impl.name}-{model}", impl.name, ("--model", model),
                                     behaviours=behaviours))
        for loop in impl.loops[1:]:
            specs.append(VariantSpec(f"{impl.name}-{loop}", impl.name, ("--loop", loop), default=False))
    return specs
