"""Users: ``socket.user = "u42"`` ties a socket to an application's user id.

A user is a room of its own, ``user_room("u42")``: every socket of the user joins it, so
``io.to_user``, ``io.user_sockets`` and the disconnections reach the user's sockets on
every server of a cluster through the operations the adapters already carry (a Node
server of a mixed cluster treats it as any room). A disconnection with a reason, a
revocation and the other servers' share of them travel as a server-side emit named
:data:`CONTROL`, which nobody on a Node server listens to.

Also here: what a socket carries besides its id (:class:`SocketExtras`: user, presence
info, the expiry of its credentials, its reauthentications) and the reauthentication
itself (``on_reauthenticate`` middlewares, bounded per socket).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiosio._handlers import HandlerSpec
from aiosio.exceptions import ConnectionRefused, InvalidState
from aiosio.socketio.packets import DISCONNECT, Packet

if TYPE_CHECKING:
    from aiosio.server.namespace import Namespace
    from aiosio.server.socket import Socket

__all__ = [
    "AUTH_EXPIRED",
    "CONTROL",
    "MAX_USER_LENGTH",
    "SocketExtras",
    "UserFeatures",
    "user_room",
]

logger = logging.getLogger("aiosio.users")

USER_ROOM_PREFIX = "aiosio:user:"
CONTROL = "aiosio:control"
"""The server-side event servers send each other for users (``[CONTROL, kind, ...]``)."""
AUTH_EXPIRED = "auth expired"
MAX_USER_LENGTH = 256
REAUTH_BURST = 5
"""Reauthentications a socket may ask for within :data:`REAUTH_WINDOW` seconds."""
REAUTH_WINDOW = 60.0


def user_room(user: str) -> str:
    """The room every socket of ``user`` is in."""
    return USER_ROOM_PREFIX + user


def is_user_room(room: str) -> bool:
    return room.startswith(USER_ROOM_PREFIX)


def check_user(user: Any) -> str | None:
    """A valid user id (a non-empty string of at most 256 characters), or None.

    Raises:
        TypeError: When ``user`` is not a string or None.
        ValueError: When it is empty or too long.
    """
    if user is None:
        return None
    if not isinstance(user, str):
        raise TypeError(f"socket.user must be a string, not {type(user).__name__}")
    if not user or len(user) > MAX_USER_LENGTH:
        raise ValueError(f"socket.user must be 1 to {MAX_USER_LENGTH} characters")
    return user


@dataclass(slots=True)
class SocketExtras:
    """Per-socket state of users, presence and reauthentication (None until used)."""

    user: str | None = None
    presence_info: Any = None
    expires_at: float | None = None
    expiry: asyncio.TimerHandle | None = None
    reauth_times: deque[float] = field(default_factory=deque)
    reauth_running: bool = False

    def cancel(self) -> None:
        """Cancel the timer of the credentials' expiry, if one runs."""
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None


def set_user(socket: Socket, user: str | None) -> None:
    """``socket.user = user``: move the socket to the user's room (at once when it is
    connected, else when it connects) and, with presence, count it for that user."""
    user = check_user(user)
    extras = socket.ensure_extras()
    old = extras.user
    if old == user:
        return
    extras.user = user
    if not socket.connected:
        return
    presence = socket.nsp.presence
    if presence is not None:
        presence.user_changed(socket, old, user)
    adapter = socket.nsp.adapter
    if old is not None:
        adapter.delete(socket.id, user_room(old))
    if user is not None:
        adapter.add_all(socket.id, [user_room(user)])


def set_presence_info(socket: Socket, info: Any) -> None:
    """``socket.presence_info = info``, checked against the namespace's ``max_info``.

    Raises:
        InvalidState: Presence is off (``Server(presence=...)``).
        ValueError: ``info`` is not JSON or is too large.
    """
    presence = socket.nsp.presence
    if presence is None:
        raise InvalidState("presence is off: create the server with presence=True")
    socket.ensure_extras().presence_info = presence.set_info(socket, info)


