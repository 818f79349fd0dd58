"""Where one operation's instructions go, grouped by layer: ``instructions --profile NAME``.

Callgrind counts the instructions of C functions only: every Python function is the same
``_PyEval_EvalFrameDefault``, so a callgrind profile alone cannot tell aiosio's code from
asyncio's. Two views are printed, each as the difference of an ``n`` and a ``3n`` run
divided by ``2n`` (set-up cancelled out, as for the figures themselves):

- **C level** (callgrind, exact): each C function's own instructions, grouped by what it
  is: the interpreter's eval loop, object operations (dicts, strings, lists, calls), the
  allocator, the garbage collector, asyncio's C accelerator, orjson, httptools, the
  WebSocket mask, libc;
- **Python level** (``cProfile``, a wall-clock sampler of every call, so approximate and
  inflated for code that makes many small calls): each Python function's own time
  grouped by aiosio module, asyncio, the benchmark harness (the in-memory transport and
  the client's frames) and the C functions Python calls (orjson, httptools, builtins),
  with the shares applied to the exact callgrind figure; then the heaviest functions by
  inclusive time.

Kernel time (system calls) is outside both: the in-memory harness makes none. On a real
socket the standalone server makes, per connection and loop iteration that has something
to send, one ``send`` (corking), and per readable connection one ``recv``, plus one
``epoll_wait`` per loop iteration for all.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

PY_SCALE = 10
_COST = re.compile(rb"^[0-9+\-*]")
_NAMED = re.compile(rb"^(\w+)=(?:\((\d+)\))?\s*(.*)$")


def parse_callgrind(path: Path) -> dict[tuple[str, str, str], int]:
    """Each function's own instructions in a callgrind output: (object, file, function)."""
    names: dict[tuple[bytes, bytes], bytes] = {}
    own: dict[tuple[str, str, str], int] = defaultdict(int)
    ob = fl = fn = b""
    after_call = False
    with path.open("rb") as file:
        for line in file:
            if _COST.match(line):
                if after_call:  # the inclusive cost of a call: not the caller's own
                    after_call = False
                    continue
                parts = line.split()
                if len(parts) > 1:
                    own[(ob.decode(), fl.decode(), fn.decode())] += int(parts[1])
                continue
            found = _NAMED.match(line)
            if found is None:
                continue
            key, ident, name = found.groups()
            if key == b"calls":
                after_call = True
                continue
            kind = key.lstrip(b"c")
            kind = b"fl" if kind in (b"fi", b"fe") else kind
            if ident is not None:
                if name:
                    names[(kind, ident)] = name.strip()
                name = names.get((kind, ident), b"?")
            if key == b"ob":
                ob = name
            elif key == b"fl":
                fl = name
            elif key == b"fn":
                fn = name
            elif key in (b"fi", b"fe"):
                pass  # inlined code: counted to the function it is inlined in
    return own


_PY_FILES = (
    ("ceval.c", "interpreter: eval loop"),
    ("gcmodule.c", "garbage collector"),
    ("obmalloc.c", "allocator (pymalloc, free lists)"),
    ("_asynciomodule.c", "asyncio C (futures, tasks)"),
)


def c_group(ob: str, fl: str, fn: str) -> str:
    """The layer a C function belongs to."""
    if "orjson" in ob:
        return "orjson"
    if "httptools" in ob:
        return "httptools"
    if "speedups" in ob:
        return "websocket mask (C)"
    if "_asyncio" in ob:
        return "asyncio C (futures, tasks)"
    if "libc" in ob or "ld-linux" in ob:
        return "libc (malloc, memcpy)"
    if "python" in ob or "libpython" in ob:
        for name, group in _PY_FILES:
            if fl.endswith(name):
                return group
        return "interpreter: " + fl.rsplit("/", 1)[-1]
    return "other C"


def c_profile(small: Path, large: Path, n: int) -> dict[str, float]:
    """Instructions per operation by C layer: (large run - small run) / 2n."""
    groups: dict[str, float] = defaultdict(float)
    for sign, path in ((-1, small), (1, large)):
        for (ob, fl, fn), cost in parse_callgrind(path).items():
            groups[c_group(ob, fl, fn)] += sign * cost / (2 * n)
    return dict(groups)


def py_group(filename: str, name: str) -> str:
    """The layer of a function as cProfile names it."""
    if filename == "~":
        for lib in ("orjson", "httptools", "_asyncio"):
            if lib in name:
                return f"C called from Python: {lib}"
        if "write" in name or "join" in name or "encode" in name:
            return "C called from Python: bytes/str/write"
        return "C called from Python: other builtins"
    path = filename.replace(os.sep, "/")
    if "/aiosio/" in path:
        module = path.rsplit("/aiosio/", 1)[1].removesuffix(".py").replace("/", ".")
        return f"aiosio.{module}"
    if "/benchmarks/" in path:
        return "harness (in-memory transport, client frames)"
    if "/asyncio/" in path:
        return "asyncio (Python)"
    return "other Python"


