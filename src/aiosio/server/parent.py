"""ParentNamespace: namespaces created on demand for the names that match.

A :class:`ParentNamespace` matches names (a regular expression or a function) and creates
child namespaces on demand, sharing its connection handlers and middlewares; a child is
removed when its last socket leaves (``cleanup_empty_child_namespaces``, on by default).
Its broadcast operator applies every operation to each child namespace.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiosio.server.broadcast import BroadcastOperator, RemoteSocket, _AckCollector
from aiosio.server.namespace import Namespace
from aiosio.server.socket import Socket
from aiosio.socketio.packets import EVENT, Packet

if TYPE_CHECKING:
    from aiosio.server.server import BaseServer as Server

__all__ = ["ParentNamespace"]


class ParentNamespace(Namespace):
    """Namespaces created on demand for names that match (``io.of(re.compile(...))``)."""

    def __init__(
        self,
        server: Server,
        matcher: re.Pattern[str] | Callable[..., bool | Awaitable[bool]],
    ) -> None:
        self._matcher = matcher
        self.children: dict[str, Namespace] = {}
        super().__init__(server, f"/_{id(self)}")

    async def matches(self, name: str, auth: dict[str, Any]) -> bool:
        """Whether a client may create the child namespace ``name``."""
        matcher = self._matcher
        if isinstance(matcher, re.Pattern):
            return matcher.fullmatch(name) is not None
        verdict = matcher(name, auth)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    def matches_now(self, name: str) -> bool | None:
        """A synchronous answer when the matcher is a regular expression."""
        if isinstance(self._matcher, re.Pattern):
            return self._matcher.fullmatch(name) is not None
        return None

    def create_child(self, name: str) -> Namespace:
        """Create and register the child for ``name``, with the parent's middlewares."""
        child = Namespace(self.server, name, parent=self)
        child._middlewares = list(self._middlewares)
        self.share_contracts(child)
        for event in ("connection",):
            for spec in self._handlers.get(event, ()):
                child._handlers.setdefault(event, []).append(spec)
        self.children[name] = child
        self.server.register_namespace(child)
        return child

    def remove_child(self, child: Namespace) -> None:
        """Drop an (empty) child namespace and unregister it from the server."""
        self.children.pop(child.name, None)
        self.server.unregister_namespace(child)

    def _operator(self) -> BroadcastOperator:
        return _ParentOperator(self)


class _ParentOperator(BroadcastOperator):
    """The operations of a parent apply to every child namespace (acks gathered from all)."""

    __slots__ = ()

    def _children(self) -> list[BroadcastOperator]:
        parent = self._nsp
        assert isinstance(parent, ParentNamespace)
        options = self.options
        return [
            BroadcastOperator(
                child, rooms=options.rooms, except_=options.except_, flags=options.flags
            )
            for child in list(parent.children.values())
        ]

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        if callback is not None:
            super().emit(event, *args, callback=callback)  # through _ask
            return
        for operator in self._children():
            operator.emit(event, *args)

    def _ask(self, event: str, args: tuple[Any, ...]) -> _AckCollector:
        children = self._children()
        collector = _AckCollector(self.options.flags.timeout, parts=max(len(children), 1))
        for operator in children:
            child = operator._nsp
            packet = Packet(EVENT, child.name, [event, *args])
            child.adapter.broadcast_with_ack(packet, self.options, collector)
        if not children:
            collector.counted()
        return collector

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        found = await asyncio.gather(*(operator.fetch_sockets() for operator in self._children()))
        return [socket for sockets in found for socket in sockets]

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        for operator in self._children():
            operator.sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        for operator in self._children():
            operator.sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        for operator in self._children():
            operator.disconnect_sockets(close)

    def _derive(self, **changes: Any) -> BroadcastOperator:
        derived = super()._derive(**changes)
        operator = _ParentOperator(self._nsp)
        operator._options = derived.options
        return operator
