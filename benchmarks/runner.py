"""Processes: the servers under test, the load generator, and what /proc says about them.

Every process started here is registered and stopped by :func:`stop_all` (the harness
calls it in a ``finally`` and on SIGTERM), so a Ctrl-C leaves nothing running.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
LOADGEN = BENCH_DIR / "loadgen.js"
LOG_DIR = BENCH_DIR / "results" / "raw" / "logs"

READY_TIMEOUT = 20.0  # seconds for a server to answer an Engine.IO handshake
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# Debug switches that would slow a server down if the caller's shell had them set.
SCRUBBED_ENV = ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "PYTHONTRACEMALLOC", "NODE_OPTIONS")

_children: list[subprocess.Popen[Any]] = []


class StartError(Exception):
    """A server did not start or did not answer an Engine.IO handshake."""


class LoadgenError(Exception):
    """The load generator failed or timed out."""


# ---------------------------------------------------------------- environment


def raise_nofile_limit() -> int:
    """Raise the soft open-files limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ensure_node_modules() -> None:
    """Install the pinned Node packages (``npm ci``) when node_modules is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("benchmarks need Node.js and npm on PATH")
    if (BENCH_DIR / "node_modules" / "socket.io").is_dir() and (
        BENCH_DIR / "node_modules" / "ws"
    ).is_dir():
        return
    print("installing the Node packages (npm ci in benchmarks/)", file=sys.stderr)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BENCH_DIR, check=True
    )


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    """Prefix ``cmd`` with ``taskset -c CPU`` (when there is a CPU to pin to)."""
    if cpu is None:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


def busy_cores(seconds: float = 1.0) -> float:
    """CPU cores in use by every process on the machine, averaged over ``seconds``."""
    t0, b0 = time.monotonic(), machine_busy_s()
    time.sleep(seconds)
    return (machine_busy_s() - b0) / (time.monotonic() - t0)


def default_cpus() -> tuple[int | None, int | None]:
    """CPU 0 for the server and 1 for the load generator, when taskset and 2 CPUs exist."""
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(cpus) < 2:
        print("warning: not pinning (needs taskset and 2 CPUs)", file=sys.stderr)
        return None, None
    return cpus[0], cpus[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---------------------------------------------------------------- process bookkeeping


def _spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    # A session of its own: Ctrl-C in the terminal reaches the harness only, which then
    # stops each child itself, in order.
    proc = subprocess.Popen(cmd, start_new_session=True, env=child_env(), **kwargs)
    _children.append(proc)
    return proc


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; the process group goes with it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc in _children:
        _children.remove(proc)


def stop_all() -> None:
    """Stop every process this module started and that still runs."""
    for proc in list(_children):
        stop(proc)


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into SystemExit, so ``finally`` blocks stop the children."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
    # Ctrl-C raises KeyboardInterrupt even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)


# ---------------------------------------------------------------- /proc


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What /proc says about a process at one moment."""

    t: float  # time.monotonic()
    rss_kib: int
    cpu_s: float  # user + system, all threads
    machine_busy_s: float  # busy time of the CPUs the benchmark uses, every process


def machine_busy_s(cpus: frozenset[int] | None = None) -> float:
    """Busy seconds of ``cpus`` (all when None) since boot, from /proc/stat."""
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
        ticks = [int(v) for v in values[:8]]
        busy += sum(ticks) - ticks[3] - ticks[4]
    return busy / CLK_TCK


