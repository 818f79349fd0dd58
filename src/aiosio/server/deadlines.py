"""The ``connect_timeout`` of every connection of a server, on one timer.

A connection that joins no namespace within ``connect_timeout`` is closed. A timer handle
of its own per connection cost every connect a handle, a copy of the context, a push into
the loop's heap (whose order is kept by Python-level comparisons) and a cancel, and the
cancelled handle stayed in the heap, holding about 200 bytes, until the loop purged it.
The timeout is the same for all, so deadlines come in the order connections do: a queue
of batches (the session ids of connections opened within ``SLACK`` of each other, due
together) and one timer for its head suffice. A connection that joined, or closed, is
simply skipped when its batch comes due; a batch is due up to ``SLACK`` after the first
of its connections would have been (and a connection's deadline at most a millisecond
early, the resolution of uvloop's timers).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["SLACK", "ConnectDeadlines"]

SLACK = 0.05  # seconds a deadline may come late, so that connections share a batch


class ConnectDeadlines:
    """Connections waiting for their first namespace, by deadline."""

    __slots__ = ("_batches", "_expire", "_loop", "_timer")

    def __init__(self, expire: Callable[[str], None]) -> None:
        """Args:
        expire: Called with the session id of each connection whose deadline passed
            (it decides whether the connection is still waiting).
        """
        self._expire = expire
        self._batches: deque[tuple[float, list[str]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, sid: str, timeout: float) -> None:
        """Start the deadline of the connection of session ``sid``.

        Args:
            sid: Its Engine.IO session id.
            timeout: Seconds from now.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a server run again in a new loop: the old timer is dead
            self._loop, self._timer = loop, None
            self._batches.clear()
        due = loop.time() + timeout
        batches = self._batches
        if batches and due <= batches[-1][0]:
            batches[-1][1].append(sid)
            return
        batches.append((due + SLACK, [sid]))
        if self._timer is None:
            self._timer = loop.call_at(due + SLACK, self._run)

    def _run(self) -> None:
        self._timer = None
        batches = self._batches
        loop = asyncio.get_running_loop()
        now = loop.time() + 0.001  # uvloop's timers fire by the millisecond
        while batches and batches[0][0] <= now:
            for sid in batches.popleft()[1]:
                self._expire(sid)
        if batches:
            self._timer = loop.call_at(batches[0][0], self._run)

    def cancel(self) -> None:
        """Forget every deadline (the server is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._batches.clear()
