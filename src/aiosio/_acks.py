"""Acknowledgements waited for under asyncio, shared by the server's Socket and the
client's Outbox: the sans-I/O :class:`~aiosio.socketio.session.AckTable` with one timer,
armed for the earliest deadline (not a timer per ack).

The table's own methods (``add``, ``settle``) are inherited as they are: emitting and
answering call them directly, with no layer added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiosio.socketio.session import AckTable, PendingAck

__all__ = ["Expired", "TimedAcks", "settle_future"]

Expired = Callable[[list[tuple[int, PendingAck]]], None]
"""Told the acks whose deadline has passed (their callbacks are its to call)."""


class TimedAcks(AckTable):
    """An :class:`AckTable` and the one timer of its deadlines."""

    __slots__ = ("timer",)

    def __init__(self, first_id: int = 0) -> None:
        super().__init__(first_id)
        self.timer: asyncio.TimerHandle | None = None

    def add_timed(
        self, ack_id: int, callback: Callable[..., Any], timeout: float, on_expired: Expired
    ) -> None:
        """Wait for an answer until ``timeout`` seconds from now (the callback is
        error-first); ``on_expired`` gets the acks that time out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self.add(ack_id, callback, True, deadline):
            self._arm(loop, deadline, on_expired)

    def disarm(self) -> None:
        """Cancel the timer (nothing left to wait for, or giving up on all)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float, on_expired: Expired) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = loop.call_at(deadline, self._expired, deadline, on_expired)

    def _expired(self, deadline: float, on_expired: Expired) -> None:
        # The loop may run a timer a clock resolution early: its own deadline has passed.
        self.timer = None
        loop = asyncio.get_running_loop()
        on_expired(self.expire(max(deadline, loop.time())))
        following = self.next_deadline()  # callbacks may have armed one meanwhile
        timer = self.timer
        if following is not None and (timer is None or timer.when() > following):
            self._arm(loop, following, on_expired)


def settle_future(future: asyncio.Future[Any], error: BaseException | None, *answer: Any) -> None:
    """The error-first ack callback of ``emit_with_ack`` on both sides, bound to its future
    with :func:`functools.partial`: the future gets the error, or the answer (None for no
    argument, the argument for one, a tuple for several). Settled once; later calls are
    ignored."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(None if not answer else answer[0] if len(answer) == 1 else answer)
