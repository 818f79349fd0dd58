"""Backpressure as an API: how much a client has not read yet, and what to do about it.

Every connection has an outgoing buffer: the WebSocket's write buffer (standalone), the
queue of the ASGI WebSocket, or the packets waiting for a long-poll. Three marks bound it
(options of :class:`aiosio.Server`):

* ``high_water_mark`` (default: a quarter of the hard limit): above it
  ``socket.writable`` is False and ``await socket.drain()`` waits;
* ``low_water_mark`` (default: a quarter of the high mark): ``drain()`` returns, and the
  sockets' ``drain`` event fires, once the buffer is back under it;
* the hard limit (``4 x max_http_buffer_size``): the connection is closed ("transport
  buffer full"), whatever the policy, when reliable packets alone pass it.

A socket's ``overflow`` policy says what happens to droppable packets above the high mark:
``"close"`` (the default, and the behaviour before this API: they are queued like any
other, until the hard limit closes the connection), ``"drop_volatile"`` (volatile emits
and broadcasts are dropped) or ``"conflate"`` (volatile ones dropped too, and emits made
through ``socket.latest(key)`` held back, only the newest per key, and sent on drain: a
ticker or a cursor that never falls further behind than one value per key). The buffer
belongs to the connection, so the policy and the marks are shared by its namespaces.

Nothing here costs a connection that never falls behind: its :class:`Flow` is made the
first time it passes the high mark, sets a policy or waits for a drain. A broadcast never
waits: it writes to each socket's buffer, and a slow one only drops or queues.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from aiosio.engineio.wire import Wire
from aiosio.exceptions import Disconnected

if TYPE_CHECKING:
    from aiosio.server.session import ServerSession
    from aiosio.server.socket import Socket

__all__ = [
    "POLICIES",
    "Backpressure",
    "Flow",
    "LatestEmitter",
    "Policy",
    "buffered_bytes",
    "drained",
    "flow_of",
    "marks",
    "pause",
]

logger = logging.getLogger("aiosio.backpressure")

Policy = Literal["close", "drop_volatile", "conflate"]
POLICIES: tuple[Policy, ...] = ("close", "drop_volatile", "conflate")


def buffered_bytes(session: ServerSession) -> int:
    """Bytes written to ``session`` and not yet taken by the client's side of the
    connection (about: characters for text), this loop iteration's packets included."""
    ws = session.ws
    if ws is None:
        return session.queued
    # The WebSocket's outbox is not counted as it fills (the hot path): it holds one
    # iteration's packets at most, summed only when asked.
    size = ws.buffered()
    for item in session.outbox:
        data: Any = item.data if type(item) is Wire else item
        size += len(data)
    return size


class Flow:
    """The backpressure state of one connection, made when first needed."""

    __slots__ = ("held", "paused", "policy", "session", "waiters")

    def __init__(self, session: ServerSession) -> None:
        self.session = session
        self.policy: Policy = "close"
        self.paused = False  # passed the high mark since the last drain
        self.waiters: list[tuple[Socket, asyncio.Future[None]]] = []
        self.held: dict[tuple[str, Any], tuple[Socket, str, tuple[Any, ...]]] = {}

    def over(self) -> bool:
        """Whether the buffer is above the high-water mark."""
        return buffered_bytes(self.session) > self.session.engine.high_water_mark

    def drops(self) -> bool:
        """Whether a droppable packet is dropped now (policy, and above the high mark)."""
        return self.policy != "close" and self.over()

    def drained(self) -> None:
        """The buffer may have shrunk: under the low mark, wake the waiters, send what
        was held back and fire ``drain``."""
        session = self.session
        if buffered_bytes(session) > session.engine.low_water_mark:
            return
        was_paused, self.paused = self.paused, False
        waiters, self.waiters = self.waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_result(None)
        held, self.held = self.held, {}
        for socket, event, args in held.values():
            if socket.connected:
                try:
                    socket.emit(event, *args)
                except Exception:  # a reserved name or arguments that cannot be sent
                    logger.exception("a held emit of %r could not be sent", event)
        if was_paused and session.owner is not None:
            for socket in list(session.owner.sockets.values()):
                socket._fire("drain")

    def forget(self, socket: Socket) -> None:
        """``socket`` left: its waiters fail with :class:`Disconnected`, its held values go."""
        kept = []
        for waiter in self.waiters:
            if waiter[0] is socket:
                if not waiter[1].done():
                    waiter[1].set_exception(Disconnected("the socket disconnected"))
            else:
                kept.append(waiter)
        self.waiters = kept
        for key in [key for key, value in self.held.items() if value[0] is socket]:
            del self.held[key]

    async def wait(self, socket: Socket) -> None:
        """Until the buffer is under the low mark (:meth:`Socket.drain`)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append((socket, future))
        self.paused = True
        await future


def marks(options: Mapping[str, Any], hard_limit: int) -> tuple[int, int]:
    """The engine's ``(high_water_mark, low_water_mark)`` from its options.

    Raises:
        ValueError: Unless ``0 <= low <= high <= hard_limit``.
    """
    high = options.get("high_water_mark", hard_limit // 4)
    low = options.get("low_water_mark", high // 4)
    if not 0 <= low <= high <= hard_limit:
        raise ValueError(
            f"the marks must be 0 <= low_water_mark ({low}) <= high_water_mark ({high})"
            f" <= 4 x max_http_buffer_size ({hard_limit})"
        )
    return high, low


def drained(session: ServerSession) -> None:
    """A front door's buffer for ``session`` shrank: the flow, if any, looks."""
    flow = session.flow
    if flow is not None:
        flow.drained()


