"""Garbage-collection pauses with thousands of idle connections, and the freezer that
keeps them flat.

The clients run in a process of their own (``tests/server/idle_clients.py``), over real
sockets: this process holds only the server's side of each connection. Pauses are timed
with ``gc.callbacks`` around full (generation 2) collections, and what such a collection
walks is counted with ``gc.get_objects()`` (the objects not frozen).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import aiosio
from aiosio.server.collector import Freezer, freeze_after_startup
from tests.support.waits import within

# A full collection walks about 50 objects per idle connection: 2,000 connections make
# them the bulk of the heap (about 100,000 walked objects before the freezer's step). What
# the test proves holds per connection and needs no more of them: after the step not one
# object per connection is walked (counted, whatever the machine's speed), and every
# socket is freed when its client goes. 10,000 took five times as long and proved no more.
CONNECTIONS = 2_000


@contextmanager
def full_collection_pauses() -> Iterator[list[float]]:
    """The durations (seconds) of the full collections made inside the block."""
    pauses: list[float] = []
    started = 0.0

    def timing(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if info["generation"] != 2:
            return
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started)

    gc.callbacks.append(timing)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(timing)


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Whatever a test froze is given back to the collector afterwards."""
    yield
    gc.unfreeze()


def frozen(thing: object) -> bool:
    """Whether ``thing`` is in the permanent generation (tracked, in no generation)."""
    return gc.is_tracked(thing) and not any(found is thing for found in gc.get_objects())


def test_a_step_freezes_what_is_new_and_every_nth_unfreezes_all(unfrozen: None) -> None:
    freezer = Freezer(60.0, full_every=3)
    gc.unfreeze()
    freezer.step()
    kept = [[1], [2]]  # new long-lived objects
    assert not frozen(kept[0])
    freezer.step()
    assert frozen(kept[0]) and frozen(kept)
    gc.unfreeze()
    newer = [3]
    freezer.step()  # the third: everything was unfrozen, collected, frozen again
    assert frozen(newer) and freezer.cycles == 3


class Counting(Freezer):
    """A freezer that tells when its timer made it step."""

    __slots__ = ("stepped",)

    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.stepped = asyncio.Event()

    def step(self) -> None:
        super().step()
        self.stepped.set()


@pytest.mark.parametrize(("interval", "full_every"), [(0, 60), (-1, 60), (1, 0)])
def test_bad_freezer_settings_are_refused(interval: float, full_every: int) -> None:
    with pytest.raises(ValueError):
        Freezer(interval, full_every)


async def test_without_an_interval_nothing_runs() -> None:
    io = aiosio.Server()
    await io.startup()
    try:
        assert io.freezer.interval is None and io.freezer.handle is None
    finally:
        await io.close()


async def test_the_timer_runs_while_the_server_does(unfrozen: None) -> None:
    io = aiosio.Server(gc_freeze_interval=60)
    io.freezer = freezer = Counting(0.01)
    await io.startup()
    try:
        assert freezer.handle is not None
        await within(freezer.stepped.wait(), 5)
    finally:
        await io.close()
    assert freezer.handle is None


async def test_full_collections_stay_short_with_2000_idle_connections(unfrozen: None) -> None:
    io = aiosio.Server(transports=["websocket"], gc_freeze_interval=3600)

    all_gone = asyncio.Event()

    def left(*_: object) -> None:
        if not io.sockets.sockets:
            all_gone.set()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda value: (socket.id, value))  # closes over its socket
        socket.on("disconnect", left)

    port = await io.start("127.0.0.1", 0)
    freeze_after_startup()  # as io.run() does once it listens
    clients = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.server.idle_clients",
        str(port),
        str(CONNECTIONS),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert clients.stdin is not None and clients.stdout is not None
    try:
        assert await within(clients.stdout.readline(), 120) == b"ready\n"
        assert len(io.sockets.sockets) == CONNECTIONS
        with full_collection_pauses() as unfrozen_pauses:
            gc.collect()
        walked = len(gc.get_objects())  # start-up was frozen: the connections, mostly
        assert walked > 10 * CONNECTIONS, walked
        io.freezer.step()  # what the interval's timer does
        still_walked = len(gc.get_objects())
        assert still_walked < CONNECTIONS, still_walked  # no connection is walked any more
        with full_collection_pauses() as pauses:
            for _ in range(3):
                gc.collect()
        longest = max(pauses)
        print(
            f"\n{CONNECTIONS} idle connections: full collection of {walked} objects "
            f"{unfrozen_pauses[0] * 1000:.1f} ms before the freezer's step, "
            f"longest {longest * 1000:.2f} ms after"
        )
        assert longest < 0.05  # generous for a loaded 2-core machine (about 1 ms idle)
        # Frozen, yet freed when the clients go: a connection's cycles are broken.
        watched = [weakref.ref(socket) for socket in io.sockets.sockets.values()]
        clients.stdin.close()
        await within(clients.wait(), 30)
        await within(all_gone.wait(), 60)
        assert [ref for ref in watched if ref() is not None] == []
    finally:
        if clients.returncode is None:
            clients.kill()
            await clients.wait()
        await io.close()
