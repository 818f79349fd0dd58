"""Instructions per operation of aiosio.compat against the native API, counted by callgrind:
``python -m benchmarks.compat_instructions``.

The method of :mod:`benchmarks.instructions` (the real standalone front door fed bytes
through in-memory transports, runs of ``n`` and ``3n`` operations, the difference divided
by ``2n``), on the two apps of the wall-clock comparison (:mod:`benchmarks.compat`): the
native benchmark app (``servers/aiosio_app.py``: plain ``def`` handlers) and python-
socketio's benchmark app run on ``aiosio.compat`` (``servers/compat_app.py``: its
``async def`` handlers). ``compat-def`` is that app with its event handlers made plain
``def`` functions (the broadcast emitting natively, as the migration guide suggests for
hot paths), to tell the facade's own cost from that of the coroutine handlers' tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.instructions import BENCH_DIR, FANOUT_RECIPIENTS, Harness, callgrind, frame
from benchmarks.instructions import connect as connect_workload
from benchmarks.instructions import echo as echo_workload

SERVERS_DIR = BENCH_DIR / "servers"
APPS = ("native", "compat", "compat-def")


def _module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, SERVERS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def server(app: str) -> Any:
    """The native :class:`aiosio.Server` of one of the apps."""
    if app == "native":
        return _module("aiosio_app").io
    loaded = _module("compat_app").load()
    sio = loaded["sio"]
    if app == "compat-def":

        def echo(sid: str, *args: Any) -> tuple[Any, ...]:
            return args

        def broadcast(sid: str, *args: Any) -> None:
            sio.io.to("bench").emit("msg", *args)  # a def handler emits natively

        sio.on("echo", echo)
        sio.on("broadcast", broadcast)
    return sio.io


async def fanout(h: Harness, ops: int) -> None:
    """``broadcast`` re-emitted to the 100 sockets of the room; an operation is a delivery."""
    sockets = [await h.websocket() for _ in range(FANOUT_RECIPIENTS)]
    trigger = sockets[0]
    for i in range(ops // FANOUT_RECIPIENTS):
        last = sockets[-1]
        writes = last.writes
        h.send(trigger, frame(b'42["broadcast",%d]' % i))
        await last.wait_writes(writes + 1)


WORKLOADS: dict[str, tuple[Callable[[Harness, int], Awaitable[None]], int, str]] = {
    "echo": (echo_workload, 400, "acked event, 10 in flight"),
    "fanout": (fanout, 2000, "delivery of a broadcast to 100"),
    "connect": (connect_workload, 60, "WebSocket connect + namespace"),
}


async def _run(app: str, workload: str, ops: int) -> None:
    io = server(app)
    await io.startup()
    try:
        await WORKLOADS[workload][0](Harness(io), ops)
    finally:
        await io.close()


def count(app: str, workload: str, ops: int) -> int:
    return callgrind("benchmarks.compat_instructions", "--one", f"{app}:{workload}:{ops}")


def per_operation(app: str, workload: str, scale: float = 1.0) -> float:
    n = max(FANOUT_RECIPIENTS if workload == "fanout" else 10, int(WORKLOADS[workload][1] * scale))
    return (count(app, workload, 3 * n) - count(app, workload, n)) / (2 * n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--quick", action="store_true", help="a tenth of the operations")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # app:workload:ops, callgrind's child
    args = parser.parse_args(argv)
    if args.one:
        app, workload, ops = args.one.split(":")
        asyncio.run(_run(app, workload, int(ops)))
        return 0
    apps = args.apps.split(",")
    lines = [
        "| workload | " + " | ".join(apps) + " | compat / native |",
        "| --- |" + " ---: |" * (len(apps) + 1),
    ]
    for workload in args.workloads.split(","):
        figures = {app: per_operation(app, workload, 0.1 if args.quick else 1.0) for app in apps}
        ratio = figures.get("compat", 0) / figures["native"] if "native" in figures else 0
        cells = " | ".join(f"{figures[app]:,.0f}" for app in apps)
        lines.append(f"| {workload} ({WORKLOADS[workload][2]}) | {cells} | {ratio:.2f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