def flow_of(session: ServerSession) -> Flow:
    """The session's flow, made now if it has none."""
    flow = session.flow
    if flow is None:
        flow = session.flow = Flow(session)
    return flow


def pause(session: ServerSession) -> None:
    """The buffer passed the high mark (the engine saw it at a flush)."""
    flow_of(session).paused = True


class LatestEmitter:
    """``socket.latest(key)``: an emit that, under the ``"conflate"`` policy and above the
    high mark, replaces the value of ``key`` not sent yet instead of queueing one more."""

    __slots__ = ("_key", "_socket")

    def __init__(self, socket: Socket, key: Any) -> None:
        self._socket = socket
        self._key = key

    def emit(self, event: str, *args: Any) -> None:
        """Emit ``event``, or hold it back as the newest value of the key.

        Args:
            event: The event's name.
            *args: Its arguments.
        """
        socket = self._socket
        if not socket.connected:
            return
        flow = socket.conn.session.flow
        if flow is not None and flow.policy == "conflate" and (flow.held or flow.over()):
            # Once something is held, later values are held too: they must not overtake.
            flow.held[(socket.nsp.name, self._key)] = (socket, event, args)
            flow.paused = True
            return
        socket.emit(event, *args)


class Backpressure:
    """The backpressure API of :class:`~aiosio.server.socket.Socket` (a mixin)."""

    __slots__ = ()

    conn: Any
    connected: bool

    @property
    def buffered_bytes(self) -> int:
        """Bytes sent to this client's connection that it has not taken yet (shared by
        the connection's namespaces)."""
        return buffered_bytes(self.conn.session)

    @property
    def writable(self) -> bool:
        """Whether the connection's buffer is at or under the high-water mark (False
        once disconnected): emitting more now only grows the buffer."""
        session = self.conn.session
        return self.connected and buffered_bytes(session) <= session.engine.high_water_mark

    async def drain(self) -> None:
        """Return when the buffer is under the low-water mark (at once if it is writable).

        Raises:
            Disconnected: The socket is, or becomes, disconnected.
        """
        if not self.connected:
            raise Disconnected("the socket is disconnected")
        session = self.conn.session
        if buffered_bytes(session) <= session.engine.high_water_mark:
            return
        await flow_of(session).wait(self)  # type: ignore[arg-type]

    @property
    def overflow(self) -> Policy:
        """What happens to droppable packets above the high mark: ``"close"`` (queued as
        any other; the default), ``"drop_volatile"`` or ``"conflate"`` (see
        :mod:`aiosio.server.backpressure`). Set for the whole connection.

        Raises:
            ValueError: On setting an unknown policy.
        """
        flow = self.conn.session.flow
        return "close" if flow is None else flow.policy

    @overflow.setter
    def overflow(self, policy: Policy) -> None:
        if policy not in POLICIES:
            raise ValueError(f"overflow must be one of {POLICIES}, not {policy!r}")
        flow_of(self.conn.session).policy = policy

    def latest(self, key: Any) -> LatestEmitter:
        """An emit of which, under ``"conflate"``, only the newest unsent value per
        ``key`` is kept while the client is behind (a ticker, a cursor).

        Args:
            key: What the values replace each other by (with the namespace).

        Returns:
            An emitter: ``socket.latest("BTC").emit("price", 1.2)``.
        """
        return LatestEmitter(self, key)  # type: ignore[arg-type]
