"""``python -m impl_twisted BEHAVIOUR [options]``: see the launch contract in conformance/SPEC.md."""

from impl_twisted import IMPLEMENTATION
from netrosetta.launch import run

run(IMPLEMENTATION)
