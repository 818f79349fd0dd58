"""aiosio.compat against the native API and python-socketio: ``python -m benchmarks.compat``.

The same harness as ``python -m benchmarks`` (one core for the server, one for the load
generator, a fresh server per run, runs interleaved, medians), on three scenarios: echo
(100 clients x 10 acks in flight), steady fan-out (1,000 receivers) and the connect storm
(1,000 WebSockets). Five servers:

- ``aiosio`` / ``aiosio-asgi``: the native API (``benchmarks/servers/aiosio_app.py``);
- ``compat`` / ``compat-asgi``: python-socketio's peer app with its import changed
  (``benchmarks/servers/compat_app.py``), on aiosio's standalone front door and as
  ``socketio.ASGIApp`` under uvicorn;
- ``python-socketio``: the original, under uvicorn.

The table gives each figure, compat's ratio to the native API on the same front door (the
target: within 10 %), and its ratio to python-socketio. ``--quick`` is a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from benchmarks import report, runner
from benchmarks.__main__ import PAUSE, measure
from benchmarks.scenarios import PEERS, PY, SCENARIOS, SERVERS_DIR, Peer

COMPAT_APP = str(SERVERS_DIR / "compat_app.py")
COMPAT_PEERS = (
    Peer(
        "compat", "aiosio.compat standalone", (PY, COMPAT_APP, "--standalone", "--port", "{port}")
    ),
    Peer("compat-asgi", "aiosio.compat ASGI (uvicorn)", (PY, COMPAT_APP, "--port", "{port}")),
)
NATIVE = {"compat": "aiosio", "compat-asgi": "aiosio-asgi"}
SCENARIO_NAMES = ("echo-100x10", "fanout-steady", "connect-1000")


def peers() -> list[Peer]:
    wanted = ("aiosio", "aiosio-asgi", "python-socketio")
    return [p for p in PEERS if p.name in wanted] + list(COMPAT_PEERS)


def headline(scenario_name: str) -> str:
    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    return scenario.metrics[0].key


def run(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Figures by scenario and server: the headline metric of every run."""
    cpus = runner.default_cpus()
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    figures: dict[str, dict[str, list[float]]] = {s.name: {} for s in scenarios}
    for number in range(1, args.runs + 1):
        for scenario in scenarios:
            for peer in peers():
                cell: dict[str, Any] = measure(scenario, peer, args, cpus)
                key = headline(scenario.name)
                if key in cell:
                    figures[scenario.name].setdefault(peer.name, []).append(float(cell[key]))
                    shown = report.fmt(cell[key])
                else:
                    shown = f"ERROR {cell.get('error', 'no figure')}"
                print(
                    f"[run {number}/{args.runs}] {scenario.name:<14} {peer.name:<16} {shown}",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(PAUSE)
    return figures


def ratio(value: float | None, other: float | None) -> str:
    return "-" if value is None or not other else f"{value / other:.2f}x"


def table(figures: dict[str, dict[str, list[float]]]) -> str:
    """Markdown: the medians, compat / native (same front door), compat / python-socketio."""
    rows = [
        "| scenario | server | figure | / native | / python-socketio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for scenario, servers in figures.items():
        median = {name: statistics.median(values) for name, values in servers.items() if values}
        for name in ("aiosio", "compat", "aiosio-asgi", "compat-asgi", "python-socketio"):
            value = median.get(name)
            native = ratio(value, median.get(NATIVE[name])) if name in NATIVE else ""
            versus = (
                ratio(value, median.get("python-socketio")) if name != "python-socketio" else ""
            )
            rows.append(f"| {scenario} | {name} | {report.fmt(value)} | {native} | {versus} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compat", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="short windows, 1 run: a smoke test")
    parser.add_argument("--scenarios", default=",".join(SCENARIO_NAMES))
    args = parser.parse_args(argv)
    args.scenarios = [name for name in args.scenarios.split(",") if name in SCENARIO_NAMES]
    args.client = "raw"
    if args.quick:
        args.runs = 1
    runner.raise_nofile_limit()
    runner.install_signal_handlers()
    runner.ensure_node_modules()
    try:
        figures = run(args)
    finally:
        runner.stop_all()
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
