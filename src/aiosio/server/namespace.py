"""Namespace: the handlers, middlewares and sockets of one channel, and its adapter.

Namespaces created on demand for the names that match (``io.of(re.compile(...))``) are
:mod:`aiosio.server.parent`'s.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable
from contextvars import copy_context
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aiosio._handlers import HandlerSpec, Suspended, TypedHandlerSpec, inspect_handler, run_eagerly
from aiosio._shortcuts import Shortcuts
from aiosio.adapters.base import encode_wires
from aiosio.exceptions import ConnectionRefused
from aiosio.limits.buckets import Action, Rule
from aiosio.server.broadcast import BroadcastOperator, RemoteSocket
from aiosio.server.features import Features
from aiosio.server.namespace_emits import NamespaceEmits
from aiosio.server.socket import Socket
from aiosio.server.typed import TypedNamespace
from aiosio.socketio.packets import EVENT, Packet
from aiosio.socketio.parsers import AckSlot, ack_slot
from aiosio.typed.validation import INVALID_PAYLOAD, InvalidPayload

if TYPE_CHECKING:
    from aiosio.adapters.base import Adapter, BroadcastOptions
    from aiosio.engineio.wire import Wire
    from aiosio.server.connection import Connection
    from aiosio.server.parent import ParentNamespace
    from aiosio.server.server import BaseServer as Server

__all__ = ["Namespace"]

logger = logging.getLogger("aiosio.namespace")

F = TypeVar("F", bound=Callable[..., Any])

_ALIASES = {"connect": "connection"}
# Namespace events that are not server-side emits: a client event of the same name is no
# sign of a misplaced handler.
_LOCAL_EVENTS = frozenset({"connection", "create-room", "delete-room", "join-room", "leave-room"})


class Namespace(NamespaceEmits, Features, Shortcuts[BroadcastOperator], TypedNamespace):
    """A channel of the server (``io.of("/news")``).

    Namespaces are made by :meth:`Server.of` (or a dynamic parent), not by applications.

    Args:
        server: The server the namespace belongs to.
        name: The namespace's name, starting with ``/``.
        parent: The dynamic parent namespace this one is a child of; None for one made by
            name.

    Attributes:
        name: The namespace's name (``/news``).
        server: The server it belongs to.
        sockets: The namespace's connected sockets on this server, by socket id.
        adapter: Its rooms and broadcasts (in memory, or the cluster adapter's).
        parent: The parent namespace of a dynamic child, or None.
    """

    def __init__(self, server: Server, name: str, parent: ParentNamespace | None = None) -> None:
        self.server = server
        self.name = name
        self.parent = parent
        self.sockets: dict[str, Socket] = {}
        self._handlers: dict[str, list[HandlerSpec]] = {}
        self._middlewares: list[HandlerSpec] = []
        self._joining = 0  # sockets in the middlewares: they keep a dynamic child alive
        self._warned: set[object] = set()  # mistakes of the application, warned once
        self._ids = itertools.count()
        # Rate rules of this namespace's client events (None: every event); a dynamic
        # child shares its parent's.
        self.limits: dict[Any, Rule] = parent.limits if parent is not None else {}
        self.adapter: Adapter = server.make_adapter(self)
        self.init_features()  # users, presence, histories, reauthentication

    def __repr__(self) -> str:
        return f"<Namespace {self.name} sockets={len(self.sockets)}>"

    def next_ack_id(self) -> int:
        """A fresh ack id for an emit from this namespace.

        Returns:
            The next id: they count per namespace from 0, as the reference server's do.
        """
        return next(self._ids)

    # -- handlers -----------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen to ``connection`` (alias ``connect``), to adapter events or to server-side emits.

        The adapter events are ``create-room``, ``delete-room``, ``join-room`` and
        ``leave-room``; any other name hears what other servers send with ``server_side_emit``.
        Called as ``Socket.on`` is: with the handler, which it returns, or without it, as a
        decorator.

        Args:
            event: The event name.
            handler: ``handler(socket)`` for ``connection``, ``handler(room)`` or
                ``handler(room, sid)`` for adapter events, ``handler(*args)`` for server-side
                emits; omit it to use ``on`` as a decorator.

        Returns:
            The handler, or a decorator that registers its function and returns it.
        """
        if handler is None:
            return lambda fn: self.on(event, fn)
        name = _ALIASES.get(event, event)
        self._handlers.setdefault(name, []).append(_inspect_listener(name, handler))
        return handler

    def off(self, event: str, handler: Callable[..., Any] | None = None) -> None:
        """Remove a handler of ``event`` (``connection`` and ``connect`` are one), or all of them.

        Args:
            event: The event name.
            handler: The handler to remove; None removes every handler of ``event``.
        """
        name = _ALIASES.get(event, event)
        if handler is None:
            self._handlers.pop(name, None)
        else:
            kept = [s for s in self._handlers.get(name, ()) if s.fn != handler]
            self._handlers[name] = kept

    def limit(
        self,
        event: str | None = None,
        *,
        per_s: float,
        burst: float | None = None,
        action: Action = "drop",
    ) -> None:
        """Limit how fast each socket of this namespace may emit ``event``, with a token
        bucket per socket.

        Over the rule, ``action`` applies: ``"drop"`` (the event is not handled; an ack it
        asks for answers ``{"error": "rate_limited", "retry_after": seconds}``) or
        ``"disconnect"`` (the socket leaves with the reason ``"rate limited"``; the
        client sees ``io server disconnect``). Applies to sockets that connect afterwards.

        Args:
            event: The event's name; None limits all events of the namespace together.
            per_s: Events a second, refilled continuously.
            burst: Events at once after a quiet spell (``per_s`` if not given).
            action: What a socket over the rule gets.

        Raises:
            ValueError: A rate or burst that is not a positive number, or an unknown action.
        """
        self.limits[event] = Rule(per_s, max(1.0, per_s) if burst is None else burst, action)

    def use(self, middleware: Callable[..., Any]) -> Callable[..., Any]:
        """Run ``middleware(socket)`` (sync or async) before a client connects.

        Plain functions run in place, where the CONNECT is read (no task); from the
        first one that gives an awaitable (a coroutine function's), the rest run in a task.

        Raising :class:`ConnectionRefused` (or any exception) refuses the connection: the
        client's ``connect_error`` gets the message and the data. Middlewares are the place
        to refuse: the ``connection`` handlers run after the client got its CONNECT ack,
        as in the reference server, so one raising :class:`ConnectionRefused` can only
        disconnect the socket (the client sees "io server disconnect"; a warning is
        logged); their other exceptions are logged and the socket stays connected.

        A middleware with a second, annotated parameter, ``def auth(socket, creds:
        Credentials)``, gets the handshake's ``auth`` payload checked and converted; one
        that does not fit refuses the connection with the message ``invalid_payload`` and
        the data ``{"error": "invalid_payload", "detail": [...]}``.

        Args:
            middleware: The function or coroutine function; middlewares run in the order
                they were added.

        Returns:
            The middleware, so that ``use`` works as a decorator.
        """
        self._middlewares.append(inspect_handler(middleware, payload_from=1))
        return middleware

    def emit_local_event(self, event: str, *args: Any) -> None:
        """Run this namespace's handlers of a local event (adapter and cluster events).

        Args:
            event: The event name (``create-room``, ``join-room``...).
            *args: What the handlers get.
        """
        handlers = self._handlers.get(event)
        if not handlers:
            return
        for spec in list(handlers):
            try:
                result = spec.call(list(args))
                if spec.is_async:
                    self.server.spawn(result)
            except Exception:
                logger.exception("handler of %r failed", event)

    def on_server_side_emit(self, data: list[Any], ack: Callable[[Any], None] | None) -> None:
        """Run the handlers of an event another server emitted (``server_side_emit``).

        With ``ack``, the first handler answers: through its keyword-only ``ack`` or with its
        return value (one argument, as the reference expects).

        Args:
            data: The event as ``[event, *args]``.
            ack: Sends the answer back to the emitting server; None when it asked for none.
        """
        for spec in list(self._handlers.get(data[0], ())):
            wants = ack is not None and spec.wants_ack
            try:
                result = spec.call(data[1:], ack if wants else None)
            except Exception:
                logger.exception("handler of %r failed", data[0])
                continue
            if spec.is_async:
                self.server.spawn(_answer_later(result, None if wants else ack))
            elif ack is not None and not wants:
                ack(result)
            ack = None  # one answer per server, from the first handler

    # -- connecting ---------------------------------------------------------------------

    def add(self, conn: Connection, auth: dict[str, Any]) -> None:
        """A client asks to join: run the middlewares, then connect or refuse.

        Args:
            conn: The client's connection.
            auth: The ``auth`` payload of its CONNECT packet.
        """
        restored = self.server.restore_socket(self, conn, auth)
        if restored is None or isinstance(restored, Socket):
            self._admit(conn, auth, restored)
            return
        # A cluster adapter restores the session from its store.
        self._joining += 1
        conn.spawn(self._admit_restored(conn, auth, restored))

    async def _admit_restored(
        self, conn: Connection, auth: dict[str, Any], restored: Awaitable[Socket | None]
    ) -> None:
        try:
            socket = await restored
        except Exception:  # a task boundary: the CONNECT is still answered, fresh
            logger.exception("restoring the session of a socket failed")
            socket = None
        finally:
            self._joining -= 1
        if conn.open:
            self._admit(conn, auth, socket)
        else:
            self._discard_if_empty()

    def _admit(self, conn: Connection, auth: dict[str, Any], socket: Socket | None) -> None:
        if socket is not None and self.server.recovery_skips_middlewares:
            self._connect(socket)
            return
        socket = socket or self.socket_class(self, conn, auth)
        if not self._middlewares:
            self._connect(socket)
            return
        self._next_middlewares(socket)

    def _next_middlewares(self, socket: Socket) -> None:
        """Run the middlewares in place, as the reference calls them (``next()`` is
        synchronous); the first one that gives an awaitable (a coroutine function's, or a
        plain function's) is awaited in a task, which runs the rest: a connection through
        plain middlewares costs no task."""
        middlewares = self._middlewares
        for index, spec in enumerate(middlewares):
            try:
                result = self._call_middleware(spec, socket)
            except Exception as exc:
                self._refuse(socket, _refusal(exc))
                self._discard_if_empty()
                return
            if inspect.isawaitable(result):
                self._joining += 1
                socket.conn.spawn(self._add_async(socket, result, index + 1))
                return
        self._connect(socket)

    async def _add_async(self, socket: Socket, pending: Awaitable[Any], rest: int) -> None:
        try:
            error = await self._run_middlewares(socket, pending, rest)
        finally:
            self._joining -= 1
        if error is not None:
            self._refuse(socket, error)
        elif socket.conn.open:
            self._connect(socket)
        if not socket.connected:
            self._discard_if_empty()

    async def _run_middlewares(
        self, socket: Socket, pending: Awaitable[Any], rest: int
    ) -> Exception | None:
        """Await ``pending``, then run the middlewares from index ``rest`` in order; return
        the exception of the one that refused."""
        try:
            await pending
            for spec in self._middlewares[rest:]:
                result = self._call_middleware(spec, socket)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            return _refusal(exc)
        return None

    @staticmethod
    def _call_middleware(spec: HandlerSpec, socket: Socket) -> Any:
        if isinstance(spec, TypedHandlerSpec):  # it declares the auth payload
            return spec.call([socket, socket.handshake.auth])
        return spec.call([socket])

    def _refuse(self, socket: Socket, error: Exception) -> None:
        # Through the connection, which forgets the pending CONNECT: the client may try
        # this namespace again on the same connection.
        if isinstance(error, ConnectionRefused):
            socket.conn.refuse(self.name, error.message, error.data)
        else:
            message = str(error) or type(error).__name__
            socket.conn.refuse(self.name, message, getattr(error, "data", None))

    def _connect(self, socket: Socket) -> None:
        conn = socket.conn
        if not conn.attach(socket):
            self._discard_if_empty()
            return
        self.sockets[socket.id] = socket
        socket.connected = True
        self.adapter.add_all(socket.id, [socket.id])
        self.server.on_socket_connecting(socket)
        # The CONNECT ack goes out before anything the connection handlers emit.
        socket.write_packet(socket.connect_packet())
        self.server.on_socket_connected(socket)
        for spec in list(self._handlers.get("connection", ())):
            try:
                result = spec.call([socket])
                if spec.is_async:  # its first step now, as a plain function's (_handlers)
                    result = run_eagerly(result, copy_context())
            except ConnectionRefused:
                self.refused_too_late(socket, spec)
                return  # the socket is gone: the other connection handlers do not run
            except Exception:
                conn.log_once(logger, spec.fn, "connection handler %r failed", spec.fn)
                continue
            if type(result) is Suspended:
                conn.spawn(_guard(result, socket, spec))

    def refused_too_late(self, socket: Socket, spec: HandlerSpec) -> None:
        """Disconnect a socket whose ``connection`` handler raised ConnectionRefused.

        The client was told it is connected already (the CONNECT ack goes first, as in the
        reference), so the socket is disconnected instead, and the application warned once per
        handler.

        Args:
            socket: The socket the handler refused.
            spec: The handler that refused it.
        """
        socket.disconnect()
        self.warn_once(
            ("refused", spec.fn),
            "connection handler %s raised ConnectionRefused, but the socket was already "
            "connected (the CONNECT ack goes before the connection handlers run): it was "
            "disconnected instead; to refuse a connection, raise ConnectionRefused in a "
            "middleware: io.use(...) (io.of(%r).use(...) for this namespace)",
            getattr(spec.fn, "__qualname__", spec.fn),
            self.name,
        )

    def warn_once(self, kind: object, message: str, *args: Any) -> None:
        """Warn about a mistake of the application, once per ``kind``.

        For a dynamic child the record is the parent namespace's: children come and go.

        Args:
            kind: What identifies the mistake (a handler, an event name...).
            message: The log message, with ``%`` placeholders.
            *args: The placeholders' values.
        """
        warned = (self.parent or self)._warned
        if kind not in warned:
            warned.add(kind)
            logger.warning(message + " (logged once)", *args)

    def warn_unheard(self, event: Any) -> None:
        """A client event no socket handler took: warn if a namespace-level handler has its name.

        That is python-socketio's habit; Node's handlers there also hear only
        ``server_side_emit``.

        Args:
            event: The event name the client sent.
        """
        if event in _LOCAL_EVENTS:
            return
        if event in self._handlers or (self.parent is not None and event in self.parent._handlers):
            self.warn_once(
                event,
                "a client emitted %r in namespace %r: only a namespace-level handler "
                "(io.on or io.of(...).on) listens to it, and namespace-level handlers "
                "receive server_side_emit events only, so the event (and its ack) went "
                "unanswered; to handle client events, register them with socket.on(...) "
                "inside the connection handler",
                event,
                self.name,
            )

    def remove(self, socket: Socket) -> None:
        """Forget a disconnected socket; an empty dynamic child goes away.

        Args:
            socket: The socket that left.
        """
        self.sockets.pop(socket.id, None)
        self._discard_if_empty()

    def _discard_if_empty(self) -> None:
        """Remove this dynamic child if no socket is in it or joining it.

        Also after a refused CONNECT: otherwise any client could make the server keep one
        empty namespace (and adapter) per name the parent matches.
        """
        if (
            not self.sockets
            and not self._joining
            and self.parent is not None
            and self.server.cleanup_empty_child_namespaces
        ):
            self.parent.remove_child(self)

    def on_socket_closing(self, socket: Socket, reason: str) -> None:
        """A socket is about to leave its rooms (recovery persists its state here).

        Args:
            socket: The socket, still in its rooms.
            reason: Its disconnect reason.
        """
        self.server.on_socket_closing(socket, reason)

    def prepare_broadcast(self, packet: Packet, options: BroadcastOptions) -> list[Wire]:
        """Encode a broadcast once, in the server's parser and with its compress flag.

        Args:
            packet: The packet to broadcast.
            options: The broadcast's options (its ``compress`` flag is read).

        Returns:
            The Engine.IO messages to write to each recipient.
        """
        wires = encode_wires(packet, self.server.parser)
        if not options.flags.compress:
            for wire in wires:
                wire.compress = False
        return wires

    def prepare_broadcast_with_ack(self, packet: Packet) -> AckSlot | None:
        """Encode a broadcast with acknowledgements once, but for each recipient's ack id.

        Args:
            packet: The EVENT to broadcast (without an ack id).

        Returns:
            What the adapter hands to each recipient's ``emit_packet_with_ack``; None when
            the server's parser cannot slot an id into one encoding (msgpack), or the
            packet is not an EVENT with a list of arguments.
        """
        if packet.type is not EVENT or type(packet.data) is not list:
            return None
        return ack_slot(self.server.parser, packet.namespace, packet.data)

    @property
    def recovers(self) -> bool:
        """Whether the server has connection state recovery on (for the adapter)."""
        return self.server.recovery is not None

    def remote_socket(self, details: dict[str, Any]) -> RemoteSocket:
        """A socket of another server, from its ``fetch_sockets`` answer (for the adapter).

        Args:
            details: The socket as the other server described it (id, handshake, rooms, data).

        Returns:
            A socket proxy whose operations go through the adapter.
        """
        return RemoteSocket(self.adapter, details)


def _refusal(error: Exception) -> Exception:
    """What a middleware's exception refuses with (a payload that fails its declared type
    is refused with the reference's message and the validation errors)."""
    if isinstance(error, InvalidPayload):
        return ConnectionRefused(INVALID_PAYLOAD, error.answer())
    return error


async def _guard(pending: Awaitable[Any], socket: Socket, spec: HandlerSpec) -> None:
    try:
        await pending
    except ConnectionRefused:
        socket.nsp.refused_too_late(socket, spec)
    except Exception:
        socket.conn.log_once(logger, spec.fn, "connection handler %r failed", spec.fn)


def _inspect_listener(event: str, handler: Callable[..., Any]) -> HandlerSpec:
    """Read a namespace handler; refuse a connection handler that needs more than the
    socket (python-socketio's ``connect(sid, environ, auth)``) at once, not with
    ``None`` arguments at the first connection."""
    spec = inspect_handler(handler)
    if event == "connection" and spec.min_args > 1:
        name = getattr(handler, "__qualname__", None) or repr(handler)
        raise TypeError(
            f"{name} needs {spec.min_args} arguments, but connection handlers take one "
            "argument, the socket (read socket.handshake for the headers and auth)"
        )
    return spec


async def _answer_later(pending: Awaitable[Any], ack: Callable[[Any], None] | None) -> None:
    try:
        result = await pending
    except Exception:
        logger.exception("server-side event handler failed")
        return
    if ack is not None:
        ack(result)
