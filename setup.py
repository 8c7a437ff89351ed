"""Package layout only (everything else is in pyproject.toml), because pyproject.toml alone cannot
both find packages and rename one.

The repository's ``conformance/`` folder installs as ``netrosetta_conformance``: the name
``conformance`` belongs to an unrelated project on PyPI. Every ``impl_*`` folder is found, so a new
implementation needs no entry here.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["netrosetta", "netrosetta.*", "impl_*"]), "netrosetta_conformance"],
    package_dir={"netrosetta_conformance": "conformance"},
)
