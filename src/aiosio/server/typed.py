"""The server's side of typed events (docs/typed-events.md).

- :class:`TypedNamespace` (a base of :class:`~aiosio.server.namespace.Namespace`):
  ``declare`` (the events the server sends) and ``handle`` (namespace-level handlers of
  client events, ``fn(socket, *args)``, which every socket of the namespace answers and
  which the generated documents describe).
- :class:`CheckedSocket`: the socket class of a namespace whose declared emits are checked
  (``io.check_emits``); a namespace without checks keeps the plain :class:`Socket`, whose
  emit path is unchanged.
- :class:`TypedServer` (a base of :class:`~aiosio.server.server.BaseServer`): the same on
  the main namespace, ``on_invalid``, ``check_emits`` and ``asyncapi_path``.

Nothing here runs for an application that uses none of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack, overload

from aiosio._handlers import HandlerSpec, inspect_handler
from aiosio.exceptions import ReservedEventError
from aiosio.server.http import HTTPRequest, HTTPResponse
from aiosio.server.socket import Socket
from aiosio.socketio.packets import RESERVED_EVENTS
from aiosio.typed.contracts import NO_ACK, Declared, declarations_of
from aiosio.typed.validation import InvalidPayload

if TYPE_CHECKING:
    from aiosio.server.namespace import Namespace
    from aiosio.server.router import Router

__all__ = ["CheckedSocket", "InvalidHook", "TypedNamespace", "TypedServer"]

F = TypeVar("F", bound=Callable[..., Any])

InvalidHook = Callable[[Socket, InvalidPayload], Any]
"""``hook(socket, invalid)``: its return value, unless None, is the acknowledgement sent
instead of ``invalid.answer()``; it may disconnect the socket."""


class _Declaring(TypedDict, total=False):
    """The keyword options of ``declare``, whose defaults :meth:`TypedNamespace.declare`
    sets; the server's ``declare`` passes them on."""

    ack: object
    description: str | None


_NO_DECLARATIONS: Mapping[str, Declared] = MappingProxyType({})
_NO_HANDLERS: Mapping[str, list[HandlerSpec]] = MappingProxyType({})


class CheckedSocket(Socket):
    """A socket whose emits of declared events are checked before they are encoded."""

    __slots__ = ()

    def _emit(self, event: str, args: tuple[Any, ...], *rest: Any, **options: Any) -> None:
        check = self.nsp.check_emit
        if check is not None:
            check(event, args)
        super()._emit(event, args, *rest, **options)


