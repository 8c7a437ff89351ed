"""The installed tool: the wheel holds every package and data file, and, installed into a fresh
virtualenv outside the checkout, ``netrosetta serve | conformance | compare | diff`` and the pytest
plugin work from any directory.

Fast on purpose (well under a minute): the wheel is built without build isolation (the test extra
brings setuptools), and the fresh virtualenv gets only netrosetta itself (``--no-deps``) and borrows
its dependencies from this one through a ``.pth`` line, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from netrosetta_conformance.clients import pump
from netrosetta_conformance.harness import Variant, launch

REPO = Path(__file__).resolve().parent.parent
STEP_TIMEOUT = 120
pytestmark = pytest.mark.timeout(600)
# Copied to build from: the sources, not the checkout's caches, results or virtualenv.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                     "*-results", ".pytest_cache", ".ruff_cache", ".hypothesis", "docs")


def run(argv: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT, env=env,
                          **kwargs)
    assert done.returncode == 0, f"{shlex.join(argv)}: status {done.returncode}\n{done.stdout[-3000:]}" \
                                 f"\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, a fresh virtualenv with it installed), both outside the checkout."""
    scratch = tmp_path_factory.mktemp("wheel")
    source = scratch / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(scratch / "dist"), str(source)], cwd=scratch)
    wheel = next((scratch / "dist").glob("netrosetta-*.whl"))
    venv = scratch / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=scratch)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)], cwd=scratch)
    # The dependencies: this environment's site-packages, after the new one's own (a plain path
    # line: the .pth files there, such as the checkout's editable install, are not run).
    own = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   cwd=scratch).stdout.strip())
    (own / "borrowed-dependencies.pth").write_text(
        "\n".join(dict.fromkeys([sysconfig.get_path("purelib"), *site.getsitepackages()])) + "\n")
    return wheel, venv


def test_the_wheel_holds_every_package_and_data_file(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for package in ["netrosetta", *(p.name for p in REPO.glob("impl_*") if (p / "__init__.py").exists())]:
        for path in (REPO / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                expected.add(path.relative_to(REPO).as_posix())
    for path in (REPO / "conformance").iterdir():
        if path.is_file() and path.suffix in (".py", ".md"):
            expected.add(f"netrosetta_conformance/{path.name}")
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"
    assert not any(name.startswith("conformance/") for name in names), "installs a top-level conformance"
    for licence in ("LICENSE", "NOTICE", "LICENSES/Twisted-MIT.txt", "LICENSES/Apache-2.0.txt"):
        assert any(name.endswith(f".dist-info/licenses/{licence}") for name in names), licence
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\nnetrosetta_conformance = netrosetta_conformance.plugin" in text, text


def test_installed_commands_work_from_any_directory(installed, tmp_path):
    _, venv = installed
    bin_dir = venv / "bin"
    python, netrosetta = str(bin_dir / "python"), str(bin_dir / "netrosetta")
    where = run([python, "-c", "import netrosetta, netrosetta_conformance, impl_raw\n"
                 "for m in (netrosetta, netrosetta_conformance, impl_raw): print(m.__file__)"], cwd=tmp_path)
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout
    assert "conformance contract: SPEC.md 2." in run([netrosetta, "--version"], cwd=tmp_path).stdout
    assert "usage: netrosetta bench" in run([netrosetta, "bench", "--help"], cwd=tmp_path).stdout

    server = launch(Variant("installed", "raw", (netrosetta, "serve", "raw")), "echo")
    try:
        with server.connect() as sock:
            assert pump(sock, [b"installed\n"], expect=10)[0] == b"installed\n"
    finally:
        assert server.stop(signal.SIGTERM)[0] == 0

    serve = shlex.join([netrosetta, "serve", "raw"])
    run([netrosetta, "conformance", "--server-cmd", serve, "--behaviour", "echo", "--out", "results",
         "--", "-k", "test_E1_", "-n", "0"], cwd=tmp_path)
    cells = json.loads((tmp_path / "results" / "matrix.json").read_text())["cells"]
    assert [(c["clause"], c["variant"], c["status"]) for c in cells] == [("E1", "custom", "pass")]

    plugin = run([python, "-m", "pytest", "--pyargs", "netrosetta_conformance", "-p", "no:cacheprovider",
                  "-q", "--server-cmd", serve, "-k", "test_E1_"], cwd=tmp_path)
    assert "1 passed" in plugin.stdout, plugin.stdout[-2000:]

    run([netrosetta, "compare", "echo", "--out", "pages", "--matrix", "results/matrix.json"], cwd=tmp_path)
    page = (tmp_path / "pages" / "echo.html").read_text()
    assert "impl_raw/echo.py" in page and "impl_tornado/echo.py" in page

    # The Node.js example (README), and a server that never says READY: one message, in seconds.
    if shutil.which("node"):
        node = shlex.join(["node", "--max-semi-space-size=1", str(REPO / "tests/node_echo/echo_server.js")])
        run([netrosetta, "conformance", "--server-cmd", node, "--behaviour", "echo",
             "--not-applicable", "L9,L12", "--out", "node",
             "--", "-k", "test_E1_ or test_E3_ or test_L1_ or test_L5_", "-n", "0"], cwd=tmp_path)
    silent = subprocess.run([netrosetta, "conformance", "--server-cmd", "sh -c 'sleep 600'",
                             "--behaviour", "echo", "--ready-timeout", "2", "--out", "silent"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert silent.returncode == 1 and silent.stdout.count("no READY line") == 1, silent.stdout[-2000:]

    diff = run([netrosetta, "diff", "echo", "raw", "twisted"], cwd=tmp_path)
    assert "--- impl_raw/echo.py" in diff.stdout and "+++ impl_twisted/echo.py" in diff.stdout
    assert not list(tmp_path.glob("build*")), "wrote into the working directory"