def connected(socket: Socket) -> None:
    """A socket with a user or an expiry set before it connected (in a middleware):
    join the user's room and arm the expiry now."""
    extras = socket.extras
    if extras is None:
        return
    if extras.user is not None:
        socket.nsp.adapter.add_all(socket.id, [user_room(extras.user)])
    if extras.expires_at is not None and extras.expiry is None:
        set_expiry(socket, extras, extras.expires_at)


class UserFeatures:
    """Mixin of :class:`~aiosio.server.socket.Socket`: its user, presence info and the
    expiry of its credentials (all kept in one ``extras`` slot, None until used)."""

    __slots__ = ()

    if TYPE_CHECKING:
        extras: SocketExtras | None

    def ensure_extras(self) -> SocketExtras:
        """The socket's users, presence and credentials state, made on first use.

        Returns:
            The socket's :class:`SocketExtras`, the same object on every call.
        """
        extras = self.extras
        if extras is None:
            extras = self.extras = SocketExtras()  # type: ignore[misc]
        return extras

    @property
    def user(self) -> str | None:
        """The application's id of this socket's user (None: anonymous). Setting it puts
        the socket in the user's room, so that ``io.to_user``, ``io.disconnect_user`` and
        ``io.revoke`` reach it on every server, and presence counts it for that user."""
        return None if self.extras is None else self.extras.user

    @user.setter
    def user(self, user: str | None) -> None:
        set_user(self, user)  # type: ignore[arg-type]

    @property
    def presence_info(self) -> Any:
        """What presence shows of this socket's user (JSON, at most ``max_info`` bytes:
        a larger one raises ValueError)."""
        return None if self.extras is None else self.extras.presence_info

    @presence_info.setter
    def presence_info(self, info: Any) -> None:
        set_presence_info(self, info)  # type: ignore[arg-type]

    @property
    def auth_expires_at(self) -> float | None:
        """When the credentials expire (seconds since the epoch, as ``time.time()``): the
        socket is disconnected then with the reason ``"auth expired"``, unless a
        reauthentication sets a later time. None: never."""
        return None if self.extras is None else self.extras.expires_at

    @auth_expires_at.setter
    def auth_expires_at(self, when: float | None) -> None:
        set_expiry(self, self.ensure_extras(), when)  # type: ignore[arg-type]


def on_join(nsp: Namespace, room: str, sid: str) -> None:
    """A ``join-room`` handler of every namespace. A socket joining its own room has just
    connected: a user or an expiry set before (in a middleware) takes effect. A recovered
    socket joining its user's room again gets its user back (recovery skips, by default,
    the middlewares that set it); ``auth_expires_at`` is not kept: servers that need it
    run the middlewares on recovery (``skip_middlewares=False``)."""
    if room == sid:
        socket = nsp.sockets.get(sid)
        if socket is not None and socket.extras is not None:
            connected(socket)
        return
    if not is_user_room(room):
        return
    socket = nsp.sockets.get(sid)
    if socket is None or not socket.recovered or socket.user is not None:
        return
    user = room[len(USER_ROOM_PREFIX) :]
    socket.ensure_extras().user = user
    if nsp.presence is not None:
        nsp.presence.user_changed(socket, None, user)


# -- disconnecting ------------------------------------------------------------------------


def disconnect_with_reason(socket: Socket, reason: str) -> None:
    """Disconnect ``socket`` from its namespace; its ``disconnect`` handlers get
    ``reason`` (the client sees "io server disconnect": the protocol carries no reason)."""
    if socket.connected:
        socket.write_packet(Packet(DISCONNECT, socket.nsp.name))
        socket.close(reason)


def disconnect_local_user(nsp: Namespace, user: str, reason: str) -> int:
    """Disconnect this server's sockets of ``user`` in ``nsp``; how many there were."""
    sids = nsp.adapter.sockets([user_room(user)])
    for sid in sids:
        socket = nsp.sockets.get(sid)
        if socket is not None:
            disconnect_with_reason(socket, reason)
    return len(sids)


