"""netrosetta servers on raw sockets and the stdlib only: what the frameworks do for you, by hand."""

from netrosetta.registry import IMPLEMENTATIONS

# This package's entry in the one list of implementations (netrosetta/registry.py).
IMPLEMENTATION = IMPLEMENTATIONS["raw"]
