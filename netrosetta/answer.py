"""What the URL echo answers, shared by every implementation (SPEC.md, section U).

Only *what* to answer lives here — the body and its content type — so that every implementation's
bytes are the same; *how* a request is read and the answer written is each framework's lesson.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


def wants_json(accept_values: Iterable[str]) -> bool:
    """True if any Accept header lists application/json (with a q-value other than 0)."""
    for value in accept_values:
        for media_range in value.split(","):
            media_type, *params = (part.strip() for part in media_range.split(";"))
            if media_type.lower() != JSON:
                continue
            q = next((p.split("=", 1)[1] for p in params if p.lower().startswith("q=")), "1")
            try:
                if float(q) > 0:
                    return True
            except ValueError:
                return True  # a malformed q-value is not a refusal
    return False


def grouped(headers: Iterable[tuple[str, str]]) -> list[list[str]]:
    """[[lowercased name, value], ...] grouped by name in order of first appearance.

    The values of a repeated name keep the order they were received in.
    """
    groups: dict[str, list[str]] = {}
    for name, value in headers:
        groups.setdefault(name.lower(), []).append(value)
    return [[name, value] for name, values in groups.items() for value in values]


def json_body(method: str, target: str, version: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The JSON answer: keys sorted and separators fixed, so every implementation's bytes agree.

    ``path`` is the target up to the first ``?``; ``query`` what follows it (null without a ``?``).
    """
    path, question, query = target.partition("?")
    document = {
        "method": method,
        "target": target,
        "path": path,
        "query": query if question else None,
        "version": version,
        "headers": grouped(headers),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def answer(method: str, target: str, version: str, headers: list[tuple[str, str]]) -> tuple[bytes, str]:
    """(body, content type) for one request: the target as text, or JSON if the client asks for it.

    Header names and values are str; decode raw header bytes as latin-1 (RFC 9110's obs-text).
    """
    # A plain loop (a comprehension is a function call of its own before Python 3.12), and most
    # requests send no Accept: wants_json is not even called.
    accept = []
    for name, value in headers:
        if name.lower() == "accept":
            accept.append(value)
    if accept and wants_json(accept):
        return json_body(method, target, version, headers), JSON
    return target.encode("latin-1"), TEXT