def snapshot(pid: int, cpus: frozenset[int] | None = None) -> Snapshot:
    busy = machine_busy_s(cpus)
    t = time.monotonic()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields after "(comm)": state is field 3 of stat(5); utime and stime are 14 and 15.
    cpu_s = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
            break
    return Snapshot(t, rss_kib, cpu_s, busy)


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """A server under test, running in a subprocess on its own port."""

    name: str
    cmd: list[str]
    port: int
    proc: subprocess.Popen[Any] | None = None
    log_path: Path | None = None
    cpus: frozenset[int] | None = None  # the CPUs the benchmark runs on (None: all)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, cpu: int | None) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{self.name}.{os.getpid()}.log"
        self._log = self.log_path.open("wb")
        self.proc = _spawn(
            pinned(self.cmd, cpu),
            cwd=REPO_DIR,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except StartError:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError(f"exited with {self.proc.returncode}: {self.log_tail()}")
            if engineio_handshake(self.port):
                return
            time.sleep(0.1)
        raise StartError(f"no Engine.IO handshake within {READY_TIMEOUT:.0f} s: {self.log_tail()}")

    def snapshot(self) -> Snapshot:
        assert self.proc is not None
        return snapshot(self.proc.pid, self.cpus)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 5) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])


def engineio_handshake(port: int) -> bool:
    """True when the server answers an Engine.IO polling handshake (then closes it)."""
    base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    try:
        with urllib.request.urlopen(base, timeout=2) as response:
            body = response.read().decode()
        if not body.startswith("0{"):
            return False
        sid = json.loads(body[1:])["sid"]
        close = urllib.request.Request(f"{base}&sid={sid}", data=b"1", method="POST")
        with contextlib.suppress(OSError), urllib.request.urlopen(close, timeout=2):
            pass
        return True
    except (OSError, ValueError, KeyError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def running(
    name: str, cmd: list[str], port: int, cpu: int | None, cpus: frozenset[int] | None = None
) -> Iterator[Server]:
    server = Server(name, cmd, port, cpus=cpus)
    server.start(cpu)
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- load generator


@dataclass
class LoadgenRun:
    """The load generator's result, with the server snapshots taken at its signals."""

    result: dict[str, Any]
    snapshots: dict[str, Snapshot]


def run_loadgen(
    scenario: str,
    args: list[str],
    server: Server,
    *,
    cpu: int | None,
    timeout: float,
    tick: Callable[[], None] | None = None,
    tick_every: float = 1.0,
) -> LoadgenRun:
    """Run one load generator scenario against ``server`` and collect its JSON result.

    At each signal line (``{"event": ...}``) the server's RSS and CPU time are read; a
    signal with ``"wait": true`` is answered on stdin once that is done. ``tick`` runs
    every ``tick_every`` seconds meanwhile (the soak samples RSS with it).
    """
    cmd = pinned(["node", str(LOADGEN), scenario, "--port", str(server.port), *args], cpu)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"loadgen.{os.getpid()}.log"
    stderr = log_path.open("wb")
    proc = _spawn(cmd, cwd=BENCH_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    snapshots: dict[str, Snapshot] = {}
    message: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic() + tick_every
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LoadgenError(f"{scenario}: no result within {timeout:.0f} s")
            try:
                line = lines.get(timeout=min(remaining, max(0.01, next_tick - time.monotonic())))
            except queue.Empty:
                line = ""
            if tick is not None and time.monotonic() >= next_tick:
                tick()
                next_tick += tick_every
            if line is None:
                break
            if not line.strip():
                continue
            try:
                parsed = json.loads(line)
            except ValueError:
                continue  # not the load generator's protocol: ignore
            if not isinstance(parsed, dict):
                continue
            message = parsed
            if "event" in message:
                snapshots[message["event"]] = server.snapshot()
                if message.get("wait"):
                    assert proc.stdin is not None
                    proc.stdin.write(b"\n")
                    proc.stdin.flush()
            elif "result" in message or "error" in message:
                break
    finally:
        stop(proc)
        stderr.close()
    if "result" not in message:
        error = message.get("error") or f"exited with {proc.returncode} and no result"
        log = log_path.read_text(errors="replace").strip().splitlines()
        detail = f" ({' | '.join(log[-3:])})" if log else ""
        raise LoadgenError(f"{scenario}: {error}{detail}")
    return LoadgenRun(message["result"], snapshots)


def _read_lines(stream: IO[bytes] | None, lines: queue.Queue[str | None]) -> None:
    assert stream is not None
    for raw in stream:
        lines.put(raw.decode(errors="replace"))
    lines.put(None)
