"""``python -m benchmarks``: run every scenario against every server, print the table.

Each scenario runs on a fresh server process (pinned to one CPU) with the load generator
on the other CPU; runs are interleaved (run 1 of every scenario on every server, then run
2, ...) so that drift on the machine hits every server alike. See README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import instructions, report, runner
from benchmarks.scenarios import BASELINE, PEERS, SCENARIOS, Peer, Scenario, scenario_groups, select

RESULTS_DIR = runner.BENCH_DIR / "results"
PAUSE = 0.5  # seconds between two server processes: let the last one's sockets close
NOISE_CPU = report.NOISE_CPU


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    names = [p.name for p in PEERS]
    parser.add_argument("--servers", help=f"comma-separated, of: {', '.join(names)} (default all)")
    groups = ", ".join(scenario_groups())
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated scenarios or groups ({groups}); default all; see --list",
    )
    parser.add_argument("--runs", type=int, help="runs per figure, the median is reported (3)")
    parser.add_argument("--quick", action="store_true", help="short durations, 1 run: a smoke test")
    parser.add_argument("--machine", help="machine label in the file names (default: CPU model)")
    parser.add_argument("--out", type=Path, help="directory for the report files")
    parser.add_argument(
        "--no-readme", action="store_true", help="do not update the README's results section"
    )
    parser.add_argument(
        "--client",
        choices=("raw", "ws"),
        default="raw",
        help="load generator clients: raw frames on net sockets (default), or ws/http.Agent",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to SECONDS for other processes to go idle",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="measure nothing: rewrite the report files (and README) from a results .json",
    )
    parser.add_argument(
        "--no-instructions",
        action="store_true",
        help="skip the instruction counts (callgrind, a few minutes; see instructions.py)",
    )
    parser.add_argument("--list", action="store_true", help="list servers and scenarios")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def list_all() -> None:
    print("servers:")
    for peer in PEERS:
        print(f"  {peer.name:<16} {peer.label}")
    print("scenarios:")
    for scenario in SCENARIOS:
        print(f"  {scenario.name:<16} {scenario.title}")


def probe(peers: list[Peer], cpu: int | None) -> dict[str, str]:
    """Start each server once; return the reason for each that cannot start."""
    unavailable: dict[str, str] = {}
    for peer in peers:
        port = runner.free_port()
        try:
            with runner.running(peer.name, peer.command(port), port, cpu):
                print(f"{peer.name}: ok", file=sys.stderr)
        except runner.StartError as exc:
            unavailable[peer.name] = str(exc)[:300]
            print(f"{peer.name}: unavailable ({unavailable[peer.name]})", file=sys.stderr)
        time.sleep(PAUSE)
    return unavailable


def measure(
    scenario: Scenario, peer: Peer, args: argparse.Namespace, cpus: tuple[int | None, int | None]
) -> dict[str, Any]:
    """One run of one scenario on a fresh server: the figures, or {"error": ...}."""
    port = runner.free_port()
    loadgen_args = [*scenario.loadgen_args(args.quick), "--client", args.client]
    try:
        used = frozenset(c for c in cpus if c is not None) or None
        with runner.running(peer.name, peer.command(port), port, cpus[0], used) as server:
            run = runner.run_loadgen(
                scenario.loadgen,
                [*loadgen_args, "--timeout", str(scenario.timeout)],
                server,
                cpu=cpus[1],
                timeout=scenario.timeout + 30,
            )
    except (runner.StartError, runner.LoadgenError) as exc:
        return {"error": str(exc)[:500]}
    return derived(run)


def derived(run: runner.LoadgenRun) -> dict[str, Any]:
    """The load generator's result plus what the harness read from /proc at its signals."""
    cell = dict(run.result)
    snaps = run.snapshots
    if "measure_start" in snaps and "measure_end" in snaps:
        start, end = snaps["measure_start"], snaps["measure_end"]
        seconds = end.t - start.t
        if seconds > 0:
            cell["server_cpu"] = round((end.cpu_s - start.cpu_s) / seconds, 3)
            busy = (end.machine_busy_s - start.machine_busy_s) / seconds
            # What neither the server nor the load generator used: other processes (noise).
            other = busy - cell["server_cpu"] - cell.get("loadgen_cpu", 0.0)
            cell["other_cpu"] = round(max(0.0, other), 3)
    if "baseline" in snaps and "connected" in snaps and cell.get("connections"):
        before, after = snaps["baseline"].rss_kib, snaps["connected"].rss_kib
        cell["rss_before_kib"] = before
        cell["rss_after_kib"] = after
        cell["rss_per_conn_kib"] = round((after - before) / cell["connections"], 2)
    return cell


