"""Class-based namespaces: python-socketio's ``AsyncNamespace`` and ``AsyncClientNamespace``.

A subclass's ``on_<event>`` methods are its handlers. Every event goes through
:meth:`AsyncNamespace.trigger_event`, which an application may override (to log or
guard every event, as python-socketio documents). The other methods are the server's (or
client's) with this namespace filled in.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiosio.compat.handlers import Handler, settle

if TYPE_CHECKING:
    from aiosio.compat.client import AsyncClient
    from aiosio.compat.server import AsyncServer

__all__ = ["AsyncClientNamespace", "AsyncNamespace"]

_OPTIONAL_TAIL = frozenset({"connect", "disconnect"})  # their last arguments are optional


class _BaseNamespace:
    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"

    def events(self) -> list[str]:
        """The events this class handles: its ``on_<event>`` methods."""
        return [name[3:] for name in dir(type(self)) if name.startswith("on_") and len(name) > 3]

    def handlers(self) -> dict[str, Handler]:
        """One handler per event, each through :meth:`trigger_event`."""
        return {
            event: Handler(_trigger(self, event), is_async=True, max_args=None)
            for event in self.events()
        }

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Run ``on_<event>(*args)`` (awaited if it is a coroutine function); its return
        value answers the ack. Override to act on every event."""
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

    server: AsyncServer

    def _set_server(self, server: AsyncServer) -> None:
        self.server = server

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        await self.server.emit(
            event, data, to, room, skip_sid, namespace or self.namespace, callback
        )

    async def send(
        self,
        data: Any,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        await self.server.send(data, to, room, skip_sid, namespace or self.namespace, callback)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60,
        ignore_queue: bool = False,
    ) -> Any:
        return await self.server.call(event, data, to, sid, namespace or self.namespace, timeout)

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        await self.server.enter_room(sid, room, namespace or self.namespace)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        await self.server.leave_room(sid, room, namespace or self.namespace)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        await self.server.close_room(room, namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        return self.server.rooms(sid, namespace or self.namespace)

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        return await self.server.get_session(sid, namespace or self.namespace)

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        await self.server.save_session(sid, session, namespace or self.namespace)

    @contextlib.asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        async with self.server.session(sid, namespace or self.namespace) as session:
            yield session

    async def disconnect(self, sid: str, namespace: str | None = None) -> None:
        await self.server.disconnect(sid, namespace or self.namespace)


class AsyncClientNamespace(_BaseNamespace):
    """A client namespace as a class: ``client.register_namespace(MyNamespace("/chat"))``."""

    client: AsyncClient

    def _set_client(self, client: AsyncClient) -> None:
        self.client = client

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        await self.client.emit(event, data, namespace or self.namespace, callback)

    async def send(
        self, data: Any, namespace: str | None = None, callback: Callable[..., Any] | None = None
    ) -> None:
        await self.client.send(data, namespace or self.namespace, callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        return await self.client.call(event, data, namespace or self.namespace, timeout)

    async def disconnect(self) -> None:
        await self.client.disconnect()
