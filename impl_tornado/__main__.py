"""``python -m impl_tornado BEHAVIOUR [options]``: see the launch contract in conformance/SPEC.md."""

from impl_tornado import IMPLEMENTATION
from netrosetta.launch import run

run(IMPLEMENTATION)
