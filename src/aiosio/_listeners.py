"""Listener registration, written once for the server's Socket and the client's Client:
``on``, ``once``, ``off``, ``listeners`` and the catch-all ``on_any`` / ``on_any_outgoing``
families. Handlers are inspected once, when registered (docs/design.md, "Handlers").

:class:`Handlers` is a mixin over ``_handlers`` (handlers by event), which its class sets
in ``__init__``; the client's :class:`~aiosio.client.events.Listeners` is one.
:class:`Listening` adds the catch-all families over two more, ``_any`` and
``_any_outgoing``. The dispatch code of each side reads them directly, with no layer
between. ``off_any`` replaces ``_any`` (the server walks it without a copy);
``_any_outgoing`` is changed in place, so a helper may share it (the client's outbox
does) and is walked over a copy on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from aiosio._handlers import HandlerSpec, inspect_handler

__all__ = ["Handlers", "Listening", "remove_handler"]

F = TypeVar("F", bound=Callable[..., Any])


def remove_handler(
    table: dict[str, list[HandlerSpec]],
    event: str | None = None,
    handler: Callable[..., Any] | None = None,
) -> None:
    """Remove the first registration of ``handler`` for ``event``, every handler of an
    event, or every handler (as socket.io's emitters do)."""
    if event is None:
        table.clear()
    elif handler is None:
        table.pop(event, None)
    else:
        specs = table.get(event, [])
        for index, spec in enumerate(specs):
            if spec.fn == handler:  # a new list: a dispatch may be walking the old one
                table[event] = specs[:index] + specs[index + 1 :]
                break


def _register(
    specs: list[HandlerSpec],
    handler: F,
    *,
    once: bool = False,
    first: bool = False,
    checked: bool = False,
) -> F:
    """Inspect ``handler`` and add it to ``specs``, last or ``first``; return it. A
    ``checked`` handler's annotated parameters are validated (aiosio.typed)."""
    spec = inspect_handler(handler, once=once, payload_from=0 if checked else None)
    specs.insert(0 if first else len(specs), spec)
    return handler


def _without(specs: list[HandlerSpec], handler: Callable[..., Any] | None) -> list[HandlerSpec]:
    return [] if handler is None else [spec for spec in specs if spec.fn != handler]


def _functions(specs: Iterable[HandlerSpec]) -> list[Callable[..., Any]]:
    return [spec.fn for spec in specs]


class Handlers:
    """``on``/``once``/``off``/``listeners`` over ``_handlers``, handlers by event."""

    __slots__ = ()

    _handlers: dict[str, list[HandlerSpec]]
    # The events the peer sends, whose annotated handlers are validated, are all but these
    # local ones; None: no event is the peer's (a client Manager's events).
    _local_events: frozenset[str] | None = None

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen to an event: ``socket.on("x", fn)`` or ``@socket.on("x")``.

        The handler gets the event's arguments. When the peer asks for an
        acknowledgement, the first handler's return value answers it, unless the handler
        takes a keyword-only ``ack`` to call itself. Annotated parameters of a handler of
        the peer's events are checked and converted first (docs/typed-events.md).

        Args:
            event: The event name.
            handler: A function or coroutine function; omit it to use this as a decorator.

        Returns:
            The handler, unchanged (so that it stays callable and typed), or a decorator.

        Raises:
            TypeError: If ``handler`` is not callable or its signature cannot be read.
        """
        if handler is None:
            return lambda fn: self.on(event, fn)
        return _register(self._handlers.setdefault(event, []), handler, checked=self._checks(event))

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...
    @overload
    def once(self, event: str, handler: F) -> F: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, for the next occurrence only.

        Args:
            event: The event name.
            handler: Called once, then removed; omit it to use ``once`` as a decorator.

        Returns:
            The handler, or a decorator.
        """
        if handler is None:
            return lambda fn: self.once(event, fn)
        specs = self._handlers.setdefault(event, [])
        return _register(specs, handler, once=True, checked=self._checks(event))

    def _checks(self, event: str) -> bool:
        local = self._local_events
        return local is not None and event not in local

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove one handler, every handler of an event, or every handler.

        Args:
            event: The event; None removes the handlers of every event.
            handler: The handler to remove (its first registration); None removes all.
        """
        remove_handler(self._handlers, event, handler)

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        """The handlers of ``event``, in calling order.

        Args:
            event: The event name.

        Returns:
            The handler functions (a new list).
        """
        return _functions(self._handlers.get(event, ()))


class Listening(Handlers):
    """The handlers and the catch-all listeners of one socket."""

    __slots__ = ()

    _any: list[HandlerSpec]
    _any_outgoing: list[HandlerSpec]

    def on_any(self, handler: F) -> F:
        """Listen to every incoming event: ``handler(event, *args)``.

        Args:
            handler: Called after the event's own handlers.

        Returns:
            The handler, so that this works as a decorator.
        """
        return _register(self._any, handler)

    def prepend_any(self, handler: F) -> F:
        """Like :meth:`on_any`, called before the catch-all handlers already added.

        Args:
            handler: Called as ``handler(event, *args)``.

        Returns:
            The handler.
        """
        return _register(self._any, handler, first=True)

    def off_any(self, handler: Callable[..., Any] | None = None) -> None:
        """Remove a catch-all handler, or all of them.

        Args:
            handler: The handler to remove; None removes every one.
        """
        # A new list: the server walks _any without a copy (the subclass has the slot).
        self._any = _without(self._any, handler)  # type: ignore[misc]

    def listeners_any(self) -> list[Callable[..., Any]]:
        """The catch-all handlers.

        Returns:
            A copy of the list, in calling order.
        """
        return _functions(self._any)

    def on_any_outgoing(self, handler: F) -> F:
        """Like :meth:`on_any`, for every event sent (acks excluded).

        Args:
            handler: ``handler(event, *args)``, called before the event is written.

        Returns:
            The handler, so that this works as a decorator.
        """
        return _register(self._any_outgoing, handler)

    def prepend_any_outgoing(self, handler: F) -> F:
        """Like :meth:`on_any_outgoing`, called before the ones already added.

        Args:
            handler: ``handler(event, *args)``.

        Returns:
            The handler.
        """
        return _register(self._any_outgoing, handler, first=True)

    def off_any_outgoing(self, handler: Callable[..., Any] | None = None) -> None:
        """Remove an outgoing catch-all handler, or all of them.

        Args:
            handler: The handler to remove; None removes every one.
        """
        self._any_outgoing[:] = _without(self._any_outgoing, handler)

    def listeners_any_outgoing(self) -> list[Callable[..., Any]]:
        """The outgoing catch-all handlers.

        Returns:
            A copy of the list, in calling order.
        """
        return _functions(self._any_outgoing)
