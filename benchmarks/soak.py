"""``python -m benchmarks.soak``: hold many idle WebSockets and watch the server's RSS.

Opens ``--connections`` (10,000) Socket.IO connections to each server, holds them for
``--duration`` seconds while the load generator answers every ping, samples the server's
RSS every ``--sample-every`` seconds, and reports whether the RSS stayed flat: the median
of the last quarter of the samples within ``--tolerance`` of the first quarter's, and no
connection dropped. Exit status 1 when a server is not flat.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from typing import Any

from benchmarks import report, runner
from benchmarks.scenarios import PEERS, Peer, select


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    names = ", ".join(p.name for p in PEERS)
    parser.add_argument("--servers", default="aiosio", help=f"comma-separated, of: {names}")
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds held")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds")
    parser.add_argument("--tolerance", type=float, default=0.05, help="RSS growth allowed")
    args = parser.parse_args(argv)
    if args.duration < 4 * args.sample_every:
        parser.error("--duration must cover at least 4 samples")
    return args


def soak(
    peer: Peer, args: argparse.Namespace, cpus: tuple[int | None, int | None]
) -> dict[str, Any]:
    """Soak one server; return its samples and verdict, or {"error": ...}."""
    samples: list[tuple[float, int]] = []
    port = runner.free_port()
    try:
        with runner.running(peer.name, peer.command(port), port, cpus[0]) as server:

            def sample() -> None:
                snap = server.snapshot()
                samples.append((snap.t, snap.rss_kib))

            loadgen_args = [
                *("--connections", str(args.connections), "--hold", str(args.duration)),
                *("--timeout", str(120 + args.connections / 50)),
            ]
            run = runner.run_loadgen(
                "connect",
                loadgen_args,
                server,
                cpu=cpus[1],
                timeout=150 + args.connections / 50 + args.duration,
                tick=sample,
                tick_every=args.sample_every,
            )
    except (runner.StartError, runner.LoadgenError) as exc:
        return {"error": str(exc)}
    connected = run.snapshots["connected"]
    baseline = run.snapshots["baseline"]
    held = [(t - connected.t, rss) for t, rss in samples if t >= connected.t]
    return verdict(run.result, baseline.rss_kib, connected.rss_kib, held, args)


def verdict(
    result: dict[str, Any],
    baseline_kib: int,
    connected_kib: int,
    held: list[tuple[float, int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    rss = [r for _, r in held]
    quarter = max(1, len(rss) // 4)
    first, last = statistics.median(rss[:quarter]), statistics.median(rss[-quarter:])
    growth = (last - first) / first
    slope = _slope(held) * 60  # KiB per minute
    dropped = result.get("dropped", 0)
    return {
        "connections": result["connections"],
        "conns_per_s": result["conns_per_s"],
        "held_seconds": args.duration,
        "dropped": dropped,
        "rss_baseline_kib": baseline_kib,
        "rss_connected_kib": connected_kib,
        "rss_per_conn_kib": round((connected_kib - baseline_kib) / result["connections"], 2),
        "rss_first_quarter_kib": first,
        "rss_last_quarter_kib": last,
        "growth": round(growth, 4),
        "slope_kib_per_min": round(slope, 1),
        "flat": growth <= args.tolerance and dropped == 0,
        "samples": [(round(t, 1), r) for t, r in held],
    }


def _slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (KiB) over time (s)."""
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_r = statistics.fmean(r for _, r in points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (r - mean_r) for t, r in points) / den if den else 0.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = select(args.servers, tuple(p.name for p in PEERS), {})
    nofile = runner.raise_nofile_limit()
    if nofile < args.connections + 1000:
        print(f"warning: open-files limit {nofile} is low for the connections", file=sys.stderr)
    runner.install_signal_handlers()
    runner.ensure_node_modules()
    cpus = runner.default_cpus()
    outcomes: dict[str, dict[str, Any]] = {}
    try:
        for peer in (p for p in PEERS if p.name in names):
            print(
                f"{peer.name}: {args.connections} connections for {args.duration:g} s",
                file=sys.stderr,
            )
            outcomes[peer.name] = soak(peer, args, cpus)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the servers", file=sys.stderr)
        return 130
    finally:
        runner.stop_all()
    print_summary(outcomes, args)
    write(outcomes, args)
    return 0 if all(o.get("flat") for o in outcomes.values()) else 1


def print_summary(outcomes: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    rows = []
    for name, o in outcomes.items():
        if "error" in o:
            rows.append([name, "error: " + o["error"][:200], "", "", "", "", ""])
            continue
        rows.append(
            [
                name,
                f"{o['connections']:,}",
                f"{o['rss_per_conn_kib']:.2f}",
                f"{o['rss_first_quarter_kib'] / 1024:.1f}"
                f" -> {o['rss_last_quarter_kib'] / 1024:.1f}",
                f"{o['growth'] * 100:+.1f}% ({o['slope_kib_per_min']:+.0f} KiB/min)",
                str(o["dropped"]),
                "flat" if o["flat"] else "NOT flat",
            ]
        )
    header = ["server", "connections", "KiB/conn", "RSS MiB", "growth", "dropped", "verdict"]
    print(f"\nsoak: {args.duration:g} s held, tolerance {args.tolerance * 100:g}%")
    print(report.markdown_table(header, rows))


def write(outcomes: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    meta = report.machine_info()
    date = datetime.date.today().isoformat()
    out = runner.BENCH_DIR / "results" / "raw"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"soak-{date}-{report.machine_slug(meta)}.json"
    payload = {"meta": meta | {"date": date}, "options": vars(args), "servers": outcomes}
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {path.relative_to(runner.REPO_DIR)}")


if __name__ == "__main__":
    sys.exit(main())
