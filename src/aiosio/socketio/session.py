"""Socket.IO session state without I/O: the acknowledgements a side waits for, and the
namespaces of one connection.

The server (``server/socket.py``, ``server/connection.py``) and the client
(``client/outbox.py``, ``client/manager.py``) used to keep these tables each in their own
way; both now keep them here, so the rules are written once and tested without sockets.
No clock is read: deadlines are numbers computed by the caller (``now + timeout``), and
:meth:`AckTable.next_deadline` tells the asyncio layer when to arm its one timer.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable, Container
from typing import Any, Generic, TypeVar

from aiosio.socketio.packets import CONNECT, CONNECT_ERROR, DISCONNECT, PacketType

__all__ = ["AckTable", "NamespaceState", "Namespaces", "PendingAck", "Verdict"]

T = TypeVar("T")

_NONE: frozenset[str] = frozenset()
_COMPACT_SLACK = 64  # stale deadlines tolerated beyond twice the pending acks


PendingAck = tuple[Callable[..., Any], bool, float | None]
"""One acknowledgement waited for: ``(callback, error_first, deadline)``.

``error_first`` callbacks get ``(error, *answer)``: ``(None, *answer)`` when answered, and
they are also the ones told about a timeout or a disconnection. A plain tuple: one
allocation per ack, the cheapest there is, since every emit with an ack makes one.
"""


class AckTable:
    """The acknowledgements one side waits for, by ack id.

    Deadlines sit in a heap of ``(deadline, id)``; an answered ack leaves its heap entry
    behind (removing it would cost a search on every answer) and the entry is skipped when
    it comes up. The heap is rebuilt when such stale entries outnumber the live ones, and
    emptied when nothing is pending, so it stays bounded by the acks waited for.

    Ids: :meth:`allocate` counts from 0 for a side that numbers its own acks (the client,
    per socket, as socket.io-client); the server numbers them per namespace, as the
    reference server does, and passes its ids to :meth:`add`.
    """

    __slots__ = ("_deadlines", "_pending", "next_id")

    def __init__(self, first_id: int = 0) -> None:
        self.next_id = first_id
        self._pending: dict[int, PendingAck] = {}
        self._deadlines: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, ack_id: object) -> bool:
        return ack_id in self._pending

    def allocate(self) -> int:
        """The next id of this table's own sequence (0, 1, 2...)."""
        ack_id = self.next_id
        self.next_id = ack_id + 1
        return ack_id

    def add(
        self,
        ack_id: int,
        callback: Callable[..., Any],
        error_first: bool,
        deadline: float | None = None,
    ) -> bool:
        """Wait for the answer to ``ack_id``, until ``deadline`` if given.

        Returns:
            True when ``deadline`` is now the earliest: the caller (re)arms its timer for
            it. A timer armed earlier still fires in time for every later deadline.
        """
        self._pending[ack_id] = (callback, error_first, deadline)
        if deadline is None:
            return False
        heap = self._deadlines
        if len(heap) > 2 * len(self._pending) + _COMPACT_SLACK:
            self._compact()
            heap = self._deadlines
        entry = (deadline, ack_id)
        heapq.heappush(heap, entry)
        return heap[0] is entry

    def settle(self, ack_id: int | None) -> PendingAck | None:
        """The ack answered by ``ack_id``; None for an id that is unknown, already
        answered or expired (the answer is then ignored, as the reference does)."""
        pending = self._pending.pop(ack_id, None) if ack_id is not None else None
        if pending is not None and not self._pending and self._deadlines:
            self._deadlines.clear()
        return pending

    def expire(self, now: float) -> list[tuple[int, PendingAck]]:
        """Remove and return the acks whose deadline is ``now`` or earlier, oldest first."""
        heap = self._deadlines
        pending = self._pending
        expired: list[tuple[int, PendingAck]] = []
        while heap and heap[0][0] <= now:
            deadline, ack_id = heapq.heappop(heap)
            entry = pending.get(ack_id)
            if entry is not None and entry[2] == deadline:
                del pending[ack_id]
                expired.append((ack_id, entry))
        return expired

    def next_deadline(self) -> float | None:
        """The earliest deadline of a pending ack, or None: when to call :meth:`expire`."""
        heap = self._deadlines
        pending = self._pending
        while heap:
            deadline, ack_id = heap[0]
            entry = pending.get(ack_id)
            if entry is not None and entry[2] == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def release_all(self, keep: Container[object] = ()) -> list[PendingAck]:
        """Stop waiting (a disconnection) and return the acks given up, oldest first.

        Acks whose id is in ``keep`` stay: the client keeps those of packets still in its
        send buffer, which will be sent on reconnection and may yet be answered.
        """
        pending = self._pending
        released: list[PendingAck] = []
        if keep:
            for ack_id in [ack_id for ack_id in pending if ack_id not in keep]:
                released.append(pending.pop(ack_id))
            if pending:
                self._compact()
                return released
        else:
            released.extend(pending.values())
            pending.clear()
        self._deadlines.clear()
        return released

    def _compact(self) -> None:
        heap = [
            (entry[2], ack_id) for ack_id, entry in self._pending.items() if entry[2] is not None
        ]
        heapq.heapify(heap)
        self._deadlines = heap


