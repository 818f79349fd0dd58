"""A socket's packet middlewares, and what becomes of a packet refused on the way.

A mixin of :class:`~aiosio.server.socket.Socket`, kept apart from the emit and dispatch
code. ``socket.use(middleware)`` adds a function that sees each incoming event as
``[event, *args]`` before its handlers: it may change the list in place, and raising
refuses the event (the socket's ``error`` handlers get the exception). A payload that does
not fit a typed handler's (or a typed middleware's) annotations is refused too: its ack, if
the client asked for one, answers the error, and otherwise the ``error`` handlers get it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiosio._handlers import PACKET, HandlerSpec, inspect_handler
from aiosio.server.socket_part import SocketPart
from aiosio.typed.validation import InvalidPayload

__all__ = ["PacketMiddlewares"]

logger = logging.getLogger("aiosio.socket")


class PacketMiddlewares(SocketPart):
    """Mixin of :class:`~aiosio.server.socket.Socket`: its packet middlewares."""

    __slots__ = ()

    if TYPE_CHECKING:
        _middlewares: list[HandlerSpec]

        def dispatch(self, data: list[Any], ack_id: int | None) -> None:
            """Socket's: run the handlers of one event."""

        def _send_ack(self, ack_id: int, args: list[Any], event: Any) -> None: ...

    def use(self, middleware: Callable[..., Any]) -> Callable[..., Any]:
        """Add a packet middleware: ``middleware(packet)`` with ``packet = [event, *args]``.

        Middlewares run in the order they were added, before the event's handlers. One may
        change the list in place; raising refuses the packet, and the socket's ``error``
        handlers get the exception; an annotated packet is checked (typed events).

        Args:
            middleware: A function or a coroutine function of one argument.

        Returns:
            The middleware, so that ``use`` works as a decorator.
        """
        self._middlewares.append(inspect_handler(middleware, payload_from=PACKET))
        return middleware

    def _run_middlewares(self, data: list[Any], ack_id: int | None) -> None:
        for index, spec in enumerate(self._middlewares):
            try:
                result = spec.call([data])
            except Exception as exc:
                self._emit_error(exc, data, ack_id)
                return
            if spec.is_async:
                self.conn.spawn(self._run_middlewares_async(result, index, data, ack_id))
                return
        self.dispatch(data, ack_id)

    async def _run_middlewares_async(
        self, pending: Any, index: int, data: list[Any], ack_id: int | None
    ) -> None:
        try:
            await pending
            for spec in self._middlewares[index + 1 :]:
                result = spec.call([data])
                if spec.is_async:
                    await result
        except Exception as exc:
            self._emit_error(exc, data, ack_id)
            return
        if self.connected:
            self.dispatch(data, ack_id)

    def _emit_error(self, error: Exception, data: list[Any], ack_id: int | None) -> None:
        if isinstance(error, InvalidPayload):  # from a typed packet middleware's check
            return self._invalid(error, ack_id, data[0])
        handlers = self._handlers.get("error")
        if not handlers:
            self.conn.log_once(
                logger,
                ("refused", self.nsp.name),
                "packet middleware refused a packet of %s: %s",
                self.id,
                error,
                level=logging.WARNING,
            )
        for spec in handlers or ():
            self._call(spec, [error], None)

    def _invalid(self, invalid: InvalidPayload, ack_id: int | None, event: Any) -> None:
        """A payload did not fit its handler's annotations: the handler was not called.

        The ack (if asked for) answers ``invalid.answer()`` or what ``io.on_invalid``'s
        hook returns; without an ack, the socket's ``error`` handlers get ``invalid``.
        """
        invalid.event = event
        self.conn.log_once(
            logger,
            ("invalid payload", event),
            "invalid payload of event %r from %s: %s",
            event,
            self.id,
            invalid,
            level=logging.WARNING,
            exc_info=False,
        )
        answer: Any = None
        hook = self.nsp.server.invalid_hook
        if hook is not None:
            try:
                answer = hook(self, invalid)
            except Exception:
                self.conn.log_once(logger, hook, "on_invalid hook %r failed", hook)
        if ack_id is not None:
            self._send_ack(ack_id, [invalid.answer() if answer is None else answer], event)
        else:
            for spec in self._handlers.get("error") or ():
                self._call(spec, [invalid], None)
