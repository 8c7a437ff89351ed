"""Headless Chromium for the compare pages: the README's screenshot (``netrosetta compare
--screenshot``) and the pages' browser test (tests/test_compare.py) launch it the same way.

Debian's ``chromium`` (``make browser`` installs it): headless, no sandbox (CI runs as root), a
throw-away profile, nothing fetched from the network, scroll bars hidden so that a screenshot shows
the page alone.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

WINDOW = (1600, 1200)
TIMEOUT = 120.0


def find_chromium() -> str | None:
    """The browser's path, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(browser: str, *args: str, window: tuple[int, int] = WINDOW) -> subprocess.CompletedProcess:
    """Run headless ``browser`` with ``args`` (a page's URL last) in a fresh profile, to its end."""
    with tempfile.TemporaryDirectory(prefix="netrosetta-chromium-") as profile:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
                   f"--window-size={window[0]},{window[1]}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def screenshot(browser: str, page: Path, png: Path, window: tuple[int, int] = WINDOW) -> None:
    """Write a PNG of the top ``window`` of ``page``; RuntimeError (with chromium's last words) if
    it writes none."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    result = run_chromium(browser, f"--screenshot={png.resolve()}", page.resolve().as_uri(), window=window)
    if not png.is_file() or png.stat().st_size == 0:
        last = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
        raise RuntimeError(f"chromium wrote no screenshot: {last[0]}")
