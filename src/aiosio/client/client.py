"""Client: one namespace of a Socket.IO server, as socket.io-client's ``Socket``.

A client connects through a :class:`Manager` (one Engine.IO
connection per server, shared by namespaces unless ``force_new``). It sends CONNECT with
its ``auth`` when the connection opens, buffers emits while disconnected (volatile ones
are dropped), and fires ``connect``, ``connect_error`` and ``disconnect`` (with the
reference client's reasons: "io server disconnect", "io client disconnect", "ping timeout",
"transport close", "transport error", "parse error", "forced close").

With ``retries``, emits go through a queue, one in flight at a time, each sent again with
a new ack id until acknowledged or out of tries (socket.io-client 4.6+, at-least-once).
With connection state recovery on the server, the ``pid`` of the CONNECT ack and the last
event offset are sent back when reconnecting, and ``recovered`` says whether it worked.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, Unpack
from urllib.parse import urlsplit

from aiosio._handlers import HandlerSpec, ack_args
from aiosio._listeners import Listening
from aiosio._reauth import REAUTHENTICATE
from aiosio.client.client_options import SOCKET_KEYS, AuthSource, ClientOptions
from aiosio.client.events import Listeners
from aiosio.client.manager import SOCKET_EVENTS, BaseManager, lookup
from aiosio.client.outbox import NO_FLAGS, Emitter, Flags, Outbox
from aiosio.exceptions import ConnectionError, ConnectionRefused, LocalProtocolError
from aiosio.socketio.packets import (
    RESERVED_EVENTS,
    Packet,
    PacketType,
)
from aiosio.typed.validation import convert

__all__ = ["Client", "ClientOptions", "Manager", "State", "connect"]

logger = logging.getLogger("aiosio.client")

F = TypeVar("F", bound=Callable[..., Any])


class State(enum.Enum):
    """Where a client is: inactive (no reconnection), connecting, or connected."""

    INACTIVE = "inactive"
    CONNECTING = "connecting"
    CONNECTED = "connected"


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[None]
    retry: bool = field(default=False)


class Client(Listening):
    """A socket of one namespace, as ``io(url)`` gives in socket.io-client.

    Besides the server's events, its handlers (:meth:`on`) hear ``connect``,
    ``connect_error`` (a :class:`~aiosio.exceptions.ConnectionError`), ``disconnect``
    (reason, error) and the manager's ``reconnect``, ``reconnect_attempt``,
    ``reconnect_error``, ``reconnect_failed``.

    Args:
        url: The server's URL; its path is the namespace (``http://host:3000/news``).
        manager: The manager to use; by default one is looked up (shared per server
            and event loop) or created.
        **options: :class:`ClientOptions`.

    Attributes:
        namespace: The namespace (the URL's path).
        id: The socket id the server gave, or None while not connected.
        recovered: Whether the server recovered the session on the last connection.
        auth: The CONNECT payload, or the function that makes it.
        io: The manager: the connection to the server, shared by namespaces.
    """

    # The local events; the server's are the others, and their annotated handlers are
    # validated (a bad payload is answered with the invalid_payload error, if acked).
    _local_events = RESERVED_EVENTS | SOCKET_EVENTS

    def __init__(
        self,
        url: str = "http://localhost",
        *,
        manager: Manager | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.namespace = urlsplit(url).path or "/"
        manager_options: dict[str, Any] = dict(options)
        socket_options = {key: manager_options.pop(key) for key in SOCKET_KEYS & set(options)}
        if manager is None:
            manager = lookup(
                Manager,
                url,
                self.namespace,
                force_new=socket_options.get("force_new", False),
                multiplex=socket_options.get("multiplex", True),
                options=manager_options,
            )
        self.io = manager
        self.auth: AuthSource = socket_options.get("auth")
        self.retries: int = socket_options.get("retries", 0)
        self.ack_timeout: float | None = socket_options.get("ack_timeout")
        self.id: str | None = None
        self.recovered = False
        self.state = State.INACTIVE
        self._listeners = Listeners()
        self._any: list[HandlerSpec] = []
        self._outbox = Outbox(self, self._listeners)
        self._handlers = self._listeners._handlers  # one table: on/once/off here, dispatch there
        self._any_outgoing = self._outbox.any_outgoing
        self._receive_buffer: list[Packet] = []
        self._pid: str | None = None
        self._last_offset: str | None = None
        self._waiters: list[_Waiter] = []
        self._auth_task: asyncio.Task[None] | None = None
        manager.register(self)

    def __repr__(self) -> str:
        return f"<Client {self.namespace} id={self.id} {self.state.value}>"

    @property
    def connected(self) -> bool:
        """Whether the namespace is joined."""
        return self.state is State.CONNECTED

    @property
    def disconnected(self) -> bool:
        """Whether the client is not connected to its namespace now."""
        return self.state is not State.CONNECTED

    @property
    def active(self) -> bool:
        """Whether the client is connected or will try to (re)connect."""
        return self.state is not State.INACTIVE

    @property
    def transport(self) -> str | None:
        """The Engine.IO transport in use (``polling`` or ``websocket``)."""
        engine = self.io.engine
        return None if engine is None else engine.transport

    def _set_state(self, state: State) -> None:
        logger.debug("client %s: %s -> %s", self.namespace, self.state.value, state.value)
        self.state = state

    # -- listeners --------------------------------------------------------------------

    def event(self, handler: F) -> F:
        """Decorator: listen to the event named as the function.

        Args:
            handler: The handler; its ``__name__`` is the event it hears.

        Returns:
            The handler, unchanged.
        """
        return self.on(handler.__name__, handler)

    def fire(self, event: str, *args: Any) -> None:
        """Run the handlers of a local event (``connect``, ``reconnect``...).

        Args:
            event: The local event's name; ``reconnect_failed`` also fails the pending
                ``connect()`` calls.
            *args: What the handlers get.
        """
        if event == "reconnect_failed":
            self._reject_waiters(ConnectionError("reconnection failed"), retrying=True)
        self._listeners.fire(event, *args)

    # -- connecting -------------------------------------------------------------------

    async def connect(self, *, retry: bool = False) -> None:
        """Connect to the namespace; return once connected.

        Args:
            retry: Keep trying, with the manager's backoff, when the server cannot be
                reached (socket.io-client's behaviour); by default the first failure
                raises and the client gives up.

        Raises:
            ConnectionError: The server refused (``message`` and ``data`` are the
                server's), or could not be reached, or reconnection failed.
        """
        if self.connected:
            return
        waiter = _Waiter(asyncio.get_running_loop().create_future(), retry)
        self._waiters.append(waiter)
        self._activate()
        try:
            await waiter.future
        except ConnectionError:
            if not self._waiters_left(waiter):
                if (not retry or not self.io.reconnection) and self.active:
                    await self.disconnect()
                elif not self.active:  # refused: wait for the connection to be closed
                    await self.io.destroy(self)
            raise
        except asyncio.CancelledError:
            if not self.connected and not self._waiters_left(waiter):
                self._deactivate()
                self.io.release(self)
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _waiters_left(self, waiter: _Waiter) -> bool:
        return any(other is not waiter for other in self._waiters)

    def _activate(self) -> None:
        """Become active; the manager opens the connection unless it is (re)opening it."""
        if self.state is not State.INACTIVE:
            self.io.open()  # e.g. after manager.disconnect(): open again
            return
        self._set_state(State.CONNECTING)
        self.io.open()
        if self.io.engine is not None:
            self.on_open()

    def _deactivate(self) -> bool:
        """Become inactive; return whether the client was connected."""
        was_connected = self.connected
        if self.state is not State.INACTIVE:
            self._set_state(State.INACTIVE)
        self.io.namespaces.leave(self.namespace)  # its packets are ignored from now on
        if self._auth_task is not None:
            self._auth_task.cancel()
            self._auth_task = None
        return was_connected

    def on_open(self) -> None:
        """Called by the manager when the connection is open: send CONNECT."""
        auth = self.auth
        if not callable(auth):
            self._send_connect(auth)
            return
        try:
            result = auth()
        except Exception as exc:
            self._auth_failed(exc)
            return
        if not isinstance(result, Awaitable):
            self._send_connect(result)
            return
        if self._auth_task is not None:  # an attempt on a connection lost meanwhile
            self._auth_task.cancel()
        self._auth_task = asyncio.get_running_loop().create_task(
            self._send_connect_later(result, self.io.engine)
        )

    async def _send_connect_later(self, pending: Awaitable[Any], engine: object) -> None:
        """CONNECT once ``auth`` answers, on the connection it was asked for only: an
        answer that comes after that connection was lost is dropped (a second CONNECT on
        the next connection would make the server close it)."""
        try:
            data = await pending
        except Exception as exc:
            if self._auth_task is asyncio.current_task():
                self._auth_task = None
            if self.io.engine is engine:
                self._auth_failed(exc)
            return
        if self._auth_task is not asyncio.current_task():
            return  # a newer attempt owns the connection
        self._auth_task = None
        if self.active and engine is not None and self.io.engine is engine:
            self._send_connect(data)

    def _auth_failed(self, error: Exception) -> None:
        logger.exception("the auth function of %s failed", self.namespace, exc_info=error)
        self.on_error(ConnectionError(f"auth function failed: {error}"))

    def _send_connect(self, data: Any) -> None:
        if self._pid is not None:  # connection state recovery (socket.io-client 4.6+)
            restore: dict[str, Any] = {"pid": self._pid}
            if self._last_offset is not None:
                restore["offset"] = self._last_offset
            data = {**restore, **(data or {})}
        try:
            items = self.io.parser.encode(Packet(PacketType.CONNECT, self.namespace, data))
        except LocalProtocolError as exc:
            self.on_error(ConnectionError(f"invalid auth payload: {exc}"))
            return
        self.io.namespaces.request(self.namespace)
        self.io.write(items)

    def on_error(self, error: ConnectionError) -> None:
        """Called by the manager when the connection could not be opened.

        Args:
            error: Why; a ``connect()`` waiting without ``retry`` raises it, and the
                ``connect_error`` handlers get it.
        """
        if not self.connected:
            self._reject_waiters(error, retrying=False)
            self.fire("connect_error", error)

    def _reject_waiters(self, error: ConnectionError, *, retrying: bool) -> None:
        for waiter in self._waiters:
            if (retrying or not waiter.retry) and not waiter.future.done():
                waiter.future.set_exception(error)

    # -- disconnecting ----------------------------------------------------------------

    async def disconnect(self) -> None:
        """Leave the namespace and stop reconnecting ("io client disconnect").

        The manager closes the connection when no other namespace uses it.
        """
        if self.connected:
            self.io.write(self.io.parser.encode(Packet(PacketType.DISCONNECT, self.namespace)))
        was_connected = self._deactivate()
        self._reject_waiters(ConnectionError("the client disconnected"), retrying=True)
        if was_connected:
            self._closed("io client disconnect", None)
        await self.io.destroy(self)

    def on_close(self, reason: str, error: BaseException | None) -> None:
        """Called by the manager when the connection was lost or closed.

        Args:
            reason: The disconnect reason the ``disconnect`` handlers get
                (``"transport close"``, ``"ping timeout"``...).
            error: The exception behind it, if any.
        """
        was_connected = self.connected
        if was_connected:
            self._set_state(State.CONNECTING)
        elif self._waiters and not self.io.reconnection:
            # Lost before the namespace was joined, and no attempt will follow: connect()
            # fails. (With reconnection, the manager's next attempt sends CONNECT again.)
            lost = ConnectionError(f"the connection was lost before connecting ({reason})")
            self._reject_waiters(lost, retrying=True)
        self._closed(reason, error, was_connected)

    def _closed(self, reason: str, error: BaseException | None, fire: bool = True) -> None:
        self.id = None
        if fire:
            self.fire("disconnect", reason, error)
        self._outbox.clear_acks()

    # -- incoming packets -------------------------------------------------------------

    def on_packet(self, packet: Packet) -> None:
        """Called by the manager with each packet of this namespace.

        Args:
            packet: A CONNECT, CONNECT_ERROR, EVENT, ACK or DISCONNECT packet (binary ones
                with their attachments in place).
        """
        match packet.type:
            case PacketType.CONNECT:
                self._on_connect(packet.data)
            case PacketType.EVENT | PacketType.BINARY_EVENT:
                if packet.data:
                    if self.connected:
                        self._dispatch(packet.data, packet.id)
                    else:
                        self._receive_buffer.append(packet)
            case PacketType.ACK | PacketType.BINARY_ACK:
                self._outbox.on_ack(packet.id, packet.data or [])
            case PacketType.DISCONNECT:
                was_connected = self._deactivate()
                self.io.release(self)
                self._closed("io server disconnect", None, was_connected)
            case PacketType.CONNECT_ERROR:
                self._on_connect_error(packet.data)

    def _on_connect(self, data: Any) -> None:
        sid = data.get("sid") if isinstance(data, dict) else None
        if not isinstance(sid, str):
            self.on_error(ConnectionError("the server is not a Socket.IO v5 server (no sid)"))
            return
        pid = data.get("pid")
        pid = pid if isinstance(pid, str) else None
        self.id = sid
        self.recovered = pid is not None and pid == self._pid
        self._pid = pid
        self.io.namespaces.join(self.namespace, self)
        self._set_state(State.CONNECTED)
        received, self._receive_buffer = self._receive_buffer, []
        for packet in received:
            self._dispatch(packet.data, packet.id)
        self._outbox.flush()
        self.fire("connect")
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_result(None)

    def _on_connect_error(self, data: Any) -> None:
        if isinstance(data, dict):
            error = ConnectionError(str(data.get("message")), data.get("data"))
        else:
            error = ConnectionError(str(data))
        self._deactivate()
        self.io.release(self)
        self._reject_waiters(error, retrying=True)
        self.fire("connect_error", error)

    def _dispatch(self, data: list[Any], ack_id: int | None) -> None:
        for spec in list(self._any):
            self._listeners.call(spec, data)
        name = data[0] if isinstance(data[0], str) else str(data[0])
        args = data[1:]
        ack = None if ack_id is None else self._ack_sender(ack_id)
        for index, spec in enumerate(self._listeners.take(name)):
            answer = None
            if ack is not None and index == 0 and not spec.wants_ack:
                answer = partial(_answer_with, ack)
            self._listeners.call(spec, args, ack, answer)
        if self._pid is not None and ack_id is None and args and isinstance(args[-1], str):
            self._last_offset = args[-1]

    def _ack_sender(self, ack_id: int) -> Callable[..., None]:
        sent = False

        def ack(*args: Any) -> None:
            nonlocal sent
            if sent:
                return
            sent = True
            try:
                items = self.io.parser.encode_ack(self.namespace, list(args), ack_id)
            except LocalProtocolError:
                logger.exception("cannot encode the acknowledgement %d", ack_id)
                return
            self.io.write(items)

        return ack

    # -- emitting ---------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event; ``callback(*answer)`` gets the server's acknowledgement.

        While disconnected the event is buffered and sent on (re)connection. With
        ``ack_timeout`` or ``retries``, the callback is error-first:
        ``callback(error, *answer)``.

        Args:
            event: The event name.
            *args: The arguments; bytes travel as binary attachments.
            callback: Called with the server's acknowledgement.

        Raises:
            ReservedEventError: For a reserved event name (the server raises it too).
            LocalProtocolError: For arguments that cannot be serialised.
        """
        self._outbox.emit(event, args, NO_FLAGS, callback)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit a ``message`` event.

        Args:
            *args: The arguments of the event.
            callback: Called with the server's acknowledgement.
        """
        self._outbox.emit("message", args, NO_FLAGS, callback)

    async def emit_with_ack(
        self, event: str, *args: Any, timeout: float | None = None, response: Any = None
    ) -> Any:
        """Emit and wait for the acknowledgement.

        Args:
            event: The event name.
            *args: The arguments of the event.
            timeout: Seconds to wait (``ack_timeout`` by default); None waits for ever.
            response: A type to check and convert the answer to (typed events).

        Returns:
            None for an answer without arguments, the argument for one, a tuple for more;
            with ``response`` (a type), that answer checked and converted to it.

        Raises:
            AckTimeout: No answer within ``timeout`` (or ``ack_timeout``) seconds.
            Disconnected: The connection was lost before the answer came.
            InvalidPayload: The answer does not fit ``response``.
        """
        answer = await self._outbox.emit_with_ack(event, args, Flags(timeout=timeout))
        return answer if response is None else convert(response, answer)

    async def reauthenticate(self, auth: dict[str, Any], timeout: float = 10.0) -> None:
        """Send new credentials without reconnecting; the server's ``on_reauthenticate``
        middlewares check them. Accepted, they are also this client's ``auth`` from now
        on, for the next reconnection.

        Args:
            auth: The new credentials.
            timeout: Seconds to wait for the server's verdict.

        Raises:
            ConnectionRefused: The server refused them (its message and data).
            AckTimeout: No answer within ``timeout`` seconds.
        """
        answer = await self.emit_with_ack(REAUTHENTICATE, auth, timeout=timeout)
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            refusal = answer if isinstance(answer, dict) else {}
            raise ConnectionRefused(str(refusal.get("message", "refused")), refusal.get("data"))
        self.auth = auth

    def timeout(self, seconds: float) -> Emitter:
        """Flags the next emit: its acknowledgement must come within ``seconds``.

        Args:
            seconds: The deadline.

        Returns:
            An emitter whose ``emit`` or ``emit_with_ack`` carries it.
        """
        return Emitter(self._outbox, Flags(timeout=seconds))

    @property
    def volatile(self) -> Emitter:
        """Flags the next emit as droppable when it cannot be written at once."""
        return Emitter(self._outbox, Flags(volatile=True))


class Manager(BaseManager):
    """One Engine.IO connection to a server, shared by the clients of its namespaces.

    The connection, its events and reconnection are :class:`~aiosio.client.manager.BaseManager`;
    this adds :meth:`socket`, which creates clients.
    """

    def socket(self, namespace: str = "/", **options: Any) -> Client:
        """The socket of ``namespace`` on this connection, created on first use.

        Args:
            namespace: The namespace the client joins.
            **options: The socket options of :class:`Client` (``auth``, ``retries``,
                ``ack_timeout``), used when the client is created.

        Returns:
            The client of that namespace, sharing this manager's connection; not connected
            yet when new (``await client.connect()``).
        """
        socket = self.nsps.get(namespace)
        if isinstance(socket, Client):
            return socket
        return Client(namespace, manager=self, **options)


def _answer_with(ack: Callable[..., None], result: Any) -> None:
    ack(*ack_args(result))


async def connect(url: str, *, retry: bool = False, **options: Unpack[ClientOptions]) -> Client:
    """Connect to ``url`` (its path is the namespace) and return the connected client.

    Args:
        url: For example ``http://localhost:3000/news``.
        retry: True keeps trying, with the reconnection backoff, while the server
            cannot be reached, instead of raising at the first failure (a refusal
            still raises); see :meth:`Client.connect`.
        **options: :class:`ClientOptions`.

    Returns:
        The client, connected; disconnect it with ``await client.disconnect()``.

    Raises:
        ConnectionError: The connection failed or was refused.
    """
    client = Client(url, **options)
    await client.connect(retry=retry)
    return client
