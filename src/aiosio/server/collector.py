"""Garbage-collection pauses that do not grow with the number of connections.

CPython's full (generation 2) collection walks every container object that is alive: a
server holding 10,000 idle connections, tens of objects each, pauses for tens or hundreds
of milliseconds each time, and every client waits (python-socketio's p99 collapses this
way). aiosio keeps few objects per connection, and this module keeps the long-lived ones
out of the collector's walks with :func:`gc.freeze`:

* :func:`freeze_after_startup` (``io.run()`` calls it once it listens): what imports and
  start-up made lives as long as the process; it is collected once, then frozen.
* :class:`Freezer`, with ``Server(gc_freeze_interval=seconds)``: every interval, the
  objects made since the last one (connections that have settled, mostly) are collected
  then frozen, a pause as long as what is new, not as what is alive. Frozen objects are
  still freed when their last reference goes: aiosio breaks the reference cycles of a
  connection when it closes (handlers included, which often close over their socket), so
  a closed connection's objects go at once. Cycles the application makes and drops are
  only found by a full collection: every ``gc_full_every`` intervals everything is
  unfrozen, collected and frozen again (one long pause, at a time known in advance).

Off by default: a process that embeds aiosio may not want its heap frozen.
"""

from __future__ import annotations

import asyncio
import gc
import logging

__all__ = ["Freezer", "freeze_after_startup"]

logger = logging.getLogger("aiosio.collector")


def freeze_after_startup() -> None:
    """Collect, then freeze everything alive: start-up objects are never walked again."""
    gc.collect()
    gc.freeze()


class Freezer:
    """Collect and freeze new objects every ``interval`` seconds, on one timer (None:
    never; :meth:`start` and :meth:`stop` do nothing)."""

    __slots__ = ("cycles", "full_every", "handle", "interval")

    def __init__(self, interval: float | None, full_every: int = 60) -> None:
        if interval is not None and not interval > 0:
            raise ValueError(f"gc_freeze_interval must be a positive number, not {interval!r}")
        if full_every < 1:
            raise ValueError(f"gc_full_every must be at least 1, not {full_every!r}")
        self.interval = interval
        self.full_every = full_every
        self.cycles = 0
        self.handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Arm the timer in the running loop (again after :meth:`stop`)."""
        self.stop()
        if self.interval is not None:
            self.handle = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def stop(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.cancel()

    def _tick(self) -> None:
        self.start()
        self.step()

    def step(self) -> None:
        """One interval's work: collect and freeze what is new (everything, every
        ``full_every`` steps)."""
        self.cycles += 1
        if self.cycles % self.full_every == 0:
            gc.unfreeze()
        gc.collect()
        gc.freeze()
