"""The emits that reach every socket of a namespace, and the server's for its main one.

Mixins of :class:`~aiosio.server.namespace.Namespace` (``nsp.emit(...)``: a fresh
:class:`~aiosio.server.broadcast.BroadcastOperator` with no room chosen, as Node's
``namespace.emit``) and of :class:`~aiosio.server.server.Server` (``io.emit(...)`` and the
other main-namespace shortcuts: the same call on ``io.sockets``, the namespace ``/``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiosio.exceptions import ReservedEventError
from aiosio.server.broadcast import BroadcastOperator
from aiosio.typed.validation import convert_answers

if TYPE_CHECKING:
    from aiosio.adapters.base import Adapter
    from aiosio.server.broadcast import RemoteSocket
    from aiosio.server.namespace import Namespace
    from aiosio.server.socket import Socket

__all__ = ["MainNamespaceEmits", "NamespaceEmits"]


class NamespaceEmits:
    """Mixin of :class:`~aiosio.server.namespace.Namespace`: emits to all its sockets."""

    if TYPE_CHECKING:
        adapter: Adapter

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self)  # type: ignore[arg-type]

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event to every socket of the namespace.

        Args:
            event: The event name.
            *args: The arguments; bytes travel as binary attachments.
            callback: Called with ``(error, answers)`` (see :meth:`BroadcastOperator.emit`).
        """
        self._operator().emit(event, *args, callback=callback)

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event to every socket of the namespace.

        Args:
            *args: The message's arguments.
        """
        self._operator().emit("message", *args)

    async def emit_with_ack(
        self, event: str, *args: Any, per_socket: bool = False, response: Any = None
    ) -> Any:
        """Emit to every socket of the namespace and gather the acknowledgements.

        As :meth:`BroadcastOperator.emit_with_ack`.

        Args:
            event: The event name.
            *args: The event's arguments.
            per_socket: True returns a dict from socket id to answer instead of a list.
            response: A type each answer is checked and converted to (typed events).

        Returns:
            The answers: a list, or with ``per_socket`` a dict by socket id.
        """
        operator = self._operator()
        return await operator.emit_with_ack(event, *args, per_socket=per_socket, response=response)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Give the next broadcast to the namespace a deadline for its acknowledgements.

        Args:
            seconds: How long the recipients have to answer.

        Returns:
            A broadcast operator for the namespace carrying the deadline.
        """
        return self._operator().timeout(seconds)

    @property
    def local(self) -> BroadcastOperator:
        """Broadcast to this server's sockets of the namespace only (in a cluster)."""
        return self._operator().local

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The namespace's sockets in the cluster.

        Returns:
            This server's sockets, and a ``RemoteSocket`` for each socket of another server.
        """
        return await self._operator().fetch_sockets()

    async def server_side_emit(
        self, event: str, *args: Any, timeout: float | None = None, response: Any = None
    ) -> list[Any]:
        """Emit to this namespace on the other servers of the cluster.

        Args:
            event: The event name.
            *args: The arguments of the event.
            timeout: Wait this long for the other servers' acknowledgements.
            response: A type each answer is checked and converted to (typed events).

        Returns:
            Their answers (an empty list without a timeout).

        Raises:
            InvalidPayload: An answer does not fit ``response``.
            ReservedEventError: ``event`` is a reserved name.
        """
        if event in ("connection", "connect", "new_namespace"):
            raise ReservedEventError(f"{event!r} is a reserved event name")
        answers = await self.adapter.server_side_emit([event, *args], timeout=timeout)
        return answers if response is None else convert_answers(response, answers)


class MainNamespaceEmits:
    """Mixin of :class:`~aiosio.server.server.Server`: the main namespace's emits, users
    and reauthentication, each the same call on ``io.sockets``."""

    if TYPE_CHECKING:
        namespaces: dict[str, Namespace]

        @property
        def sockets(self) -> Namespace:
            """Server's: the main namespace."""

    def _operator(self) -> BroadcastOperator:
        return self.sockets._operator()

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit to every socket of the main namespace, as :meth:`Namespace.emit`.

        Args:
            event: The event name.
            *args: The event's arguments.
            callback: Called once per socket as ``callback(*answer)`` with its acknowledgement;
                None asks for none.
        """
        self.sockets.emit(event, *args, callback=callback)

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event to every socket of the main namespace.

        Args:
            *args: The message's arguments.
        """
        self.sockets.send(*args)

    async def emit_with_ack(
        self, event: str, *args: Any, per_socket: bool = False, response: Any = None
    ) -> Any:
        """Emit to the main namespace and gather the acknowledgements (as
        :meth:`BroadcastOperator.emit_with_ack`).

        Args:
            event: The event name.
            *args: The event's arguments.
            per_socket: True returns a dict from socket id to answer instead of a list.
            response: A type each answer is checked and converted to (typed events).

        Returns:
            The answers: a list, or with ``per_socket`` a dict by socket id.
        """
        main = self.sockets
        return await main.emit_with_ack(event, *args, per_socket=per_socket, response=response)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Give the next broadcast on the main namespace a deadline for its acknowledgements.

        Args:
            seconds: How long the recipients have to answer.

        Returns:
            A broadcast operator for the main namespace carrying the deadline.
        """
        return self.sockets.timeout(seconds)

    @property
    def local(self) -> BroadcastOperator:
        """Broadcast to the main namespace's sockets of this server only (in a cluster)."""
        return self.sockets.local

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The main namespace's sockets across the cluster, as :meth:`Namespace.fetch_sockets`.

        Returns:
            This server's sockets, and a ``RemoteSocket`` for each socket of another server.
        """
        return await self.sockets.fetch_sockets()

    async def server_side_emit(
        self, event: str, *args: Any, timeout: float | None = None, response: Any = None
    ) -> list[Any]:
        """Emit to the main namespace of the other servers of the cluster.

        Args:
            event: The event name (not ``connection``, ``connect`` or ``new_namespace``).
            *args: The event's arguments.
            timeout: Seconds to wait for the other servers' acknowledgements; None asks for
                none.
            response: A type each answer is checked and converted to (typed events).

        Returns:
            The other servers' answers (an empty list without a timeout).
        """
        main = self.sockets
        return await main.server_side_emit(event, *args, timeout=timeout, response=response)

    def to_user(self, user: str) -> BroadcastOperator:
        """Broadcast to every socket of ``user`` (main namespace), on every server.

        Args:
            user: The application's user id (what ``socket.user`` was set to).

        Returns:
            A broadcast operator targeting the user's room.
        """
        return self.sockets.to_user(user)

    async def user_sockets(self, user: str) -> list[Socket | RemoteSocket]:
        """The sockets of ``user`` in the main namespace, on every server.

        Args:
            user: The application's user id.

        Returns:
            Its sockets (a ``RemoteSocket`` for each of another server); an unknown user has
            none.
        """
        return await self.sockets.user_sockets(user)

    async def disconnect_user(self, user: str, reason: str = "server namespace disconnect") -> None:
        """Disconnect the sockets of ``user`` in the main namespace, on every server.

        Args:
            user: The application's user id.
            reason: What the sockets' ``disconnect`` handlers get as the reason.
        """
        await self.sockets.disconnect_user(user, reason)

    async def revoke(self, *, user: str, reason: str = "revoked") -> None:
        """Disconnect every socket of ``user`` in every namespace, on every server.

        Args:
            user: The application's user id (keyword-only: a revocation names whom it ends).
            reason: What the sockets' ``disconnect`` handlers get as the reason.
        """
        for namespace in list(self.namespaces.values()):
            await namespace.disconnect_user(user, reason)

    def on_reauthenticate(self, middleware: Callable[..., Any]) -> Callable[..., Any]:
        """Check the new credentials clients send on the main namespace.

        As :meth:`Namespace.on_reauthenticate`.

        Args:
            middleware: ``middleware(socket, auth)``, sync or async; raising refuses them.

        Returns:
            The middleware, so that this works as a decorator.
        """
        return self.sockets.on_reauthenticate(middleware)
