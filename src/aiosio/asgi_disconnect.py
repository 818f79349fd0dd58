"""A held long-poll's watch for its client going away, under the ASGI front door.

While the engine holds a GET (nothing to send yet), :class:`~aiosio.asgi.ASGIApp` must
learn at once if the client goes (``http.disconnect``): the session closes then, as on
the standalone server (docs/protocol-notes.md, "One GET and one POST at a time").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiosio._handlers import Suspended, run_eagerly

__all__ = ["DisconnectWatch"]

logger = logging.getLogger("aiosio.asgi")

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class DisconnectWatch:
    """Cancels a held poll's ``answer`` when the client goes away (its body has been read),
    or when receiving fails; ``gone`` says it did. :meth:`stop` ends the watch.

    No task: ``receive()`` is run until it suspends, and resumed from a callback on the
    future it waits on (uvicorn's and most servers' wait on an asyncio future); a task
    per held poll, started and then cancelled, cost two more steps of the event loop.
    A ``receive`` that waits on anything else is finished in a task.
    """

    __slots__ = ("answer", "gone", "receive", "step", "task")

    def __init__(self, receive: Receive, answer: asyncio.Future[Any]) -> None:
        self.receive = receive
        self.answer = answer
        self.gone = False
        self.step: Suspended | None = None  # the receive under way
        self.task: asyncio.Task[None] | None = None
        self._receive_next()

    def _receive_next(self) -> None:
        try:
            while True:
                step = run_eagerly(self.receive())
                if type(step) is Suspended:
                    self._wait(step)
                    return
                if step["type"] == "http.disconnect":
                    break
        except Exception as exc:
            logger.debug("receive failed under a held poll: %r", exc)
        self._fire()

    def _wait(self, step: Suspended) -> None:
        """Resume ``step`` when what it waits on is done."""
        pending = step.pending
        if isinstance(pending, asyncio.Future):
            self.step = step
            pending.add_done_callback(self._resume)
        else:
            self.task = asyncio.ensure_future(self._finish(step))

    def _resume(self, pending: asyncio.Future[Any]) -> None:
        step, self.step = self.step, None
        if step is None:
            return  # stopped
        pending._asyncio_future_blocking = False  # as a task does before it resumes
        try:
            step.pending = step.coro.send(None)  # the future's own __await__ takes its result
        except StopIteration as stop:
            if stop.value["type"] == "http.disconnect":
                self._fire()
            else:
                self._receive_next()
            return
        except (Exception, asyncio.CancelledError) as exc:
            logger.debug("receive failed under a held poll: %r", exc)
            self._fire()
            return
        self._wait(step)  # it waits on something more

    async def _finish(self, step: Suspended) -> None:
        try:
            message = await step
            while message["type"] != "http.disconnect":
                message = await self.receive()
        except asyncio.CancelledError:
            raise  # stopped
        except Exception as exc:
            logger.debug("receive failed under a held poll: %r", exc)
        self._fire()

    def _fire(self) -> None:
        self.gone = True
        self.answer.cancel()  # a given answer stays (cancelling a done future does nothing)

    def stop(self) -> None:
        step, self.step = self.step, None
        if step is not None:
            step.pending.remove_done_callback(self._resume)
            step.coro.close()
        if self.task is not None:
            self.task.cancel()
