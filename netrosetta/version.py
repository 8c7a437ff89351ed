"""Two versions: netrosetta's own (the package), and the contract's (SPEC.md, with its changelog).

Servers outside this project are held to SPEC.md, so it carries a version of its own (a
``Version X.Y`` line near its top) and a changelog (its ``## Changelog`` section, one ``### X.Y``
heading per version, newest first). ``--version`` shows both, and matrix.json records the SPEC
version a run was held to.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

SPEC_VERSION = re.compile(r"^Version (\d+(?:\.\d+)+)\b", re.M)
CHANGELOG_ENTRY = re.compile(r"^### (\d+(?:\.\d+)+)[^\n]*\n(.*?)(?=^### |^## |\Z)", re.M | re.S)


def spec_path() -> Path:
    import netrosetta_conformance

    return Path(netrosetta_conformance.__file__).resolve().parent / "SPEC.md"


def package_version() -> str:
    try:
        return importlib.metadata.version("netrosetta")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def spec_version(text: str | None = None) -> str:
    """The ``Version X.Y`` of SPEC.md ("unknown" if it has none)."""
    text = spec_path().read_text() if text is None else text
    match = SPEC_VERSION.search(text)
    return match.group(1) if match else "unknown"


def changelog(text: str | None = None) -> list[tuple[str, str]]:
    """SPEC.md's changelog: (version, its entry's text), newest first."""
    text = spec_path().read_text() if text is None else text
    section = text.split("\n## Changelog", 1)[1] if "\n## Changelog" in text else ""
    return [(version, body.strip()) for version, body in CHANGELOG_ENTRY.findall(section)]


def version_text(full_changelog: bool = False) -> str:
    """What ``--version`` prints: the package, the SPEC version and its latest changes (or all)."""
    text = spec_path().read_text()
    entries = changelog(text)
    lines = [f"netrosetta {package_version()}", f"conformance contract: SPEC.md {spec_version(text)}"]
    for version, body in entries if full_changelog else entries[:1]:
        lines += ["", f"changes in SPEC.md {version}:", body]
    return "\n".join(lines)
