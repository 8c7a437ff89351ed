"""``python -m impl_raw BEHAVIOUR [options]``: see the launch contract in conformance/SPEC.md."""

from impl_raw import IMPLEMENTATION
from netrosetta.launch import run

run(IMPLEMENTATION)