def progress(run: int, runs: int, scenario: Scenario, peer: Peer, cell: dict[str, Any]) -> str:
    if "error" in cell:
        figures = f"ERROR {cell['error']}"
    else:
        keys = [m.key for m in scenario.metrics] + ["server_cpu", "loadgen_cpu"]
        figures = "  ".join(f"{k}={report.fmt(cell[k])}" for k in keys if k in cell)
        if cell.get("other_cpu", 0.0) > NOISE_CPU:
            figures += f"  (noisy: other processes used {cell['other_cpu']:.2f} cores)"
    return f"[run {run}/{runs}] {scenario.name:<14} {peer.name:<16} {figures}"


def wait_quiet(budget: float) -> None:
    """Wait up to ``budget`` seconds until other processes use under NOISE_CPU cores."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if runner.busy_cores(0.5) < NOISE_CPU:
            return


def run_all(args: argparse.Namespace, results: report.Results, peers: list[Peer]) -> None:
    cpus = (results.meta["server_cpu"], results.meta["loadgen_cpu"])
    scenarios = [s for s in SCENARIOS if s.name in results.scenarios]
    available = [p for p in peers if p.name not in results.unavailable]
    for run in range(1, args.runs + 1):
        for scenario in scenarios:
            for peer in available:
                wait_quiet(args.wait_quiet)
                cell = measure(scenario, peer, args, cpus)
                results.add(scenario.name, peer.name, cell)
                print(progress(run, args.runs, scenario, peer, cell), file=sys.stderr, flush=True)
                time.sleep(PAUSE)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_all()
        return 0
    if args.report:
        results = report.from_json(json.loads(args.report.read_text()))
        args.quick = results.quick
        print(report.main_table(results))
        write_files(args, results)
        return 0
    server_names = select(args.servers, tuple(p.name for p in PEERS), {})
    scenario_names = select(args.scenarios, tuple(s.name for s in SCENARIOS), scenario_groups())
    peers = [p for p in PEERS if p.name in server_names]
    nofile = runner.raise_nofile_limit()
    runner.install_signal_handlers()
    runner.ensure_node_modules()
    server_cpu, loadgen_cpu = runner.default_cpus()
    meta = report.machine_info()
    meta |= {
        "date": datetime.date.today().isoformat(),
        "server_cpu": server_cpu,
        "loadgen_cpu": loadgen_cpu,
        "nofile": nofile,
        "client": args.client,
    }
    results = report.Results(server_names, scenario_names, args.runs, args.quick, meta)
    idle_load = runner.busy_cores()
    meta["busy_cores_before"] = round(idle_load, 2)
    if idle_load > NOISE_CPU:
        print(
            f"warning: other processes already use {idle_load:.2f} cores: figures will be noisy",
            file=sys.stderr,
        )
    interrupted = False
    try:
        results.unavailable = probe(peers, server_cpu)
        if not results.measured():
            print("no server could start", file=sys.stderr)
            return 1
        run_all(args, results, peers)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping the servers", file=sys.stderr)
    finally:
        runner.stop_all()
    if not (interrupted or args.quick or args.no_instructions) and "aiosio" in server_names:
        counted = count_instructions()
        if counted:
            meta["instructions"] = counted
    print()
    print(report.main_table(results))
    if meta.get("instructions"):
        print()
        print(report.instructions_table(meta["instructions"]))
    print()
    print(report.targets_table(results))
    print()
    print(report.cpu_table(results))
    if interrupted:
        return 130
    write_files(args, results)
    return 0


def count_instructions() -> dict[str, float]:
    """Instructions per operation of every workload, recorded in the history file."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts", file=sys.stderr)
        return {}
    print("counting instructions per operation (callgrind)...", file=sys.stderr, flush=True)
    figures = instructions.measure(list(instructions.WORKLOADS))
    instructions.record(figures)
    return figures


def write_files(args: argparse.Namespace, results: report.Results) -> None:
    out = args.out or (RESULTS_DIR / "raw" if args.quick else RESULTS_DIR)
    machine = args.machine or report.machine_slug(results.meta)
    stem = f"{results.meta['date']}-{machine}" + ("-quick" if args.quick else "")
    paths = report.write(results, out, stem)
    print()
    for path in paths:
        shown = path.relative_to(runner.REPO_DIR) if path.is_relative_to(runner.REPO_DIR) else path
        print(f"wrote {shown}")
    complete = (
        not args.quick
        and len(results.scenarios) == len(SCENARIOS)
        and BASELINE in results.measured()
        and not args.no_readme
    )
    if complete:
        png = next((p for p in paths if p.suffix == ".png"), None)
        if report.update_readme(results, paths[0], png):
            print("updated benchmarks/README.md")


if __name__ == "__main__":
    sys.exit(main())