class TypedNamespace:
    """Declarations and namespace-level handlers of one namespace."""

    server: Any
    socket_class: type[Socket] = Socket
    check_emit: Callable[[str, Sequence[Any]], None] | None = None
    declared: Mapping[str, Declared] = _NO_DECLARATIONS
    handled: Mapping[str, list[HandlerSpec]] = _NO_HANDLERS

    def declare(
        self,
        event: str | type,
        *args: object,
        ack: object = NO_ACK,
        description: str | None = None,
    ) -> None:
        """Declare an event the server sends, or every method of a class of events.

        Args:
            event: The event name, or a class whose methods, by name and annotations,
                declare events.
            *args: The types of the event's arguments.
            ack: The type of the client's answer; ``NO_ACK``, the default, declares an event
                with no acknowledgement.
            description: What the event means, for the AsyncAPI document.

        Raises:
            ReservedEventError: For a reserved event name.
            TypeError: If an annotation of a class of events cannot be resolved.
        """
        if isinstance(event, type):
            items = declarations_of(event)
        else:
            items = [Declared(event, args, ack, description=description)]
        declared = dict(self.declared)
        for item in items:
            if item.event in RESERVED_EVENTS:
                raise ReservedEventError(f"{item.event!r} is a reserved event name")
            declared[item.event] = item
        self.declared = MappingProxyType(declared)
        self.refresh_checks()

    def refresh_checks(self) -> None:
        """Check emits here (or stop) as ``server.check_emits`` and the declarations say."""
        if self.declared and self.server.check_emits:
            self.check_emit = self._check_emit
            self.socket_class = CheckedSocket
        else:
            self.check_emit = None
            self.socket_class = Socket

    def _check_emit(self, event: str, args: Sequence[Any]) -> None:
        declared = self.declared.get(event)
        if declared is not None:
            declared.check(args)

    @overload
    def handle(self, event: str) -> Callable[[F], F]: ...
    @overload
    def handle(self, event: str, handler: F) -> F: ...
    def handle(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Handle a client event on every socket of the namespace, its arguments validated.

        ``handler(socket, *args)``: its annotated arguments are checked and converted, and its
        return value answers the ack. A socket's own handlers of the event (``socket.on``) take
        precedence.

        Args:
            event: The event name.
            handler: The function or coroutine function; omit it to use ``handle`` as a
                decorator.

        Returns:
            The handler, or a decorator.

        Raises:
            ReservedEventError: For a reserved or a socket-local event name.
            TypeError: If ``handler`` cannot be a handler or its annotations cannot be read.
        """
        if handler is None:
            return lambda fn: self.handle(event, fn)
        if event in RESERVED_EVENTS or event in ("disconnecting", "error"):
            raise ReservedEventError(f"{event!r} is a reserved event name")
        spec = inspect_handler(handler, payload_from=1)
        handled = dict(self.handled)
        handled[event] = [*handled.get(event, ()), spec]
        self.handled = MappingProxyType(handled)
        return handler

    def share_contracts(self, child: TypedNamespace) -> None:
        """Give a dynamic child namespace this parent's declarations and handlers.

        Args:
            child: The new child namespace.
        """
        child.declared = self.declared
        child.handled = self.handled
        child.refresh_checks()


class TypedServer:
    """Typed events on the server: the main namespace's, and the server-wide options."""

    invalid_hook: InvalidHook | None = None
    _check_emits: bool = bool(sys.flags.dev_mode)
    _asyncapi_path: str | None = None
    namespaces: dict[str, Namespace]
    router: Router

    def on_invalid(self, hook: InvalidHook) -> InvalidHook:
        """Decide what a client gets for a payload that does not fit its handler.

        Args:
            hook: ``hook(socket, invalid)``: its return value (unless None) is the
                acknowledgement sent instead of ``invalid.answer()``; it may log, count or
                ``socket.disconnect()``.

        Returns:
            The hook, so that this works as a decorator.
        """
        self.invalid_hook = hook
        return hook

    @property
    def check_emits(self) -> bool:
        """Check the emits of declared events (on under ``python -X dev``, else off)."""
        return self._check_emits

    @check_emits.setter
    def check_emits(self, value: bool) -> None:
        self._check_emits = bool(value)
        for namespace in list(self.namespaces.values()):
            namespace.refresh_checks()

    def declare(self, event: str | type, *args: object, **options: Unpack[_Declaring]) -> None:
        """Declare an event the server sends, on the main namespace.

        As :meth:`TypedNamespace.declare`, with the same arguments.

        Args:
            event: The event name, or a class whose methods declare events.
            *args: The types of the event's arguments.
            **options: ``ack`` (the type of the client's answer) and ``description``.
        """
        self.namespaces["/"].declare(event, *args, **options)

    @overload
    def handle(self, event: str) -> Callable[[F], F]: ...
    @overload
    def handle(self, event: str, handler: F) -> F: ...
    def handle(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Handle a client event on every socket of the main namespace.

        As :meth:`TypedNamespace.handle`.

        Args:
            event: The event name.
            handler: ``handler(socket, *args)``; omit it to use ``handle`` as a decorator.

        Returns:
            The handler, or a decorator.
        """
        if handler is None:
            return lambda fn: self.handle(event, fn)
        return self.namespaces["/"].handle(event, handler)

    @property
    def asyncapi_path(self) -> str | None:
        """The path that serves the AsyncAPI document (None: not served)."""
        return self._asyncapi_path

    @asyncapi_path.setter
    def asyncapi_path(self, path: str | None) -> None:
        routes = self.router.routes
        if self._asyncapi_path is not None:
            routes.pop(self._asyncapi_path, None)
        self._asyncapi_path = path
        if path is not None:
            routes[path] = self._serve_asyncapi

    def asyncapi(self, *, title: str = "aiosio application", version: str = "1.0.0") -> Any:
        """The AsyncAPI 3.0 document of this server (aiosio.typed.asyncapi).

        Args:
            title: The document's ``info.title``.
            version: The document's ``info.version`` (the application's, not aiosio's).

        Returns:
            The document as a dict, ready for JSON.
        """
        from aiosio.typed.asyncapi import document

        return document(self, title=title, version=version)  # type: ignore[arg-type]

    def _serve_asyncapi(self, request: HTTPRequest) -> HTTPResponse:
        import orjson

        body = orjson.dumps(self.asyncapi())
        return HTTPResponse(200, body, [("content-type", "application/json")])
