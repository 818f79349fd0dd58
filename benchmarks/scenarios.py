"""What is measured: the servers under test, the scenarios, and the figures reported."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from benchmarks.runner import BENCH_DIR

SERVERS_DIR = BENCH_DIR / "servers"


@dataclass(frozen=True, slots=True)
class Peer:
    """A server under test: how to start it on a port."""

    name: str
    label: str
    argv: tuple[str, ...]  # "{port}" is replaced by the port

    def command(self, port: int) -> list[str]:
        return [arg.replace("{port}", str(port)) for arg in self.argv]


PY = sys.executable
PEERS = (
    Peer(
        "node",
        "Node socket.io 4.8",
        ("node", str(SERVERS_DIR / "node_socketio.js"), "--port", "{port}"),
    ),
    Peer(
        "python-socketio",
        "python-socketio 5 (uvicorn)",
        (PY, str(SERVERS_DIR / "pysocketio_app.py"), "--port", "{port}"),
    ),
    Peer(
        "aiosio",
        "aiosio standalone",
        (PY, str(SERVERS_DIR / "aiosio_app.py"), "--port", "{port}"),
    ),
    Peer(
        "aiosio-asgi",
        "aiosio ASGI (uvicorn)",
        (PY, str(SERVERS_DIR / "aiosio_app.py"), "--asgi", "--port", "{port}"),
    ),
    Peer(
        "asgi-floor",
        "least ASGI app (uvicorn): the ceiling of any ASGI door",
        (PY, str(SERVERS_DIR / "asgi_floor.py"), "--port", "{port}"),
    ),
    Peer(
        "aiosio-app",
        "aiosio serve main:app (FastAPI mounting io)",
        (PY, str(SERVERS_DIR / "aiosio_app.py"), "--fastapi", "--port", "{port}"),
    ),
)
BASELINE = "node"


@dataclass(frozen=True, slots=True)
class Metric:
    """One figure of a scenario's result."""

    key: str  # in the load generator's result, or added by the harness
    label: str
    unit: str
    higher_is_better: bool
    headline: bool = True  # shown in the ratio chart


def _latency(headline: bool = False) -> tuple[Metric, Metric]:
    return (
        Metric("p50_ms", "p50", "ms", False, headline),
        Metric("p99_ms", "p99", "ms", False, headline),
    )


@dataclass(frozen=True, slots=True)
class Scenario:
    """One load generator run, with its options for a full and a quick run."""

    name: str
    group: str
    title: str
    loadgen: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    metrics: tuple[Metric, ...]
    timeout: float = 180.0

    def loadgen_args(self, quick: bool) -> list[str]:
        return [*self.args, *(self.quick_args if quick else ())]


TIMED = ("--warmup", "1", "--duration", "5")
TIMED_QUICK = ("--warmup", "0.5", "--duration", "2")
BURST: tuple[str, ...] = ("--mode", "burst", "--receivers", "1000", "--burst", "100")
BURST += ("--rounds", "10", "--duration", "3")
RSS = Metric("rss_per_conn_kib", "RSS per connection", "KiB", False)

SCENARIOS = (
    Scenario(
        "connect-1000",
        "connect",
        "connect storm, 1,000 WebSockets",
        "connect",
        ("--connections", "1000", "--concurrency", "200"),
        (),
        (Metric("conns_per_s", "connections/s", "/s", True), RSS),
    ),
    Scenario(
        "connect-5000",
        "connect",
        "connect storm, 5,000 WebSockets",
        "connect",
        ("--connections", "5000", "--concurrency", "200"),
        (),
        (Metric("conns_per_s", "connections/s", "/s", True), RSS),
    ),
    Scenario(
        "echo-100x10",
        "echo",
        "echo, 100 clients x 10 acks in flight",
        "echo",
        ("--clients", "100", "--inflight", "10", *TIMED),
        TIMED_QUICK,
        (Metric("acks_per_s", "acks/s", "/s", True), *_latency()),
    ),
    Scenario(
        "echo-10x1",
        "echo",
        "echo, 10 clients x 1 ack in flight",
        "echo",
        ("--clients", "10", "--inflight", "1", *TIMED),
        TIMED_QUICK,
        (Metric("acks_per_s", "acks/s", "/s", True), *_latency()),
    ),
    Scenario(
        "fanout-burst",
        "fanout",
        "fan-out burst, 1,000 receivers (+ sender), 100 emits at once, up to 10 rounds / 3 s",
        "fanout",
        BURST,
        ("--burst", "100", "--rounds", "3", "--duration", "1"),
        (Metric("deliveries_per_s", "deliveries/s", "/s", True),),
    ),
    Scenario(
        "fanout-steady",
        "fanout",
        "fan-out steady, 1,000 receivers (+ sender), 4 broadcasts in flight",
        "fanout",
        ("--mode", "steady", "--receivers", "1000", *TIMED),
        TIMED_QUICK,
        (Metric("deliveries_per_s", "deliveries/s", "/s", True), *_latency()),
    ),
    Scenario(
        "bin64k",
        "bin64k",
        "binary echo, 10 clients x 1, 64 KiB attachment",
        "bin64k",
        ("--clients", "10", "--inflight", "1", "--size", "65536", *TIMED),
        TIMED_QUICK,
        (Metric("mib_per_s", "MiB/s", "MiB/s", True), *_latency()),
    ),
    Scenario(
        "polling",
        "polling",
        "long-polling echo, 10 clients x 1",
        "polling",
        ("--clients", "10", *TIMED),
        TIMED_QUICK,
        (Metric("acks_per_s", "acks/s", "/s", True), *_latency()),
    ),
)

