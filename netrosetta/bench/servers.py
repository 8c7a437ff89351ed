"""The servers the benchmark measures: our implementations and the references, launched alike.

Every server is a process on the server core that tells us it listens — our implementations and the
reference scripts print READY (the launch contract), nginx is probed until it accepts — and that we
read from /proc while it runs: CPU time from /proc/PID/stat, peak RSS from /proc/PID/status. Every
server starts with its descriptor limit raised to the hard limit (the memory scenario holds 10,000
connections open).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from netrosetta.registry import IMPLEMENTATIONS as REGISTRY
from netrosetta_conformance.harness import ServerError, parse_ready, read_ready

REPO = Path(__file__).resolve().parent.parent.parent
REFERENCES = Path(__file__).resolve().parent / "references"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
RSS_POLL = 0.02  # seconds between /proc readings during a run
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Target:
    """One server to measure: an implementation (maybe with a --loop) or a reference."""

    id: str
    kind: str  # "implementation" or "reference"
    behaviour: str
    label: str
    argv: tuple[str, ...] = ()
    package: str | None = None  # implementations: missing until impl_X/BEHAVIOUR.py exists
    program: str | None = None  # references: the executable they need
    apt_package: str | None = None  # how the benchmark's set-up installs that executable
    nginx: bool = False
    tree: Path | None = None  # a baseline's files: another revision of this repository (--baseline)

    def missing(self) -> str | None:
        """Why this server cannot run here, or None."""
        if self.package and not ((self.tree or REPO) / self.package / f"{self.behaviour}.py").exists():
            return f"{self.package}/{self.behaviour}.py is not written yet"
        if self.program and find_program(self.program) is None:
            return f"{self.program} is not installed (apt-get install -y {self.apt_package})"
        return None


def find_program(name: str) -> str | None:
    """shutil.which, plus /usr/sbin (where Debian puts nginx, often not on a user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def ensure_program(name: str, apt_package: str) -> str | None:
    """Install a missing program with apt-get when we may (root, apt present); return why not."""
    if find_program(name):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"{name} is missing and cannot be installed here (needs root and apt-get)"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", apt_package]):
        done = subprocess.run(command, env=env, check=False, timeout=600, **quiet)
        if done.returncode != 0:
            return f"apt-get install {apt_package} failed: {done.stderr.decode(errors='replace')[-200:]}"
    return None if find_program(name) else f"{name} still missing after installing {apt_package}"


def _ours(impl: str, behaviour: str, loop: str | None = None, model: str | None = None) -> Target:
    """impl_IMPL, maybe with a --loop or a --model (the id is the matrix's: raw-epoll, asyncio-protocol)."""
    extra = ("--loop", loop) if loop else ("--model", model) if model else ()
    return Target(
        id="-".join([impl, *extra[1:]]), kind="implementation", behaviour=behaviour,
        label=" ".join([f"impl_{impl}", *extra]),
        argv=(sys.executable, "-m", f"impl_{impl}", behaviour, *extra, "--quiet"),
        package=f"impl_{impl}",
    )


def _python_ref(id_: str, behaviour: str, label: str, script: str, *extra: str) -> Target:
    return Target(id=id_, kind="reference", behaviour=behaviour, label=label,
                  argv=(sys.executable, str(REFERENCES / script), *extra))


def _node_ref(id_: str, behaviour: str, label: str, script: str) -> Target:
    return Target(id=id_, kind="reference", behaviour=behaviour, label=label,
                  argv=("node", str(REFERENCES / script)), program="node", apt_package="nodejs")


IMPLEMENTATIONS = tuple(REGISTRY)
# Other --model columns measured beside an implementation's default, for a target that names them
# (TARGETS in netrosetta/bench/__init__.py): the asyncio Protocol echo against the stock one.
EXTRA_MODELS = {"echo": {"asyncio": ("protocol",)}, "multiport": {"asyncio": ("protocol",)}}


def implementations(behaviour: str, impls: tuple[str, ...]) -> list[Target]:
    """Our implementations of one behaviour (scaling also runs each one's scaling_loops)."""
    if behaviour == "scaling":
        targets = []
        for impl in impls:
            targets.append(_ours(impl, "echo"))
            targets += [_ours(impl, "echo", model=model) for model in EXTRA_MODELS["echo"].get(impl, ())]
            targets += [_ours(impl, "echo", loop) for loop in REGISTRY[impl].scaling_loops]
        return targets
    targets = []
    for impl in impls:
        targets.append(_ours(impl, behaviour))
        targets += [_ours(impl, behaviour, model=model)
                    for model in EXTRA_MODELS.get(behaviour, {}).get(impl, ())]
    return targets


def export(revision: str, into: Path) -> str:
    """Write the files of git revision ``revision`` of this repository into ``into`` (git archive);
    return its short commit id. ValueError, in one line, when there is no such revision here."""
    def git(*argv: str, **kwargs: object) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, check=False, **kwargs)

    if shutil.which("git") is None or git("rev-parse", "--git-dir").returncode != 0:
        raise ValueError("--baseline needs git and a git checkout of netrosetta")
    found = git("rev-parse", "--verify", "--short", f"{revision}^{{commit}}", text=True)
    if found.returncode != 0:
        raise ValueError(f"--baseline: no revision {revision!r} in {REPO}")
    archive = git("archive", "--format=tar", found.stdout.strip())
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return found.stdout.strip()


def baselines(targets: list[Target], commit: str, tree: Path) -> list[Target]:
    """Each implementation among ``targets`` once more, as it was at ``commit`` (files in ``tree``)."""
    return [replace(target, id=f"{target.id}@{commit}", kind="baseline",
                                label=f"{target.label} at {commit}", tree=tree)
            for target in targets if target.kind == "implementation"]


