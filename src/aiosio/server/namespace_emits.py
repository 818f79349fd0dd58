"""The emits that reach every socket of a namespace, and the server's for its main one.

Mixins of :class:`~aiosio.server.namespace.Namespace` (``nsp.emit(...)``: a fresh
:class:`~aiosio.server.broadcast.BroadcastOperator` with no room chosen, as Node's
``namespace.emit``) and of :class:`~aiosio.server.server.Server` (``io.emit(...)`` and the
other main-namespace shortcuts: the same call on ``io.sockets``, the namespace ``/``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from aiosio._forward import carry
from aiosio.exceptions import ReservedEventError
from aiosio.server.broadcast import BroadcastOperator
from aiosio.server.features import Features
from aiosio.typed.validation import convert_answers

if TYPE_CHECKING:
    from aiosio.adapters.base import Adapter
    from aiosio.server.broadcast import RemoteSocket
    from aiosio.server.namespace import Namespace
    from aiosio.server.socket import Socket

__all__ = ["MainNamespaceEmits", "NamespaceEmits", "on_main"]

P = ParamSpec("P")
R = TypeVar("R")


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


def on_main(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
    """``method`` of a namespace as a method of the server, called on its main namespace.

    The forwarder keeps ``method``'s signature (for type checkers, and ``__wrapped__`` for
    :func:`inspect.signature`) and its docstring, so that ``io.emit`` and ``nsp.emit`` are
    written and documented once; a coroutine function stays one.

    Args:
        method: A method of :class:`~aiosio.server.namespace.Namespace` (of a mixin of it).

    Returns:
        The method for the server's class body: ``emit = on_main(NamespaceEmits.emit)``.
    """
    name = method.__name__
    if inspect.iscoroutinefunction(method):

        async def forward_async(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> Any:
            return await getattr(self.sockets, name)(*args, **kwargs)

        forward = cast(Callable[Concatenate[Any, P], R], forward_async)
    else:

        def forward(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return cast(R, getattr(self.sockets, name)(*args, **kwargs))

    return carry(forward, method, "On the server: the same call on its main namespace ``/``.")


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

    emit = on_main(NamespaceEmits.emit)
    send = on_main(NamespaceEmits.send)
    emit_with_ack = on_main(NamespaceEmits.emit_with_ack)
    timeout = on_main(NamespaceEmits.timeout)

    @property
    def local(self) -> BroadcastOperator:
        """Broadcast to the main namespace's sockets of this server only (in a cluster)."""
        return self.sockets.local

    fetch_sockets = on_main(NamespaceEmits.fetch_sockets)
    server_side_emit = on_main(NamespaceEmits.server_side_emit)
    to_user = on_main(Features.to_user)
    user_sockets = on_main(Features.user_sockets)
    disconnect_user = on_main(Features.disconnect_user)

    async def revoke(self, *, user: str, reason: str = "revoked") -> None:
        """Disconnect every socket of ``user`` in every namespace, on every server.

        Args:
            user: The application's user id (keyword-only: a revocation names whom it ends).
            reason: What the sockets' ``disconnect`` handlers get as the reason.
        """
        for namespace in list(self.namespaces.values()):
            await namespace.disconnect_user(user, reason)

    on_reauthenticate = on_main(Features.on_reauthenticate)