class NamespaceState(enum.Enum):
    """Where a namespace of a connection is; a namespace not in the table is not joined."""

    CONNECTING = "connecting"  # CONNECT sent (client) or received (server), not answered
    CONNECTED = "connected"  # CONNECT answered with a socket id


class Verdict(enum.Enum):
    """What the server does with a packet that does not go to a joined namespace."""

    CONNECT = "connect"  # a new namespace: it is now CONNECTING, run the middlewares
    REFUSE = "refuse"  # a CONNECT over the namespace limit: answer CONNECT_ERROR
    IGNORE = "ignore"  # drop the packet (a DISCONNECT while connecting)
    VIOLATION = "violation"  # the packet breaks Socket.IO v5: close the connection


class Namespaces(Generic[T]):
    """The namespaces of one connection: those connecting, and the joined ones with their
    socket (the server's :class:`~aiosio.server.socket.Socket` or the client's ``Client``).

    Both sides move a namespace through the same states: CONNECT makes it CONNECTING, the
    CONNECT answer CONNECTED (:meth:`join`), and CONNECT_ERROR (:meth:`cancel`),
    DISCONNECT (:meth:`leave`) or the end of the connection (:meth:`clear`) remove it.
    :meth:`receive` is the server's reading of an incoming packet; the client, whose
    server is trusted to answer only what was asked, uses :meth:`request` and
    :meth:`route`.
    """

    __slots__ = ("connected", "connecting", "limit")

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.connected: dict[str, T] = {}
        # Replaced, not changed, and empty most of a connection's life: the shared empty
        # frozenset costs nothing where a set of its own would hold 216 bytes.
        self.connecting: frozenset[str] = _NONE

    def __len__(self) -> int:
        return len(self.connected) + len(self.connecting)

    def state(self, name: str) -> NamespaceState | None:
        """The state of ``name``; None when it is not joined nor joining."""
        if name in self.connected:
            return NamespaceState.CONNECTED
        if name in self.connecting:
            return NamespaceState.CONNECTING
        return None

    def receive(self, kind: PacketType, name: str) -> T | Verdict:
        """Server: the socket a packet of ``kind`` for ``name`` goes to, or the verdict.

        A joined namespace takes every packet but a second CONNECT (or a CONNECT_ERROR,
        which only servers send); one still connecting takes nothing, and a DISCONNECT
        for it is dropped; an unknown namespace takes only CONNECT, which makes it
        CONNECTING unless ``limit`` namespaces are already joined or joining.
        """
        target = self.connected.get(name)
        if target is not None:
            if kind is CONNECT or kind is CONNECT_ERROR:
                return Verdict.VIOLATION
            return target
        if name in self.connecting:
            return Verdict.IGNORE if kind is DISCONNECT else Verdict.VIOLATION
        if kind is not CONNECT:
            return Verdict.VIOLATION
        limit = self.limit
        if limit is not None and len(self.connected) + len(self.connecting) >= limit:
            return Verdict.REFUSE
        self.connecting |= {name}
        return Verdict.CONNECT

    def request(self, name: str) -> None:
        """Client: CONNECT was sent for ``name`` (again, after a refusal or a loss)."""
        self.connected.pop(name, None)
        self.connecting |= {name}

    def route(self, name: str) -> bool:
        """Client: whether a packet for ``name`` concerns this connection (its CONNECT was
        sent); packets for other namespaces are ignored."""
        return name in self.connecting or name in self.connected

    def _connected(self, name: str) -> None:
        """``name`` is connecting no more."""
        if name in self.connecting:
            self.connecting = self.connecting - {name} or _NONE

    def join(self, name: str, socket: T) -> None:
        """The CONNECT of ``name`` was answered: ``socket`` gets its packets."""
        self._connected(name)
        self.connected[name] = socket

    def cancel(self, name: str) -> None:
        """A CONNECT of ``name`` was refused or abandoned; a joined namespace stays."""
        self._connected(name)

    def leave(self, name: str, socket: T | None = None) -> None:
        """``name`` is left (DISCONNECT either way); with ``socket``, only if it is the
        one joined."""
        if socket is not None and self.connected.get(name) is not socket:
            return
        self._connected(name)
        self.connected.pop(name, None)

    def clear(self) -> None:
        """The connection ended: no namespace is joined or joining."""
        self.connected.clear()
        self.connecting = _NONE
