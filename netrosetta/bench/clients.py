"""The clients: our C load generator (built here with the system compiler) and wrk.

Both run on the client core, one process each, and say what they did as JSON; their own CPU time
comes from the kernel (wait4's rusage), so a client that saturates its core shows it.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from netrosetta.bench.servers import REPO, ensure_program

HERE = Path(__file__).resolve().parent
LOADGEN_SOURCE = HERE / "loadgen.c"
WRK_SCRIPT = HERE / "report.lua"
# The load generator is built into the checkout's build/, or, installed, into the user's cache.
BUILD = REPO / "build" if (REPO / "pyproject.toml").exists() else \
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netrosetta"
URL_PATH = "/bench/echo?n=1"
T = TypeVar("T")


class ToolError(Exception):
    """A client could not run (not built, not installed, crashed): the reason says which."""


def build_loadgen() -> Path:
    """Compile loadgen.c once per source version into build/; ToolError if no compiler works."""
    source = LOADGEN_SOURCE.read_bytes()
    binary = BUILD / f"loadgen-{hashlib.sha256(source).hexdigest()[:12]}"
    if binary.exists():
        return binary
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        reason = ensure_program("gcc", "gcc")
        compiler = shutil.which("gcc")
        if not compiler:
            raise ToolError(f"no C compiler to build the load generator: {reason}")
    BUILD.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=BUILD, prefix=".loadgen-", delete=False) as tmp:
        partial = Path(tmp.name)
    done = subprocess.run([compiler, "-O2", "-o", str(partial), str(LOADGEN_SOURCE)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ToolError(f"{compiler} could not build loadgen.c: {done.stderr.strip()[-500:]}")
    os.replace(partial, binary)  # atomic: a concurrent build never sees half a binary
    return binary


def _pin(core: int | None):
    return (lambda: os.sched_setaffinity(0, {core})) if core is not None else None


def run_client(argv: list[str], core: int | None, timeout: float) -> tuple[str, str, int, float]:
    """Run a client to the end; return (stdout, stderr, exit status, its CPU seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, preexec_fn=_pin(core))
        try:
            status, usage = _wait_bounded(proc, timeout)
        except BaseException:  # a timeout, or Ctrl-C / SIGTERM of the bench: never leave a client behind
            proc.kill()
            proc.wait()
            raise
        out.seek(0)
        err.seek(0)
        return (out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                status, usage)


def _wait_bounded(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """wait4 with a deadline (polling WNOHANG); the rusage gives the client's own CPU time."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            raise ToolError(f"{Path(proc.args[0]).name} did not finish within {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def loadgen(binary: Path, mode: str, ports: list[int], core: int | None, wait: float,
            **options: object) -> dict:
    """Run the load generator once; return its JSON report plus its CPU seconds."""
    argv = [str(binary), mode, "--ports", ",".join(map(str, ports))]
    for name, value in options.items():
        if value is True:
            argv.append("--" + name)
        elif value not in (None, False):
            argv += ["--" + name, str(value)]
    out, err, status, cpu = run_client(argv, core, wait)
    if status != 0 or not out.strip():
        raise ToolError(f"loadgen {mode} exited with status {status}: {err.strip()[-300:]}")
    report = json.loads(out.strip().splitlines()[-1])
    report["client_cpu_s"] = cpu
    report["tool"] = "loadgen"
    return report


def start_loadgen(binary: Path, mode: str, ports: list[int], core: int | None, **options: object):
    """Start the load generator in the background (idle connections beside wrk)."""
    argv = [str(binary), mode, "--ports", ",".join(map(str, ports))]
    for name, value in options.items():
        if value is True:
            argv.append("--" + name)
        elif value not in (None, False):
            argv += ["--" + name, str(value)]
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdout=out, stderr=err, preexec_fn=_pin(core))
    return proc, out, err


def collect_loadgen(started, timeout: float) -> dict:
    """Wait for a background load generator and return its report."""
    proc, out, err = started
    try:
        status, cpu = _wait_bounded(proc, timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    out.seek(0)
    err.seek(0)
    text, problem = out.read().decode(), err.read().decode(errors="replace")
    out.close()
    err.close()
    if status != 0 or not text.strip():
        raise ToolError(f"loadgen exited with status {status}: {problem.strip()[-300:]}")
    report = json.loads(text.strip().splitlines()[-1])
    report["client_cpu_s"] = cpu
    return report


def hold(binary: Path, port: int, count: int, http: bool, core: int | None, timeout: float,
         while_held: Callable[[], T], size: int = 1024) -> tuple[dict, T, dict]:
    """Open ``count`` connections to ``port``, use each once (one echoed message, or with ``http`` one
    keep-alive GET), call ``while_held`` with all of them open, then close them. Returns (what was
    held when ``while_held`` ran, its result, the load generator's final report: connections the
    server dropped while they were held count in its ``idle_dropped``)."""
    argv = [str(binary), "hold", "--ports", str(port), "--idle", str(count), "--until-eof",
            "--timeout", str(timeout), "--duration", str(timeout * 2),
            *(["--http"] if http else ["--size", str(size)])]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                preexec_fn=_pin(core))
        try:
            line = _first_line(proc, timeout + 10)
            if not line:
                err.seek(0)
                raise ToolError(f"loadgen hold said nothing (status {proc.poll()}): "
                                f"{err.read().decode(errors='replace').strip()[-300:]}")
            held = json.loads(line)
            result = while_held()
            proc.stdin.close()  # EOF: the load generator closes every connection and reports
            status, cpu = _wait_bounded(proc, 30)
            rest = proc.stdout.read().decode()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        if status != 0 or not rest.strip():
            err.seek(0)
            raise ToolError(f"loadgen hold exited with status {status}: "
                            f"{err.read().decode(errors='replace').strip()[-300:]}")
    final = json.loads(rest.strip().splitlines()[-1])
    final["client_cpu_s"] = cpu
    return held, result, final


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first line a child writes on its stdout pipe, waiting ``timeout`` seconds at most."""
    deadline = time.monotonic() + timeout
    data = b""
    fd = proc.stdout.fileno()
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ToolError(f"{Path(proc.args[0]).name} said nothing within {timeout:.0f}s")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\n", 1)[0].decode()


def wrk_status() -> tuple[str | None, str | None]:
    """(path to wrk, None) or (None, why not), installing it with apt-get when we may."""
    reason = ensure_program("wrk", "wrk")
    path = shutil.which("wrk")
    return (path, None) if path else (None, reason)


def wrk(path: str, port: int, connections: int, seconds: int, core: int | None, timeout: float) -> dict:
    """One wrk run (one thread, keep-alive); the report in the load generator's shape."""
    url = f"http://127.0.0.1:{port}{URL_PATH}"
    argv = [path, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(WRK_SCRIPT), url]
    out, err, status, cpu = run_client(argv, core, timeout)
    line = next((text for text in reversed(out.splitlines()) if text.startswith("{")), None)
    if status != 0 or line is None:
        raise ToolError(f"wrk exited with status {status}: {(err or out).strip()[-300:]}")
    summary = json.loads(line)
    errors = summary["errors"]
    return {
        "mode": "http", "tool": "wrk", "requests": summary["requests"], "bytes": summary["bytes"],
        "elapsed": summary["duration_us"] / 1e6, "errors": sum(errors.values()), "error_kinds": errors,
        "latency_us": summary["latency_us"], "idle_requested": 0, "idle_open": 0, "idle_failed": 0,
        "idle_dropped": 0, "client_cpu_s": cpu,
    }
