"""What typed events cost: an echo with an un-annotated handler against the same echo whose
handler takes a pydantic model of five fields (validated) and returns it (serialised).

``python -m benchmarks.typed`` (run by ``make bench``) drives the real standalone front
door through the in-memory transport of :mod:`benchmarks.instructions` (10 acked events in
one read, answered in one flush) and prints, for each handler, nanoseconds per event (the
best of ``--rounds``) and, when valgrind is installed, the instructions per event that
callgrind counts (the difference of an n and a 3n run over 2n: start-up cancelled out),
then the overhead of the typed handler per event. ``--quick`` is a smoke run.

The plain echo is the one the ratio to Node is measured on (``python -m benchmarks``): it
must not move when typed events are added, and the instruction count says so exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from pydantic import BaseModel

from benchmarks.instructions import _COLLECTED, BENCH_DIR, Harness, frame

BATCH = 10


class Reading(BaseModel):
    """Five fields of the usual kinds."""

    sensor: str
    value: float
    count: int
    ok: bool
    at: datetime.datetime


KINDS = ("plain", "typed")
PAYLOAD = (
    b'42%d["echo",{"sensor":"s1","value":1.5,"count":%d,"ok":true,"at":"2026-01-01T00:00:00Z"}]'
)


def _server(kind: str) -> Any:
    import aiosio

    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        if kind == "plain":
            socket.on("echo", lambda value: value)
        else:

            def echo(value: Reading) -> Reading:
                return value

            socket.on("echo", echo)

    return io


async def _echo(kind: str, ops: int, check: bool = False) -> float:
    """Run ``ops`` echoes; return the nanoseconds they took. With ``check``, the answers
    are kept and must be the readings echoed (not an invalid_payload answer)."""
    io = _server(kind)
    await io.startup()
    try:
        h = Harness(io)
        ws = await h.websocket()
        ws.keep = check
        start = time.perf_counter_ns()
        for first in range(0, ops, BATCH):
            data = b"".join(frame(PAYLOAD % (i, i)) for i in range(first, first + BATCH))
            writes = ws.writes
            h.send(ws, data)
            await ws.wait_writes(writes + 1)
        elapsed = time.perf_counter_ns() - start
        if check:
            answers = b"".join(ws.chunks)
            assert answers.count(b'"sensor":"s1"') == ops and b"invalid" not in answers
        return elapsed
    finally:
        await io.close()


def nanoseconds(kind: str, ops: int, rounds: int) -> float:
    return min(asyncio.run(_echo(kind, ops)) for _ in range(rounds)) / ops


def instructions(kind: str, ops: int) -> float | None:
    """Instructions per event under callgrind, or None without valgrind."""
    if shutil.which("valgrind") is None:
        return None

    def total(n: int) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            command = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                "-m",
                "benchmarks.typed",
                "--run",
                kind,
                "--ops",
                str(n),
            ]
            env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
            done = subprocess.run(command, cwd=BENCH_DIR.parent, env=env, capture_output=True)
            found = _COLLECTED.search(done.stderr)
            if done.returncode != 0 or found is None:
                raise SystemExit(f"callgrind failed: {done.stderr.decode()[-2000:]}")
            return int(found.group(1))

    return (total(3 * ops) - total(ops)) / (2 * ops)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.typed", description=__doc__)
    parser.add_argument("--ops", type=int, default=2000, help="events per round (2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the best is kept (5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--no-instructions", action="store_true", help="skip callgrind")
    parser.add_argument("--run", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:  # one run, as callgrind's child
        asyncio.run(_echo(args.run, args.ops))
        return 0
    ops, rounds = (BATCH * 2, 1) if args.quick else (args.ops - args.ops % BATCH, args.rounds)
    figures = {kind: nanoseconds(kind, ops, rounds) for kind in KINDS}
    print("| handler | ns per event | instructions per event |")
    print("| --- | ---: | ---: |")
    counted: dict[str, float | None] = {}
    for kind, ns in figures.items():
        counted[kind] = None if args.no_instructions or args.quick else instructions(kind, 200)
        shown = "-" if counted[kind] is None else f"{counted[kind]:,.0f}"
        label = "un-annotated" if kind == "plain" else "5-field pydantic model"
        print(f"| {label} | {ns:,.0f} | {shown} |")
    overhead = figures["typed"] - figures["plain"]
    ratio = figures["typed"] / figures["plain"]
    print(f"\ntyped overhead: {overhead:,.0f} ns per event ({ratio:.2f}x the plain echo)")
    plain, typed = counted["plain"], counted["typed"]
    if plain is not None and typed is not None:
        print(f"typed overhead: {typed - plain:,.0f} instructions per event")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
