"""Socket: one client in one namespace.

Emitting is synchronous: the packet is encoded and appended to the Engine.IO session's
outbox, which leaves in one write at the end of the loop iteration. Incoming events are
dispatched in arrival order, synchronously; a coroutine handler's first step too, and only
one that suspends continues as a task (the only task an event can cost).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from contextvars import copy_context
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import partial
from typing import TYPE_CHECKING, Any

from aiosio._acks import TimedAcks, settle_future
from aiosio._handlers import HandlerSpec, Suspended, ack_args, run_eagerly
from aiosio._listeners import Listening
from aiosio._reauth import REAUTHENTICATE
from aiosio.engineio.wire import Wire
from aiosio.exceptions import AckTimeout, Disconnected, InvalidState, ReservedEventError
from aiosio.server.acks import Unencodable, safe_call
from aiosio.server.admission import EventLimiter
from aiosio.server.backpressure import Backpressure
from aiosio.server.broadcast import SocketEmitter
from aiosio.server.disconnecting import SocketDisconnection
from aiosio.server.middlewares import PacketMiddlewares
from aiosio.server.rooms import SocketRooms
from aiosio.server.users import SocketExtras, UserFeatures
from aiosio.socketio.packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
    Packet,
)
from aiosio.socketio.parsers import AckSlot
from aiosio.socketio.session import PendingAck
from aiosio.typed.validation import InvalidPayload, convert

if TYPE_CHECKING:
    from aiosio.server.connection import Connection
    from aiosio.server.namespace import Namespace

__all__ = ["Handshake", "Socket"]

logger = logging.getLogger("aiosio.socket")


_SOCKET_EVENTS = frozenset({"disconnect", "disconnecting", "drain", "error"})


@dataclass(slots=True)
class Handshake:
    """What the client sent when it connected (Node's ``socket.handshake``)."""

    headers: dict[str, str]
    address: str | None
    xdomain: bool
    secure: bool
    issued: int
    url: str
    query: dict[str, str]
    auth: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> str:
        """When the connection was made, as an HTTP date (Node's ``handshake.time``):
        formatted when asked for, rarely, rather than for every socket (a string of 78
        bytes each, and about 1% of a connect)."""
        return formatdate(self.issued / 1000, usegmt=True)


def new_socket_id() -> str:
    """A fresh socket id: random, never the Engine.IO sid (a credential)."""
    return secrets.token_urlsafe(15)


class Socket(
    SocketRooms, PacketMiddlewares, SocketDisconnection, UserFeatures, Backpressure, Listening
):
    """A client connected to a namespace.

    Sockets are made by the namespace when a client connects (applications receive them in
    their ``connection`` handler), not by applications.

    Args:
        nsp: The namespace the client connects to.
        conn: The Engine.IO connection the client came over (several sockets, one per
            namespace, may share it).
        auth: The ``auth`` payload of the client's CONNECT packet (an empty dict when it
            sent none); it becomes ``handshake.auth``.
        sid: The socket id to take, when connection state recovery restores a socket;
            None draws a fresh random id.

    Attributes:
        id: The socket id (new on each connection, unless recovery brought it back).
        nsp: The namespace the socket is connected to.
        handshake: What the client sent on connecting (``auth``, ``headers``, ``query``...).
        data: The application's own data for this client (a dict; kept by recovery).
        connected: Whether the socket is connected now.
        recovered: Whether connection state recovery restored this socket.
    """

    _local_events = _SOCKET_EVENTS  # the others are the client's: annotated ones are checked

    __slots__ = (
        "__weakref__",
        "_acks",
        "_any",
        "_any_outgoing",
        "_handlers",
        "_limiter",
        "_middlewares",
        "conn",
        "connected",
        "data",
        "extras",
        "handshake",
        "id",
        "nsp",
        "pid",
        "recovered",
    )

    def __init__(
        self, nsp: Namespace, conn: Connection, auth: dict[str, Any], sid: str | None = None
    ) -> None:
        self.nsp = nsp
        self.conn = conn
        self.id = sid or new_socket_id()
        self.handshake = conn.handshake(auth)
        self.data: Any = {}
        self.connected = False
        self.recovered = False
        self.pid: str | None = None
        self.extras: SocketExtras | None = None  # users, presence, credentials
        self._handlers: dict[str, list[HandlerSpec]] = {}
        self._acks = TimedAcks()  # ids come from the namespace, as in the reference server
        self._any: list[HandlerSpec] = []
        self._any_outgoing: list[HandlerSpec] = []
        self._middlewares: list[HandlerSpec] = []
        self._limiter = EventLimiter.for_socket(conn, conn.server.event_rule, nsp.limits)

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.nsp.name} connected={self.connected}>"

    # -- properties -------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The namespace's name."""
        return self.nsp.name

    @property
    def disconnected(self) -> bool:
        """Whether the socket is no longer connected (the opposite of ``connected``)."""
        return not self.connected

    @property
    def pending_acks(self) -> int:
        """How many acknowledgements of this client the socket still waits for."""
        return len(self._acks)

    @property
    def server(self) -> Any:
        """The server this socket belongs to (an :class:`aiosio.Server`)."""
        return self.nsp.server

    # -- emitting ---------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event to this client.

        The packet is encoded at once and leaves with the other writes of this loop
        iteration; nothing is awaited. An emit on a disconnected socket is dropped.

        Args:
            event: The event name; the reserved ones (``connect``, ``disconnect``, ...) are
                refused.
            *args: The event's arguments, any JSON value or ``bytes`` (sent as binary
                attachments).
            callback: Called as ``callback(*answer)`` with the client's acknowledgement; None
                asks for no acknowledgement.

        Raises:
            ReservedEventError: ``event`` is a name Socket.IO or the socket uses itself.
        """
        self._emit(event, args, callback, None, False)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit a ``message`` event (the event name of Socket.IO's ``send``).

        Args:
            *args: The message's arguments.
            callback: Called as ``callback(*answer)`` with the client's acknowledgement; None
                asks for none.
        """
        self._emit("message", args, callback, None, False)

    def _emit(
        self,
        event: str,
        args: tuple[Any, ...],
        callback: Callable[..., Any] | None,
        timeout: float | None,
        volatile: bool,
        error_first: bool = False,
        compress: bool = True,
    ) -> None:
        if event in RESERVED_EVENTS or event in _SOCKET_EVENTS:
            raise ReservedEventError(f"{event!r} is a reserved event name")
        if not self.connected:
            return
        session = self.conn.session
        if volatile and not self.conn.writable():
            if callback is not None and timeout is not None:  # dropped: it will time out
                self._acks.add_timed(self.nsp.next_ack_id(), callback, timeout, self._acks_expired)
            return
        ack_id = None
        if callback is not None:
            ack_id = self.nsp.next_ack_id()
            if timeout is None:
                self._acks.add(ack_id, callback, error_first)
            else:
                self._acks.add_timed(ack_id, callback, timeout, self._acks_expired)
        if self._any_outgoing:
            self._notify_outgoing([event, *args])
        items = self.conn.parser.encode_event(self.nsp.name, (event, *args), ack_id)
        for item in items if compress else _uncompressed(items):
            session.write(item)

    async def emit_with_ack(
        self, event: str, *args: Any, timeout: float | None = None, response: Any = None
    ) -> Any:
        """Emit and wait for the client's acknowledgement.

        Args:
            event: The event name.
            *args: The event's arguments.
            timeout: Seconds to wait for the answer; None waits as long as the socket stays
                connected.
            response: A type the answer must fit (a pydantic model, a dataclass,
                ``list[int]``...); None takes the answer as it comes.

        Returns:
            None for an answer with no argument, the argument for one, a tuple for several;
            with ``response``, that answer checked and converted to it.

        Raises:
            AckTimeout: No answer within ``timeout`` seconds.
            Disconnected: The socket disconnected first.
            InvalidPayload: The answer does not fit ``response``.
            ReservedEventError: ``event`` is a reserved name.
        """
        answer = await self._emit_with_ack(event, args, timeout)
        return answer if response is None else convert(response, answer)

    def _emit_with_ack(
        self,
        event: str,
        args: tuple[Any, ...],
        timeout: float | None,
        compress: bool = True,
        volatile: bool = False,
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.connected:
            future.set_exception(Disconnected("the socket is disconnected"))
            return future
        settle = partial(settle_future, future)
        self._emit(event, args, settle, timeout, volatile, error_first=True, compress=compress)
        return future

    def timeout(self, seconds: float) -> SocketEmitter:
        """Give the next emit's acknowledgement a deadline.

        Args:
            seconds: How long the client has to answer. Past it, a ``callback`` is called with
                an :class:`~aiosio.exceptions.AckTimeout` as its first argument (callbacks of a
                timed emit are error-first) and ``emit_with_ack`` raises it.

        Returns:
            An emitter for this socket carrying the deadline (``emit``, ``emit_with_ack``).
        """
        return SocketEmitter(self, timeout=seconds, volatile=False, compress=True)

    @property
    def volatile(self) -> SocketEmitter:
        """Flags the next emit as droppable when the transport is not ready."""
        return SocketEmitter(self, timeout=None, volatile=True, compress=True)

    def compress(self, compress: bool = True) -> SocketEmitter:
        """Choose whether the next emit may be compressed.

        Args:
            compress: False sends the packet uncompressed whatever the transport negotiated
                (permessage-deflate, HTTP compression); True, the default, leaves it to them.

        Returns:
            An emitter for this socket carrying the flag.
        """
        return SocketEmitter(self, timeout=None, volatile=False, compress=compress)

    @staticmethod
    def _acks_expired(expired: list[tuple[int, PendingAck]]) -> None:
        for _, (callback, _, _) in expired:
            safe_call(callback, AckTimeout("operation has timed out"))

    def _notify_outgoing(self, packet: list[Any]) -> None:
        for spec in list(self._any_outgoing):
            safe_call(spec.call, packet)

    def write_wires(self, wires: list[Wire], packet: Packet, volatile: bool) -> None:
        """Write a broadcast's shared encoded packets (encoded once for all recipients).

        Called by the adapter for each local recipient of a broadcast.

        Args:
            wires: The encoded packet, as the Engine.IO messages to write.
            packet: The packet they encode (the ``on_any_outgoing`` listeners get its data).
            volatile: Whether the broadcast is volatile: then nothing is written while the
                transport is not ready.
        """
        if volatile and not self.conn.writable():
            return
        if self._any_outgoing and packet.data is not None:
            self._notify_outgoing(list(packet.data))
        session = self.conn.session
        for wire in wires:
            session.write(wire)

    def emit_packet_with_ack(
        self,
        packet: Packet,
        on_ack: Callable[[str, list[Any] | None], None],
        compress: bool = True,
        timeout: float | None = None,
        slot: AckSlot | None = None,
    ) -> None:
        """Send a broadcast packet with an ack id of its own (broadcast with acks).

        Args:
            packet: The broadcast's EVENT packet; its id is replaced by one of this socket's.
            on_ack: Called as ``on_ack(socket_id, answer)`` with the answer's arguments, or
                with None when the socket disconnects before answering.
            compress: False sends the packet uncompressed.
            timeout: The broadcast's deadline in seconds; past it the ack is given up without
                calling ``on_ack`` (the broadcast reports the timeout itself). None waits as
                long as the socket stays connected.
            slot: The packet encoded once for every recipient, but for the ack id
                (:meth:`Namespace.prepare_broadcast_with_ack`); None encodes it here.
        """
        ack_id = self.nsp.next_ack_id()
        sid = self.id

        def answered(error: BaseException | None, *answer: Any) -> None:
            if isinstance(error, AckTimeout):
                return
            on_ack(sid, None if error is not None else list(answer))

        if timeout is None:
            self._acks.add(ack_id, answered, True)
        else:
            self._acks.add_timed(ack_id, answered, timeout, self._acks_expired)
        if slot is None:
            self.write_packet(Packet(packet.type, packet.namespace, packet.data, ack_id), compress)
        else:
            self._write_items(slot.items(ack_id), compress)

    def write_packet(self, packet: Packet, compress: bool = True) -> None:
        """Encode and write one packet to this client.

        Args:
            packet: The packet, in this socket's namespace.
            compress: False sends it uncompressed whatever the transport negotiated.
        """
        self._write_items(self.conn.parser.encode(packet), compress)

    def _write_items(self, items: list[str | bytes], compress: bool) -> None:
        session = self.conn.session
        for item in items if compress else _uncompressed(items):
            session.write(item)

    # -- incoming -----------------------------------------------------------------------

    def on_packet(self, packet: Packet) -> None:
        """Handle one packet from the client (the connection checked the namespace).

        Args:
            packet: An EVENT, ACK (binary or not) or DISCONNECT packet of this namespace;
                any other type is ignored.
        """
        kind = packet.type
        if kind is EVENT or kind is BINARY_EVENT:
            if packet.data is not None:
                self._on_event(packet.data, packet.id)
        elif kind is ACK or kind is BINARY_ACK:
            self._on_ack(packet.id, packet.data)
        elif kind is DISCONNECT:
            self.close("client namespace disconnect")

    def _on_event(self, data: list[Any], ack_id: int | None) -> None:
        limiter = self._limiter
        if limiter is not None and limiter.refuses(self, data, ack_id):
            return  # over a rate limit (docs/limits.md)
        # Catch-all listeners hear every incoming event, also one that a packet middleware
        # then refuses, as in the reference server.
        for spec in self._any:
            self._call(spec, data, None)
        if self._middlewares:
            self._run_middlewares(data, ack_id)
        else:
            self.dispatch(data, ack_id)

    def dispatch(self, data: list[Any], ack_id: int | None) -> None:
        """Run the handlers of one event, once the catch-all listeners and middlewares had it.

        Args:
            data: The event as ``[event, *args]``.
            ack_id: The client's ack id, when it asked for an acknowledgement: the first
                handler answers it (its return value, or through its ``ack`` argument).
        """
        if data[0] in _SOCKET_EVENTS:
            # "error" handlers get the exceptions of packet middlewares: a client sending an
            # event of that name must not fire them (nor "disconnect", refused earlier).
            return
        event = data[0]
        handlers = self._handlers.get(event)
        if not handlers:
            if event == REAUTHENTICATE:
                self.nsp.reauthenticate(self, data[1:], ack_id)
                return
            shared = self.nsp.handled.get(event)  # off the hot path: no socket handler
            if shared:
                self._call(shared[0], [self, *data[1:]], ack_id, event)
                for spec in shared[1:]:
                    self._call(spec, [self, *data[1:]], None, event)
            elif not self._any:
                self.nsp.warn_unheard(event)
            return
        args = data[1:]
        for spec in handlers:
            if spec.once:
                self._handlers[event] = [s for s in handlers if s is not spec]
            self._call(spec, args, ack_id, event)
            ack_id = None  # one acknowledgement per packet, from the first handler

    def _call(
        self, spec: HandlerSpec, args: list[Any], ack_id: int | None, event: Any = None
    ) -> None:
        ack = None if ack_id is None or not spec.wants_ack else self._ack_sender(ack_id, event)
        try:
            result = spec.call(args, ack)
            if spec.is_async:  # its first step now, in a context of its own (as a task's)
                result = run_eagerly(result, copy_context())
        except InvalidPayload as invalid:
            self._invalid(invalid, ack_id, event)
            return
        except Exception:
            self.conn.log_once(logger, spec.fn, "handler %r failed", spec.fn)
            return
        if type(result) is Suspended:  # it awaits something: the rest runs as a task
            self.conn.spawn(self._finish_async(spec, result, ack_id, event))
        elif ack_id is not None and not spec.wants_ack:
            self._send_ack(ack_id, ack_args(result), event)

    async def _finish_async(
        self, spec: HandlerSpec, pending: Any, ack_id: int | None, event: Any
    ) -> None:
        try:
            result = await pending
        except Exception:
            self.conn.log_once(logger, spec.fn, "handler %r failed", spec.fn)
            return
        if ack_id is not None and not spec.wants_ack:
            self._send_ack(ack_id, ack_args(result), event)

    def _ack_sender(self, ack_id: int, event: Any) -> Callable[..., None]:
        sent = False

        def ack(*args: Any) -> None:
            nonlocal sent
            if not sent:
                sent = True
                self._send_ack(ack_id, list(args), event)

        return ack

    def _send_ack(self, ack_id: int, args: list[Any], event: Any) -> None:
        """Answer the event ``event``; an answer that cannot be encoded is not sent (the
        client's ack times out) and is logged in one line, once per connection and event."""
        if not self.connected:
            return
        parser = self.conn.parser
        try:
            items = parser.encode_ack(self.nsp.name, args, ack_id)
        except Exception:
            items = None
        if items is None:
            self.conn.log_once(
                logger,
                ("ack encoding", event),
                "cannot answer the ack of event %r: %s",
                event,
                Unencodable(parser, args),
                exc_info=False,
            )
            return
        session = self.conn.session
        for item in items:
            session.write(item)

    def _on_ack(self, ack_id: int | None, data: Any) -> None:
        acks = self._acks
        pending = acks.settle(ack_id)
        if pending is None:
            return  # unknown ids are ignored (the reference does the same)
        if acks.timer is not None and not acks:
            acks.disarm()
        callback, error_first, _ = pending
        args = data or []
        safe_call(callback, *((None, *args) if error_first else args))

    # -- connecting (disconnecting is in server/disconnecting.py) --------------------------

    def connect_packet(self) -> Packet:
        """The CONNECT packet that accepts this socket.

        Returns:
            A CONNECT packet carrying the socket id, and the recovery id (``pid``) when
            connection state recovery is on.
        """
        payload: dict[str, Any] = {"sid": self.id}
        if self.pid is not None:
            payload["pid"] = self.pid
        return Packet(CONNECT, self.nsp.name, payload)


def _uncompressed(items: list[str | bytes]) -> list[Wire]:
    """The packets of an emit flagged ``compress(False)``: never compressed, on any transport."""
    return [Wire(item, compress=False) for item in items]


def check_connected(socket: Socket) -> None:
    if not socket.connected:
        raise InvalidState("the socket is disconnected")