async def disconnect_user(nsp: Namespace, user: str, reason: str) -> None:
    """Disconnect every socket of ``user`` in ``nsp``, on every server."""
    check_user(user)
    disconnect_local_user(nsp, user, reason)
    await nsp.adapter.server_side_emit([CONTROL, "disconnect", user, reason])


def on_control(nsp: Namespace, *args: Any) -> None:
    """Another server's order (``[kind, ...]``), a handler of the namespace's
    :data:`CONTROL` server-side event; malformed ones are ignored."""
    match args:
        case ["disconnect", str(user), str(reason)] if len(user) <= MAX_USER_LENGTH:
            disconnect_local_user(nsp, user, reason[:200])
        case _:
            logger.debug("ignored a control message: %r", args[:1])


# -- credentials --------------------------------------------------------------------------


def set_expiry(socket: Socket, extras: SocketExtras, expires_at: float | None) -> None:
    """Disconnect ``socket`` as "auth expired" at ``expires_at`` (seconds since the
    epoch, as ``time.time()``) unless a reauthentication moves it."""
    extras.cancel()
    extras.expires_at = expires_at
    if expires_at is None or not socket.connected:
        return
    delay = max(0.0, expires_at - time.time())
    loop = asyncio.get_running_loop()
    # A weak reference: the timer must not keep a disconnected socket alive until then.
    extras.expiry = loop.call_later(delay, _expire, weakref.ref(socket))


def _expire(ref: weakref.ref[Socket]) -> None:
    socket = ref()
    if socket is not None:
        disconnect_with_reason(socket, AUTH_EXPIRED)


def reauthenticate(
    socket: Socket, middlewares: list[HandlerSpec], args: list[Any], ack_id: int | None
) -> None:
    """Answer a client's :data:`~aiosio._reauth.REAUTHENTICATE`: run the middlewares on
    the new credentials; accepted ones become ``socket.handshake.auth``.

    Bounded per socket: one at a time, and at most :data:`REAUTH_BURST` per
    :data:`REAUTH_WINDOW` seconds; beyond, refused without running the middlewares.
    """
    auth = args[0] if args else None
    if not isinstance(auth, dict):
        _answer(socket, ack_id, {"ok": False, "message": "auth must be an object"})
        return
    if not middlewares:
        _answer(socket, ack_id, {"ok": False, "message": "reauthentication is not supported"})
        return
    extras = socket.ensure_extras()
    now = time.monotonic()
    times = extras.reauth_times
    while times and times[0] <= now - REAUTH_WINDOW:
        times.popleft()
    if extras.reauth_running or len(times) >= REAUTH_BURST:
        _answer(socket, ack_id, {"ok": False, "message": "too many reauthentications"})
        return
    times.append(now)
    extras.reauth_running = True
    socket.conn.spawn(_run(socket, extras, middlewares, auth, ack_id))


async def _run(
    socket: Socket,
    extras: SocketExtras,
    middlewares: list[HandlerSpec],
    auth: dict[str, Any],
    ack_id: int | None,
) -> None:
    try:
        for spec in middlewares:
            result = spec.call([socket, auth])
            if spec.is_async:
                await result
    except ConnectionRefused as exc:
        _answer(socket, ack_id, {"ok": False, "message": exc.message, "data": exc.data})
        return
    except Exception as exc:
        _answer(socket, ack_id, {"ok": False, "message": str(exc) or type(exc).__name__})
        return
    finally:
        extras.reauth_running = False
    socket.handshake.auth = auth
    _answer(socket, ack_id, {"ok": True})


def _answer(socket: Socket, ack_id: int | None, answer: dict[str, Any]) -> None:
    if ack_id is not None:
        socket._send_ack(ack_id, [answer], "reauthenticate")