def references(behaviour: str) -> list[Target]:
    """The reference servers for one behaviour (none for multiport: no stock example exists)."""
    if behaviour in ("echo", "scaling"):
        refs = [
            _python_ref("uvloop", "echo", "asyncio Protocol on uvloop", "uvloop_echo.py"),
            _python_ref("asyncio-stock", "echo", "asyncio Protocol (stdlib loop)", "uvloop_echo.py",
                        "--loop", "asyncio"),
            _python_ref("asyncio-streams-stock", "echo", "asyncio streams: the docs' start_server echo",
                        "asyncio_streams_echo.py"),
            _node_ref("node-net", "echo", "Node.js net", "node_echo.js"),
            _python_ref("twisted-echoserv", "echo", "Twisted echoserv.py", "twisted_echoserv.py"),
            _python_ref("tornado-tcpecho", "echo", "Tornado demos/tcpecho", "tornado_tcpecho.py"),
        ]
        return refs if behaviour == "echo" else refs[:1]
    if behaviour == "urlecho":
        return [
            Target(id="nginx", kind="reference", behaviour="urlecho", label="nginx return 200 $request_uri",
                   program="nginx", apt_package="nginx-light", nginx=True),
            _node_ref("node-http", "urlecho", "Node.js http", "node_http.js"),
            _python_ref("twisted-web", "urlecho", "bare twisted.web Resource", "twisted_web.py"),
            _python_ref("tornado-web", "urlecho", "bare tornado.web handler", "tornado_web.py"),
        ]
    return []


# -- running a server -------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_accepting(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"exited with status {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"not accepting on port {port} within {timeout:.0f}s")


@dataclass
class Running:
    """A server process we started, pinned to the server core."""

    target: Target
    proc: subprocess.Popen
    ports: list[int]
    stderr_file: object
    workdir: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, size: int = 1500) -> str:
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")[-size:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.stderr_file.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _prepare(core: int | None) -> None:
    """In the child, before exec: pin it to the server core and raise its descriptor limit."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start(target: Target, core: int | None, ports: int = 1, connections: int = 4096) -> Running:
    """Launch a server on ``core`` and wait until it listens; ServerError (with stderr) if it does not.
    ``connections``: how many nginx must be configured to hold (the others take what comes)."""
    home = target.tree or REPO  # a baseline runs its own revision's packages, first on the path
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(home), env.get("PYTHONPATH")]))
    stderr_file = tempfile.TemporaryFile()
    workdir = None
    if target.nginx:
        workdir = tempfile.mkdtemp(prefix="netrosetta-nginx-")
        port_numbers = [_free_port()]
        template = (REFERENCES / "nginx.conf.template").read_text()
        config = (template.replace("{port}", str(port_numbers[0])).replace("{prefix}", workdir)
                  .replace("{worker_connections}", str(max(connections, 4096))))
        Path(workdir, "nginx.conf").write_text(config)
        nginx = find_program("nginx") or "nginx"
        argv = [nginx, "-p", workdir, "-c", f"{workdir}/nginx.conf", "-e", "stderr"]
    else:
        argv = list(target.argv)
        if target.program:
            argv[0] = find_program(target.program) or target.program
        if target.behaviour == "multiport":
            argv += ["--ports", ",".join(["0"] * ports)]
        else:
            argv += ["--port", "0"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file,
                            cwd=home, env=env,
                            preexec_fn=lambda: _prepare(core))
    running = Running(target, proc, [], stderr_file, workdir)
    try:
        if target.nginx:
            _wait_accepting(port_numbers[0], proc, READY_TIMEOUT)
            running.ports = port_numbers
        else:
            running.ports = [port for _, port in parse_ready(read_ready(proc, READY_TIMEOUT))]
    except ServerError as error:
        tail = running.stderr_tail()
        running.stop()
        raise ServerError(f"{error}; command: {' '.join(argv)}; stderr: {tail.strip()[-600:]}") from None
    return running


# -- /proc readings ---------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """CPU time of a process, all its threads: nanoseconds from each task's schedstat when the kernel
    has it (a short run needs better than /proc/PID/stat's 10 ms ticks), else user + system ticks."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError):  # a thread that just exited
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _descendants(pid: int) -> list[int]:
    """The pids of a process's children, grandchildren and so on (read from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS summed over a process and its descendants in KiB, how many processes): a server that
    forks workers holds its connections' memory in them."""
    total, count = 0, 0
    for each in [pid, *_descendants(pid)]:
        try:
            total += _status_kib(each, "VmRSS")
            count += 1
        except OSError:  # a child that just exited
            pass
    return total, count


def open_fds(pid: int) -> int:
    """How many descriptors a process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class Monitor:
    """Polls a server's RSS during a run; reports its CPU time and peak RSS over the run."""

    pid: int
    cpu_start: float = 0.0
    peak_kib: int = 0
    hwm_reset: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Monitor:
        # Writing 5 to clear_refs resets VmHWM (the kernel's own peak), so it covers this run only.
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.cpu_start = cpu_seconds(self.pid)
        self.peak_kib = _status_kib(self.pid, "VmRSS")
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(RSS_POLL):
            try:
                self.peak_kib = max(self.peak_kib, _status_kib(self.pid, "VmRSS"))
            except OSError:
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        try:
            self.cpu = cpu_seconds(self.pid) - self.cpu_start
            self.peak_kib = max(self.peak_kib, _status_kib(self.pid, "VmRSS"))
            if self.hwm_reset:
                self.peak_kib = max(self.peak_kib, _status_kib(self.pid, "VmHWM"))
        except OSError:
            self.cpu = float("nan")
