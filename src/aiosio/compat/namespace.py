"""Class-based namespaces: python-socketio's ``AsyncNamespace`` and ``AsyncClientNamespace``.

A subclass's ``on_<event>`` methods are its handlers. Every event goes through
:meth:`AsyncNamespace.trigger_event`, which an application may override (to log or
guard every event, as python-socketio documents). The other methods are the server's (or
client's) with this namespace filled in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiosio.compat.client import AsyncClient
from aiosio.compat.handlers import Handler, in_namespace, settle
from aiosio.compat.operations import SidOperations

if TYPE_CHECKING:
    from aiosio.compat.server import AsyncServer

__all__ = ["AsyncClientNamespace", "AsyncNamespace"]

_OPTIONAL_TAIL = frozenset({"connect", "disconnect"})  # their last arguments are optional


class _BaseNamespace:
    """A namespace as a class: its ``on_<event>`` methods are its handlers, and its other
    methods are those of its server (or client), ``namespace`` defaulting to this one."""

    def __init__(self, namespace: str | None = None) -> None:
        """Name the namespace; the server (or client) is set when it is registered.

        Args:
            namespace: The namespace's name; None means ``/``.
        """
        self.namespace = namespace or "/"

    def events(self) -> list[str]:
        """The events this class handles: its ``on_<event>`` methods.

        Returns:
            The event names.
        """
        return [name[3:] for name in dir(type(self)) if name.startswith("on_") and len(name) > 3]

    def handlers(self) -> dict[str, Handler]:
        """One handler per event, each through :meth:`trigger_event`.

        Returns:
            The handlers by event name.
        """
        return {
            event: Handler(_trigger(self, event), is_async=True, max_args=None)
            for event in self.events()
        }

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Run ``on_<event>(*args)`` (awaited if it is a coroutine function).

        Override to act on every event.

        Args:
            event: The event name.
            *args: The event's arguments (on a server, the sid first).

        Returns:
            What the method returned, which answers the ack; None when there is no such
            method.
        """
        method = getattr(self, "on_" + event, None)
        if method is None:
            return None
        if event in _OPTIONAL_TAIL:
            return await settle(Handler.of(method).fitted(*args))
        return await settle(method(*args))


def _trigger(instance: _BaseNamespace, event: str) -> Callable[..., Any]:
    async def trigger(*args: Any) -> Any:
        return await instance.trigger_event(event, *args)

    return trigger


class AsyncNamespace(_BaseNamespace):
    """A server namespace as a class: ``sio.register_namespace(MyNamespace("/chat"))``."""

    server: AsyncServer  # set by its register_namespace

    emit = in_namespace("server", SidOperations.emit)
    send = in_namespace("server", SidOperations.send)
    call = in_namespace("server", SidOperations.call)
    enter_room = in_namespace("server", SidOperations.enter_room)
    leave_room = in_namespace("server", SidOperations.leave_room)
    close_room = in_namespace("server", SidOperations.close_room)
    rooms = in_namespace("server", SidOperations.rooms)
    get_session = in_namespace("server", SidOperations.get_session)
    save_session = in_namespace("server", SidOperations.save_session)
    session = in_namespace("server", SidOperations.session)
    disconnect = in_namespace("server", SidOperations.disconnect)


class AsyncClientNamespace(_BaseNamespace):
    """A client namespace as a class: ``client.register_namespace(MyNamespace("/chat"))``."""

    client: AsyncClient  # set by its register_namespace

    emit = in_namespace("client", AsyncClient.emit)
    send = in_namespace("client", AsyncClient.send)
    call = in_namespace("client", AsyncClient.call)
    disconnect = in_namespace("client", AsyncClient.disconnect)
