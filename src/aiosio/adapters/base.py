"""The adapter contract, mirroring the official ``socket.io-adapter``.

A :class:`Namespace` delegates every multi-socket operation to its adapter: room
membership, broadcasts (encoded once and written to every local recipient), broadcasts with
acknowledgements, and the socket utilities (fetch, join, leave, disconnect). A cluster
adapter forwards the same operations to the other servers and merges their answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiosio.socketio.packets import Packet

if TYPE_CHECKING:
    from aiosio.server.namespace import Namespace
    from aiosio.server.socket import RemoteSocket, Socket

__all__ = ["Adapter", "BroadcastFlags", "BroadcastOptions"]


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Flags of one broadcast; ``timeout`` in seconds."""

    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None


_NO_FLAGS = BroadcastFlags()


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast reaches: sockets in any of ``rooms`` (all when empty), minus
    sockets in any of ``except_`` (room names or socket ids)."""

    rooms: frozenset[str] = frozenset()
    except_: frozenset[str] = frozenset()
    flags: BroadcastFlags = _NO_FLAGS


class Adapter:
    """Base adapter: room bookkeeping is abstract here; :mod:`.memory` implements it.

    Subclasses for clusters override the ``*`` operations to reach other servers, calling
    the local versions (``local_*``) for this server's share.
    """

    def __init__(self, namespace: Namespace) -> None:
        self.namespace = namespace

    async def init(self) -> None:
        """Start (subscribe, connect); called when the namespace is created."""

    async def close(self) -> None:
        """Stop; called when the server closes or the namespace is removed."""

    # -- membership (local) -----------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        raise NotImplementedError

    def delete(self, sid: str, room: str) -> None:
        raise NotImplementedError

    def delete_all(self, sid: str) -> None:
        raise NotImplementedError

    def socket_rooms(self, sid: str) -> set[str] | None:
        raise NotImplementedError

    def sockets(self, rooms: Iterable[str] = ()) -> set[str]:
        """Ids of local sockets in any of ``rooms`` (all local sockets when empty)."""
        raise NotImplementedError

    # -- operations (cluster-wide in cluster adapters) --------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        raise NotImplementedError

    def broadcast_with_ack(
        self,
        packet: Packet,
        options: BroadcastOptions,
        on_count: Callable[..., None],
        on_ack: Callable[[str, list[Any] | None], None],
        on_counted: Callable[[], None],
    ) -> None:
        """Broadcast asking every recipient for an ack.

        ``on_count(count, sids=())`` is called with the number of recipients once per
        server (the local server also names them), and ``on_ack`` with each recipient's
        socket id and answer (None when it disconnected before answering). ``on_counted()``
        is called once, when every server of the cluster has reported its count (or the
        cluster gave up waiting for the missing ones); a cluster adapter calls it later
        than the local count, after the other servers answered.
        """
        raise NotImplementedError

    async def fetch_sockets(self, options: BroadcastOptions) -> list[Socket | RemoteSocket]:
        raise NotImplementedError

    def add_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        raise NotImplementedError

    def del_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        raise NotImplementedError

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        raise NotImplementedError

    async def server_side_emit(self, args: list[Any], *, timeout: float | None = None) -> list[Any]:
        """Emit to the other servers' namespace handlers; with a timeout, gather acks."""
        raise NotImplementedError

    async def server_count(self) -> int:
        """How many servers share this namespace (this one included)."""
        return 1

    @property
    def healthy(self) -> bool:
        """False while the adapter cannot reach the rest of its cluster."""
        return True

    # -- connection state recovery ----------------------------------------------------

    def persist_session(self, session: dict[str, Any]) -> None:
        """Keep a disconnected socket's state for recovery (no-op unless supported)."""

    def restore_session(self, pid: str, offset: str) -> dict[str, Any] | None:
        """The state and missed packets of a recoverable session, or None."""
        return None
