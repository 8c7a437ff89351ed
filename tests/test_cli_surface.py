"""What a user meets first: --help and --version at every level, serve's URL, the usage errors,
compare's warning for a missing file, the SPEC version and changelog, the licence files."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from netrosetta import cli, version
from netrosetta_conformance.clients import wait_until
from netrosetta_conformance.harness import Variant, launch

REPO = Path(__file__).resolve().parent.parent


def netrosetta(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netrosetta.cli", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


LEVELS = [[], ["serve"], ["serve", "raw"], ["conformance"], ["compare"], ["diff"], ["bench"]]


def main(argv: list[str]) -> int:
    """The console script's entry point, in process (argparse's --help exits through SystemExit)."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


@pytest.mark.parametrize("level", LEVELS, ids=lambda level: " ".join(level) or "netrosetta")
def test_help_and_version_at_every_level(level: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main([*level, "--help"]) == 0
    out, err = capsys.readouterr()
    assert "usage:" in out and "unknown" not in out + err, (out, err)
    assert main([*level, "--version"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"netrosetta {version.package_version()}\n")
    spec = version.spec_version()
    assert f"SPEC.md {spec}" in out and f"changes in SPEC.md {spec}:" in out


def test_the_module_launch_has_version_too() -> None:
    shown = subprocess.run([sys.executable, "-m", "impl_raw", "--version"], capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and f"SPEC.md {version.spec_version()}" in shown.stdout


def test_spec_carries_a_version_and_a_changelog_entry_for_it() -> None:
    text = version.spec_path().read_text()
    assert re.fullmatch(r"\d+\.\d+", version.spec_version(text))
    entries = version.changelog(text)
    assert entries and entries[0][0] == version.spec_version(text), "the newest entry is not the version"
    assert all(body for _, body in entries)


@pytest.mark.parametrize("quiet", [False, True], ids=["logging", "quiet"])
def test_serve_shows_the_url_on_stderr_and_only_ready_on_stdout(quiet: bool) -> None:
    command = (sys.executable, "-m", "netrosetta.cli", "serve", "raw")
    server = launch(Variant("serve", "raw", command), "urlecho", args=("--quiet",) if quiet else ())
    url = f"serving http://127.0.0.1:{server.port}/"
    shown = wait_until(lambda: url in server.stderr_text(), timeout=0 if quiet else 10)
    status, stderr = server.stop()
    rest = server.proc.stdout.read()
    assert status == 0 and rest == b"", (status, rest, stderr)  # READY was the only line (launch read it)
    assert (shown, stderr.count(url)) == ((False, 0) if quiet else (True, 1)), stderr


def test_the_same_port_twice_is_a_usage_error() -> None:
    run = netrosetta("serve", "raw", "multiport", "--ports", "9001,9001")
    assert run.returncode == 2 and run.stdout == "", run
    assert run.stderr.count("\n") == 1 and "port 9001 given twice" in run.stderr, run.stderr


def test_compare_warns_of_a_matrix_file_that_is_not_there(tmp_path: Path) -> None:
    run = netrosetta("compare", "echo", "--out", str(tmp_path), "--matrix", str(tmp_path / "nope.json"))
    assert run.returncode == 0, run.stderr
    assert f"warning: --matrix {tmp_path / 'nope.json'}: no such file" in run.stderr
    quiet = netrosetta("compare", "echo", "--out", str(tmp_path), cwd=tmp_path)  # the default: no warning
    assert "warning" not in quiet.stderr, quiet.stderr


def test_licence_notices_and_python_versions() -> None:
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    notice = (REPO / "NOTICE").read_text()
    for reference, licence in (("twisted_echoserv.py", "MIT"), ("tornado_tcpecho.py", "Apache License 2.0")):
        assert reference in notice and licence in notice, reference
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    ci = (REPO / ".ci" / "run").read_text()
    assert project["requires-python"] == ">=3.11,<3.12" and "Python 3.11" in ci
