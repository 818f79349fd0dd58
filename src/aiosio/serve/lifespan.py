"""The ASGI lifespan of an application served by ``aiosio serve``.

:class:`Lifespan` runs the app's ``lifespan`` scope in a task of its own: ``startup()``
before the server listens (so no request comes before the app is ready) and
``shutdown()`` after the connections have closed. The ``state`` dict the app fills at
startup is what each request's scope gets a shallow copy of.

Modes, as uvicorn names them: ``on`` (a failing or missing lifespan is an error),
``off`` (never sent), ``auto`` (an app that raises before answering the startup is taken
not to support lifespan, and is served without it; a ``startup.failed`` is still an
error).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

__all__ = ["Lifespan", "LifespanError", "LifespanMode"]

logger = logging.getLogger("aiosio.serve")

LifespanMode = Literal["on", "off", "auto"]
_App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class LifespanError(Exception):
    """The application's startup failed (its message, when it gave one)."""


class Lifespan:
    """One run of an application's lifespan protocol."""

    def __init__(self, app: _App, mode: LifespanMode = "auto") -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._supported = False  # the app answered the startup

    async def startup(self) -> dict[str, Any]:
        """Run the app's startup; return its state.

        Raises:
            LifespanError: The app reported ``lifespan.startup.failed``, or (mode ``on``)
                raised or returned without answering.
        """
        if self.mode == "off":
            return self.state
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._task = asyncio.get_running_loop().create_task(self._main(scope))
        # What the task raises is reported through startup() or shutdown(), not again by
        # asyncio as "never retrieved".
        self._task.add_done_callback(lambda task: task.cancelled() or task.exception())
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._reply()
        if reply is None:
            return self.state  # auto, and the app has no lifespan
        if reply["type"] == "lifespan.startup.failed":
            raise LifespanError(reply.get("message") or "the application's startup failed")
        self._supported = True
        return self.state

    async def shutdown(self) -> None:
        """Run the app's shutdown (if its startup ran); a failure is logged."""
        task = self._task
        if task is None or not self._supported or task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        try:
            reply = await self._reply()
        except LifespanError as exc:
            logger.error("%s", exc)
            return
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            logger.error("the application's shutdown failed: %s", reply.get("message", ""))
        if not task.done():
            await asyncio.wait({task}, timeout=5.0)

    async def _reply(self) -> dict[str, Any] | None:
        """The app's next message, or None if its lifespan task ended first."""
        task = self._task
        assert task is not None
        waiting = asyncio.ensure_future(self._replies.get())
        await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
        if waiting.done():
            return waiting.result()
        waiting.cancel()
        error = task.exception() if not task.cancelled() else None
        if self._supported or self.mode == "on":
            raise LifespanError(
                f"the application's lifespan ended: {error!r}"
                if error is not None
                else "the application's lifespan returned without answering"
            )
        if error is not None:
            logger.info("ASGI lifespan unsupported by the application (%r): going on", error)
        return None

    async def _main(self, scope: dict[str, Any]) -> None:
        await self.app(scope, self._inbox.get, self._send)

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        await self._replies.put(dict(message))
