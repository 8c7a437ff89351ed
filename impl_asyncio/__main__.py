"""``python -m impl_asyncio BEHAVIOUR [options]``: see the launch contract in conformance/SPEC.md."""

from impl_asyncio import IMPLEMENTATION
from netrosetta.launch import run

run(IMPLEMENTATION)
