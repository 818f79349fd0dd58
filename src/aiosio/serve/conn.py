"""What both standalone protocols (HTTP, then WebSocket) share: the transport and the
counted write.

A base class, not a helper: ``_write`` is found on the class as before, with no extra call.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiosio.server.stats import Counters

__all__ = ["Connection", "Timed"]


class Connection(asyncio.Protocol):
    """A TCP connection of the standalone server; writes count into ``stats.bytes_out``."""

    __slots__ = ("stats", "transport")

    stats: Counters
    transport: asyncio.Transport | None

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self.stats.bytes_out += len(data)
            transport.write(data)


class Timed(Connection):
    """A connection with one deadline at a time (``_expired`` is called when it passes).

    One timer handle serves many deadlines: re-arming only moves ``_due`` (a keep-alive
    connection re-arms several times per request), and the handle, when it fires early,
    is set again for the deadline then due. A new handle is made only when the deadline
    comes sooner than the pending one.
    """

    __slots__ = ("_deadline", "_due", "_loop")

    _deadline: asyncio.TimerHandle | None  # fires at or before _due
    _due: float | None  # loop time of the deadline; None when disarmed
    _loop: asyncio.AbstractEventLoop | None

    def _expired(self) -> None:
        raise NotImplementedError

    def _arm(self, delay: float) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        due = self._due = loop.time() + delay
        handle = self._deadline
        if handle is not None:
            if handle.when() <= due:
                return
            handle.cancel()
        self._deadline = loop.call_at(due, self._fire)

    def _disarm(self) -> None:
        self._due = None  # the pending handle, if any, finds nothing due and goes

    def _cancel_timer(self) -> None:
        self._due = None
        handle, self._deadline = self._deadline, None
        if handle is not None:
            handle.cancel()  # it would hold this connection until it fires

    def _fire(self) -> None:
        self._deadline = None
        due = self._due
        if due is None:
            return
        loop = self._loop
        if loop is not None and loop.time() + 0.001 < due:  # uvloop's timers are in ms
            self._deadline = loop.call_at(due, self._fire)
            return
        self._due = None  # it has passed; _expired may arm the next one
        self._expired()