# The CPU each side used in the measured window (in cores): a load generator near 1.0
# with a server well below it means the figure is the load generator's, not the server's.
CPU_METRICS = (
    Metric("server_cpu", "server CPU", "cores", False, headline=False),
    Metric("loadgen_cpu", "load generator CPU", "cores", False, headline=False),
    Metric("other_cpu", "other processes' CPU", "cores", False, headline=False),
)


@dataclass(frozen=True, slots=True)
class Target:
    """A target of issue 4: a figure of aiosio against Node (or python-socketio)."""

    scenario: str
    metric: str
    label: str
    server: str
    versus: str | None  # None: an absolute bound on the value
    bound: float
    at_least: bool


TARGETS = (
    Target("echo-100x10", "acks_per_s", "echo acks/s (100 x 10)", "aiosio", "node", 2.0, True),
    Target("echo-10x1", "acks_per_s", "echo acks/s (10 x 1)", "aiosio", "node", 1.5, True),
    Target("fanout-burst", "deliveries_per_s", "fan-out deliveries/s", "aiosio", "node", 5.0, True),
    Target(
        "fanout-steady",
        "deliveries_per_s",
        "steady fan-out deliveries/s",
        "aiosio",
        "node",
        3.0,
        True,
    ),
    Target(
        "connect-5000", "conns_per_s", "connect storm conns/s (5,000)", "aiosio", "node", 2.0, True
    ),
    Target(
        "connect-5000",
        "rss_per_conn_kib",
        "RSS per idle WebSocket (KiB)",
        "aiosio",
        None,
        8.0,
        False,
    ),
    Target("bin64k", "mib_per_s", "binary 64 KiB MiB/s", "aiosio", "node", 1.2, True),
    Target("polling", "acks_per_s", "long-polling acks/s", "aiosio", "node", 1.5, True),
    Target(
        "echo-100x10",
        "acks_per_s",
        "ASGI echo acks/s vs python-socketio",
        "aiosio-asgi",
        "python-socketio",
        3.0,
        True,
    ),
    # Issue 13: the ASGI door under uvicorn against Node, and Socket.IO under
    # `aiosio serve main:app` (FastAPI mounting io) within 5% of the plain standalone server.
    Target(
        "echo-100x10", "acks_per_s", "ASGI echo acks/s (100 x 10)", "aiosio-asgi", "node", 0.8, True
    ),
    Target(
        "fanout-steady",
        "deliveries_per_s",
        "ASGI steady fan-out deliveries/s",
        "aiosio-asgi",
        "node",
        1.0,
        True,
    ),
    Target("polling", "acks_per_s", "ASGI long-polling acks/s", "aiosio-asgi", "node", 0.6, True),
    # The same bounds for the floor (the least ASGI app under the same uvicorn): where it
    # misses one, no ASGI server can meet it under uvicorn on the machine.
    *(
        Target(name, metric, f"ceiling: {label}", "asgi-floor", "node", bound, True)
        for name, metric, label, bound in (
            ("echo-100x10", "acks_per_s", "ASGI echo acks/s (100 x 10)", 0.8),
            ("fanout-steady", "deliveries_per_s", "ASGI steady fan-out deliveries/s", 1.0),
            ("polling", "acks_per_s", "ASGI long-polling acks/s", 0.6),
        )
    ),
    *(
        Target(name, metric, f"{name} under serve main:app", "aiosio-app", "aiosio", 0.95, True)
        for name, metric in (
            ("echo-100x10", "acks_per_s"),
            ("fanout-steady", "deliveries_per_s"),
            ("polling", "acks_per_s"),
            ("connect-1000", "conns_per_s"),
        )
    ),
)


def select(names: str | None, choices: tuple[str, ...], groups: dict[str, list[str]]) -> list[str]:
    """Resolve a comma-separated selection of names or group names, in canonical order."""
    if not names:
        return list(choices)
    wanted: set[str] = set()
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name in choices:
            wanted.add(name)
        elif name in groups:
            wanted.update(groups[name])
        else:
            known = ", ".join([*choices, *sorted(set(groups) - set(choices))])
            raise SystemExit(f"unknown name {name!r}; one of: {known}")
    return [c for c in choices if c in wanted]


def scenario_groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for scenario in SCENARIOS:
        groups.setdefault(scenario.group, []).append(scenario.name)
    return groups
