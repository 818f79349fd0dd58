"""Event listeners of the client-side objects (Manager and Client).

Handlers are inspected once, when registered (docs/design.md, "Handlers"). A coroutine handler
runs eagerly (:func:`aiosio._handlers.run_eagerly`); one that suspends goes on as a task owned
by its :class:`Listeners`; those tasks are user code and are never
cancelled by the client, but their failures are logged, as are those of plain handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextvars import copy_context
from typing import Any

from aiosio._handlers import HandlerSpec, Suspended, run_eagerly
from aiosio._listeners import Handlers
from aiosio.typed.validation import InvalidPayload

__all__ = ["Listeners"]

logger = logging.getLogger("aiosio.client")


class Listeners(Handlers):
    """Handlers by event name (``on``, ``once``, ``off``, ``listeners``), plus the tasks of
    the coroutine handlers they started."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[HandlerSpec]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._invalid: set[str] = set()  # events whose invalid payloads were logged

    def take(self, event: str) -> list[HandlerSpec]:
        """The handlers to call for one occurrence of ``event``; ``once`` ones are removed."""
        specs = self._handlers.get(event)
        if not specs:
            return []
        if any(spec.once for spec in specs):
            self._handlers[event] = [spec for spec in specs if not spec.once]
        return list(specs)

    def fire(self, event: str, *args: Any) -> None:
        """Call every handler of ``event`` with ``args``."""
        for spec in self.take(event):
            self.call(spec, args)

    def call(
        self,
        spec: HandlerSpec,
        args: Sequence[Any],
        ack: Callable[..., None] | None = None,
        on_result: Callable[[Any], None] | None = None,
    ) -> None:
        """Call one handler; ``on_result`` gets its return value (awaited for coroutines).

        A failing handler is logged and never breaks the connection. A payload that does
        not fit the handler's annotations is logged (once per event) and answers the ack,
        if one is asked for, with ``{"error": "invalid_payload", "detail": [...]}``.
        """
        try:
            result = spec.call(list(args), ack)
            if spec.is_async:  # its first step now, as a plain function's (_handlers)
                result = run_eagerly(result, copy_context())
        except InvalidPayload as invalid:
            self._refuse(spec, invalid, ack, on_result)
            return
        except Exception:
            logger.exception("handler %r failed", spec.fn)
            return
        if type(result) is Suspended:
            task = asyncio.get_running_loop().create_task(self._finish(spec, result, on_result))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif on_result is not None:
            on_result(result)

    def _refuse(
        self,
        spec: HandlerSpec,
        invalid: InvalidPayload,
        ack: Callable[..., None] | None,
        on_result: Callable[[Any], None] | None,
    ) -> None:
        event = getattr(spec.fn, "__name__", repr(spec.fn))
        if event not in self._invalid:
            self._invalid.add(event)
            logger.warning("invalid payload for handler %s: %s (logged once)", event, invalid)
        if on_result is not None:
            on_result(invalid.answer())
        elif ack is not None and spec.wants_ack:
            ack(invalid.answer())

    async def _finish(
        self, spec: HandlerSpec, pending: Any, on_result: Callable[[Any], None] | None
    ) -> None:
        try:
            result = await pending
        except Exception:
            logger.exception("handler %r failed", spec.fn)
            return
        if on_result is not None:
            on_result(result)
