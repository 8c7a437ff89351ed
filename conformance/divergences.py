"""The one table of documented divergences: clauses a variant fails on purpose or by necessity.

Each row names the clause, the variant (an id such as ``raw-iterative``, or a whole implementation
such as ``twisted``) and the reason, which the matrix shows beside the cell. The suite turns each
row into a strict xfail: if the variant starts passing the clause, the row must go.
"""

from __future__ import annotations

from netrosetta_conformance.harness import Variant

# (clause, variant id or implementation) -> reason
DIVERGENCES: dict[tuple[str, str], str] = {
    # impl_raw --model iterative: one client at a time, on purpose (SPEC.md, Divergences).
    ("E4", "raw-iterative"): "one client at a time by design: the others wait in the listen queue",
    ("E5", "raw-iterative"): "one client at a time by design: an idle client blocks everyone behind it",
    ("E6", "raw-iterative"): "one client at a time by design: a client that does not read blocks the "
                             "server in sendall",
    # impl_raw --model threaded: thread-per-connection, on purpose.
    ("L9", "raw-threaded"): "thread-per-connection by design: one thread per client",
    # impl_tornado urlecho: what Tornado's HTTP1Connection decides by itself, with no public hook.
    ("U9.2", "tornado"): "Tornado keeps a connection alive by default for HTTP/1.1 only: HTTP/1.2 is "
                         "answered, then closed as HTTP/1.0 would be",
}


def divergence_for(clause: str, variant: Variant) -> str | None:
    """The documented reason ``variant`` diverges on ``clause``, if any."""
    return DIVERGENCES.get((clause, variant.id)) or DIVERGENCES.get((clause, variant.impl))