def _stats(name: str, ops: int) -> pstats.Stats:
    from benchmarks.instructions import run_workload

    profiler = cProfile.Profile(time.thread_time_ns, 1e-9)  # CPU time: no preemption
    profiler.enable()
    run_workload(name, ops)
    profiler.disable()
    return pstats.Stats(profiler)


def py_profile(name: str, n: int) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Shares of own time by layer, and the heaviest functions by inclusive share."""
    from benchmarks.instructions import run_workload

    run_workload(name, n)  # imports and first-call caches, outside both profiles
    n *= PY_SCALE  # wall-clock shares need longer runs than counts do
    runs = [_stats(name, n).stats, _stats(name, 3 * n).stats]  # type: ignore[attr-defined]
    own: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    for sign, stats in ((-1, runs[0]), (1, runs[1])):
        for (filename, line, function), (_, _, tt, ct, _) in stats.items():
            own[py_group(filename, function)] += sign * tt
            short = filename.rsplit("/src/", 1)[-1].rsplit("/lib/python3", 1)[-1]
            inclusive[f"{short}:{line} {function}"] += sign * ct
    total = sum(own.values()) or 1.0
    shares = {group: value / total for group, value in own.items()}
    top = sorted(inclusive.items(), key=lambda item: -item[1])
    # The event loop's own frames (run_forever, _run_once...) are all of it: left out.
    return shares, [(fn, value / total) for fn, value in top if value / total < 0.95][:20]


def io_per_operation(name: str, n: int) -> tuple[float, float]:
    """``(reads, writes)`` per operation: ``data_received`` calls and ``transport.write``
    calls, i.e. the ``recv`` and ``send`` system calls a real socket would make (uvloop
    writes at once when the socket buffer has room). Counted in-process, with the harness
    patched for this run only, so the instruction counts never include the counting."""
    from benchmarks import floor, instructions

    counts = [0, 0]
    write, sends = instructions.MemoryTransport.write, (instructions.Harness, floor.FloorHarness)
    originals = [harness.send for harness in sends]

    def counted_write(self: instructions.MemoryTransport, data: bytes) -> None:
        counts[1] += 1
        write(self, data)

    def counted_send(original: Any) -> Any:
        def send(self: Any, transport: Any, data: bytes) -> None:
            counts[0] += 1
            original(self, transport, data)

        return send

    totals = []
    try:
        setattr(instructions.MemoryTransport, "write", counted_write)  # noqa: B010
        for harness, original in zip(sends, originals, strict=True):
            setattr(harness, "send", counted_send(original))  # noqa: B010
        for ops in (n, 3 * n):
            counts[:] = [0, 0]
            instructions.run_workload(name, ops)
            totals.append(tuple(counts))
    finally:
        setattr(instructions.MemoryTransport, "write", write)  # noqa: B010
        for harness, original in zip(sends, originals, strict=True):
            setattr(harness, "send", original)  # noqa: B010
    (reads, writes), (reads3, writes3) = totals
    return (reads3 - reads) / (2 * n), (writes3 - writes) / (2 * n)


def callgrind_out(module_args: list[str], out: Path) -> None:
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    command += [sys.executable, "-m", "benchmarks.instructions", *module_args]
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-3000:])
        raise SystemExit(f"callgrind failed on {' '.join(module_args)}")


def _rows(groups: dict[str, float], total: float) -> list[str]:
    rows = ["| layer | instructions per op | share |", "| --- | ---: | ---: |"]
    for group, value in sorted(groups.items(), key=lambda item: -item[1]):
        if abs(value) >= total * 0.005:
            rows.append(f"| {group} | {value:,.0f} | {value / total:.1%} |")
    return rows


def profile(name: str) -> str:
    """The report for one workload (``floor-NAME`` and ``app-NAME`` too) as markdown."""
    from benchmarks.instructions import WORKLOADS, base

    n = WORKLOADS[base(name)][1]
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        callgrind_out(["--workload", name, "--ops", str(n)], small)
        callgrind_out(["--workload", name, "--ops", str(3 * n)], large)
        c_groups = c_profile(small, large, n)
    total = sum(c_groups.values())
    reads, writes = io_per_operation(name, n)
    lines = [f"## {name}: {total:,.0f} instructions per operation", ""]
    lines += [
        f"Per operation: {reads:.3g} reads (data_received, a recv each) and {writes:.3g} "
        "writes (transport.write, a send each); kernel time is not in the count.",
        "",
    ]
    lines += ["C level (callgrind, each C function's own instructions):", ""]
    lines += _rows(c_groups, total)
    if name.startswith("floor-"):
        return "\n".join(lines)
    shares, top = py_profile(name, n)
    lines += ["", "Python level (cProfile's own-time shares applied to the count; approximate):"]
    lines += ["", *_rows({group: share * total for group, share in shares.items()}, total)]
    lines += ["", "Heaviest by inclusive time (share of the operation):", ""]
    lines += [f"- {share:.1%} {function}" for function, share in top]
    return "\n".join(lines)
