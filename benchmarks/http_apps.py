"""``python -m benchmarks.http_apps``: the application benchmark of ``aiosio serve``.

A FastAPI JSON route and a Starlette plaintext route (benchmarks/servers/http_apps.py),
each served by ``aiosio serve``, by uvicorn (httptools, uvloop) and by granian, one
process pinned to one CPU, loaded by 50 keep-alive connections (benchmarks/http_load.js)
on the other CPU. Runs are interleaved (run 1 of each server, then run 2...) and the
median is reported, with each server's figure against uvicorn's (issue 13's target:
``aiosio serve`` at least 1.0x uvicorn). ``make bench`` runs it after the Socket.IO
scenarios; a full run (not ``--quick``, all three servers) writes its table into
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time

from benchmarks import report, runner

APPS = (
    ("fastapi", "/json", "FastAPI JSON route"),
    ("starlette", "/plaintext", "Starlette plaintext"),
)
SERVERS = ("aiosio", "uvicorn", "granian")
SERVER_SCRIPT = runner.BENCH_DIR / "servers" / "http_apps.py"
LOAD = runner.BENCH_DIR / "http_load.js"
README_BEGIN, README_END = "<!-- http-apps:begin -->", "<!-- http-apps:end -->"


def measure(server: str, app: str, path: str, args: argparse.Namespace) -> float:
    """Requests/s of one run."""
    server_cpu, load_cpu = runner.default_cpus()
    port = runner.free_port()
    command = [sys.executable, str(SERVER_SCRIPT), "--server", server, "--app", app]
    command += ["--port", str(port)]
    with runner.running(f"http-{server}-{app}", command, port, server_cpu):
        load = runner.pinned(
            [
                *("node", str(LOAD), "--port", str(port), "--path", path),
                *("--connections", str(args.connections), "--warmup", str(args.warmup)),
                *("--duration", str(args.duration)),
            ],
            load_cpu,
        )
        done = subprocess.run(load, capture_output=True, check=True, timeout=120)
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])["result"]
    if result["errors"]:
        print(f"  {server} {app}: {result['errors']} errors", file=sys.stderr)
    return float(result["requests_per_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_apps", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="1 short run: a smoke test")
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.warmup, args.duration = 1, 0.3, 1.0
    servers = [name for name in args.servers.split(",") if name in SERVERS]
    runner.install_signal_handlers()
    figures: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.runs):
            for app, path, _label in APPS:
                for server in servers:
                    figures.setdefault((app, server), []).append(measure(server, app, path, args))
                    time.sleep(0.5)  # the last server's sockets close
    finally:
        runner.stop_all()
    print(f"\nrequests/s, {args.connections} keep-alive connections, median of {args.runs}:")
    rows = []
    for app, _path, label in APPS:
        base = statistics.median(figures.get((app, "uvicorn"), [0.0])) or None
        cells = []
        for server in servers:
            value = statistics.median(figures[(app, server)])
            ratio = f" ({value / base:.2f}x uvicorn)" if base and server != "uvicorn" else ""
            cells.append(f"{value:,.0f}{ratio}")
        print(
            f"  {label:<22} " + ", ".join(f"{s} {c}" for s, c in zip(servers, cells, strict=True))
        )
        rows.append([label, *cells])
    if not args.quick and servers == list(SERVERS):
        section = (
            f"Latest full run: {datetime.date.today().isoformat()}, requests/s with "
            f"{args.connections} keep-alive connections, median of {args.runs} runs.\n\n"
            + report.markdown_table(["route", *SERVERS], rows)
        )
        if report.replace_section(README_BEGIN, README_END, section):
            print("updated benchmarks/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
