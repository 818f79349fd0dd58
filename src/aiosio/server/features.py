"""What a namespace offers for users, presence, room history and reauthentication.

A mixin of :class:`~aiosio.server.namespace.Namespace`, so that each feature's methods
live beside the feature (:mod:`.users`, :mod:`.presence`, :mod:`.history`) and the
namespace only calls :meth:`Features.init_features` when it is made.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from aiosio._handlers import HandlerSpec, inspect_handler
from aiosio.exceptions import InvalidState
from aiosio.server import users
from aiosio.server.broadcast import BroadcastOperator
from aiosio.server.history import Histories
from aiosio.server.presence import Presence

if TYPE_CHECKING:
    from aiosio.adapters.base import Adapter
    from aiosio.presence.history import Replay, RoomLog
    from aiosio.presence.store import HistoryStore
    from aiosio.server.broadcast import RemoteSocket
    from aiosio.server.socket import Socket

__all__ = ["Features", "close_features", "start_features"]


class Features:
    """Users, presence, histories and reauthentication of one namespace."""

    if TYPE_CHECKING:
        server: Any
        adapter: Adapter

    presence: Presence | None
    histories: Histories
    reauth_middlewares: list[HandlerSpec]

    def init_features(self) -> None:
        """Set up users, presence, histories and reauthentication for the namespace."""
        settings = self.server.presence_settings
        self.presence = None if settings is None else Presence(self, settings)  # type: ignore[arg-type]
        self.histories = Histories(self)  # type: ignore[arg-type]
        self.reauth_middlewares = []
        # Users: a socket's user once it connects, another server's orders.
        self.on("join-room", partial(users.on_join, self))  # type: ignore[attr-defined,arg-type]
        self.on(users.CONTROL, partial(users.on_control, self))  # type: ignore[attr-defined,arg-type]

    # -- users --------------------------------------------------------------------------

    def to_user(self, user: str) -> BroadcastOperator:
        """Broadcast to every socket of ``user`` (``socket.user``), on every server.

        Args:
            user: The application's user id.

        Returns:
            A broadcast operator targeting the user's room.

        Raises:
            ValueError: ``user`` is None (a user id is needed).
        """
        checked = users.check_user(user)
        if checked is None:
            raise ValueError("to_user needs a user id, not None")
        room = users.user_room(checked)
        return BroadcastOperator(self, rooms=frozenset((room,)))  # type: ignore[arg-type]

    async def user_sockets(self, user: str) -> list[Socket | RemoteSocket]:
        """The sockets of ``user`` on every server.

        Args:
            user: The application's user id.

        Returns:
            Its sockets (a ``RemoteSocket`` for each of another server); an unknown user has
            none.
        """
        return await self.to_user(user).fetch_sockets()

    async def disconnect_user(self, user: str, reason: str = "server namespace disconnect") -> None:
        """Disconnect every socket of ``user`` in this namespace, on every server.

        Args:
            user: The application's user id.
            reason: What the sockets' ``disconnect`` handlers get as the reason.
        """
        await users.disconnect_user(self, user, reason)  # type: ignore[arg-type]

    # -- room history -------------------------------------------------------------------

    def history(
        self,
        room: str,
        max_len: int = 100,
        ttl: float | None = 3600.0,
        store: HistoryStore | None = None,
    ) -> RoomLog:
        """Keep the last events broadcast to ``room``, for ``socket.join(room, rewind=n)``.

        Args:
            room: The room whose broadcasts are kept.
            max_len: How many events are kept; 1 makes a last-value cache.
            ttl: How many seconds an event is kept; None keeps it until newer ones push it
                out.
            store: Where else to keep the events (``RedisHistory``): then a server that
                starts loads them, and every server of a cluster sees the same history.
                None keeps them in this process only.

        Returns:
            The room's log (its events, and the settings it was configured with).
        """
        return self.histories.configure(room, max_len, ttl, store)

    def rewind(self, socket: Socket, room: Any, count: Any) -> Replay:
        """Replay the last ``count`` events of ``room`` to ``socket``, then join it.

        Args:
            socket: The socket to replay to; it must be connected.
            room: One room name with a history (``history(room)``).
            count: How many events to replay.

        Returns:
            What was sent, and whether older events had been trimmed.

        Raises:
            ValueError: ``room`` is not one name, ``count`` is not a positive integer within
                the limit, or the room has no history.
            InvalidState: The socket is not connected yet.
        """
        if not isinstance(room, str):
            raise ValueError("rewind joins one room: give its name")
        if not socket.connected:
            raise InvalidState("a socket rewinds once connected (in a connection handler)")
        replay = self.histories.rewind(socket, room, count)
        self.adapter.add_all(socket.id, [room])
        return replay

    # -- reauthentication ---------------------------------------------------------------

    def on_reauthenticate(self, middleware: Callable[..., Any]) -> Callable[..., Any]:
        """Check new credentials a connected client sends (``client.reauthenticate``).

        Once every middleware accepted, ``socket.handshake.auth`` is ``auth``; a middleware may
        set ``socket.auth_expires_at`` or ``socket.user`` anew.

        Args:
            middleware: ``middleware(socket, auth)``, sync or async; raising (``ConnectionRefused``)
                refuses the credentials, and the socket stays as it was.

        Returns:
            The middleware, so that this works as a decorator.
        """
        self.reauth_middlewares.append(inspect_handler(middleware))
        return middleware

    def reauthenticate(self, socket: Socket, args: list[Any], ack_id: int | None) -> None:
        """Run the reauthentication middlewares on what a client sent, and answer its ack.

        Args:
            socket: The client's socket.
            args: The arguments of its reauthentication event (the new ``auth``).
            ack_id: The ack id the answer goes to.
        """
        users.reauthenticate(socket, self.reauth_middlewares, args, ack_id)


async def start_features(server: Any) -> None:
    """When the server starts, after its adapters: open the stores (again), load the
    histories kept in them."""
    settings = server.presence_settings
    if settings is not None and settings.store is not None:
        settings.store.reopen()
    for namespace in list(server.namespaces.values()):
        await namespace.histories.load()


async def close_features(server: Any) -> None:
    """When the server closes: stop the presence timers, close the stores."""
    for namespace in list(server.namespaces.values()):
        if namespace.presence is not None:
            namespace.presence.close()
        await namespace.histories.close()
    settings = server.presence_settings
    if settings is not None and settings.store is not None:
        await settings.store.close()
