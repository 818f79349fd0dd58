"""AsyncServer: python-socketio's sid-based server API over one :class:`aiosio.Server`.

Nothing of the protocol is here: every call becomes a call on the native server
(``socket.emit``, ``namespace.to(room)``, ``socket.join``...). What the facade adds is
the bookkeeping python-socketio's API implies:

- Handlers are registered per namespace, by event name, on this object; when a client
  joins a namespace, its socket gets one native listener per event, bound to its sid,
  and the handler's return value answers the client's ack as in python-socketio.
- ``connect(sid, environ, auth)`` runs as a native middleware, so raising
  ``ConnectionRefusedError`` or returning False refuses the client before it is told it
  is connected. What the handler does to its own client (emit to it, put it in rooms,
  disconnect it) is recorded and done just after the CONNECT ack, in order: the
  reference (Node) server runs its connection handlers after the ack, and a client
  cannot receive an event in a namespace it has not joined yet.
- The session is the native ``socket.data`` (a dict).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from aiosio._handlers import ack_args
from aiosio.app import Server
from aiosio.compat.environ import build_environ
from aiosio.compat.exceptions import REJECTED, ConnectionRefusedError, refusal
from aiosio.compat.handlers import Handler, Registry, run_eagerly, settle
from aiosio.compat.operations import PENDING, Pending, SidOperations
from aiosio.exceptions import ConnectionRefused
from aiosio.server.socket import Socket

if TYPE_CHECKING:
    from aiosio.compat.namespace import AsyncNamespace
    from aiosio.compat.redis import AsyncManager

__all__ = ["AsyncServer", "DisconnectReason"]

logger = logging.getLogger("aiosio.compat")


_SPECIAL = frozenset({"connect", "disconnect", "*"})

Ack = Callable[..., None]
Spawn = Callable[[Coroutine[Any, Any, Any]], None]


class DisconnectReason:
    """The reasons a ``disconnect(sid, reason)`` handler gets: the reference server's
    strings (python-socketio words two of them differently)."""

    CLIENT_DISCONNECT = "client namespace disconnect"
    SERVER_DISCONNECT = "server namespace disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"


@dataclass(slots=True)
class _Plan:
    """The handlers of one namespace, as each new socket of it gets them."""

    events: list[tuple[str, Handler]]
    known: frozenset[str]
    connect: Handler | None
    disconnect: Handler | None
    catch_all: Handler | None


class AsyncServer(Registry, SidOperations):
    """python-socketio 5's ``AsyncServer``, running on aiosio.

    The options are python-socketio's (durations in seconds). The native server is
    :attr:`io`; serve it with :class:`aiosio.compat.ASGIApp` under uvicorn, or with
    :meth:`run` / :meth:`serve` on aiosio's own (faster) front door.

    Args:
        client_manager: :class:`AsyncRedisManager` for a cluster over Redis; None keeps the
            rooms in memory (one server).
        logger: Accepted; aiosio logs through ``logging`` (``aiosio.*`` loggers).
        serializer: ``"default"`` (JSON) or ``"msgpack"``.
        json: Must be None: aiosio encodes with orjson.
        async_handlers: Accepted; False is ignored (with a warning): coroutine handlers
            always run as tasks.
        always_connect: Accept the client before the ``connect`` handler runs (it may
            then only disconnect it).
        namespaces: The namespaces clients may connect to besides those with handlers;
            ``"*"`` accepts any.
        async_mode: None or ``"asgi"``: aiosio runs on asyncio only.
        cors_allowed_origins: The origins allowed (``"*"`` for any); None sends no CORS
            headers and checks no origin.
        cors_credentials: Allow credentials in cross-origin requests.
        ping_interval: Seconds between pings (python-socketio's ``(interval, grace)`` form
            is accepted; the grace is not used).
        ping_timeout: Seconds to wait for a pong.
        max_http_buffer_size: The largest message accepted, in bytes.
        allow_upgrades: Let clients upgrade from polling to WebSocket.
        http_compression: Compress long-polling answers.
        compression_threshold: Accepted (aiosio's own threshold applies).
        cookie: The session cookie: True for ``io``, a name, or a dict of its attributes;
            None or False sets none.
        transports: The transports allowed (``"polling"``, ``"websocket"``).
        monitor_clients: Accepted (aiosio always checks heartbeats).
        engineio_logger: Accepted, as ``logger``.
        **unsupported: Refused: an option python-socketio has and aiosio does not.

    Raises:
        TypeError: For an unknown option.
        ValueError: For another ``async_mode`` or ``serializer``, or a ``json`` module.
    """

    reason = DisconnectReason

    def __init__(
        self,
        client_manager: AsyncManager | None = None,
        logger: bool | logging.Logger = False,
        serializer: str = "default",
        json: Any = None,
        async_handlers: bool = True,
        always_connect: bool = False,
        namespaces: str | Sequence[str] | None = None,
        *,
        async_mode: str | None = None,
        cors_allowed_origins: str | Sequence[str] | None = None,
        cors_credentials: bool = True,
        ping_interval: float | tuple[float, float] = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        allow_upgrades: bool = True,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        cookie: str | dict[str, Any] | bool | None = None,
        transports: Sequence[str] | None = None,
        monitor_clients: bool = True,
        engineio_logger: bool | logging.Logger = False,
        **unsupported: Any,
    ) -> None:
        if unsupported:
            raise TypeError(f"AsyncServer got unknown options: {', '.join(sorted(unsupported))}")
        if async_mode not in (None, "asgi"):
            raise ValueError(f"async_mode {async_mode!r} is not supported: aiosio runs on asyncio")
        if serializer not in ("default", "msgpack"):
            raise ValueError(f"serializer must be 'default' or 'msgpack', not {serializer!r}")
        if json is not None:
            raise ValueError(
                "json= is not supported: aiosio encodes with orjson (as Node's JSON.stringify "
                "does); convert values the default encoder cannot handle before emitting"
            )
        if not async_handlers:
            logger_ = logging.getLogger("aiosio.compat")
            logger_.warning("async_handlers=False is ignored: coroutine handlers run as tasks")
        self.always_connect = always_connect
        self.accepted = namespaces
        self.client_manager = client_manager
        self.handlers: dict[str, dict[str, Handler]] = {}
        self.namespace_handlers: dict[str, AsyncNamespace] = {}
        self._options: dict[str, Any] = {
            "cors_allowed_origins": cors_allowed_origins,
            "cors_credentials": cors_credentials,
            # python-socketio's (interval, grace) form: the engine has no grace period.
            "ping_interval": ping_interval[0]
            if isinstance(ping_interval, tuple)
            else ping_interval,
            "ping_timeout": ping_timeout,
            "max_http_buffer_size": max_http_buffer_size,
            "allow_upgrades": allow_upgrades,
            "http_compression": http_compression,
            "cookie": cookie,
        }
        if transports is not None:
            self._options["transports"] = tuple(transports)
        if serializer == "msgpack":
            self._options["parser"] = "msgpack"
        self._path = "socket.io"
        self._io: Server | None = None
        self._plans: dict[str, _Plan] = {}
        self._attached: set[str] = set()
        self._guarded: set[str] = set()
        self._pending: weakref.WeakKeyDictionary[Socket, Pending] = weakref.WeakKeyDictionary()
        # Sockets not in their namespace's table: connecting (in the connect handler),
        # or gone (in the disconnect handler), by (namespace, sid).
        self._closing: dict[tuple[str, str], Socket] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- the native server -------------------------------------------------------------

    @property
    def io(self) -> Server:
        """The native :class:`aiosio.Server`, made on first use (so that
        :class:`~aiosio.compat.ASGIApp` can still set its path and static files)."""
        if self._io is None:
            self.configure()
        assert self._io is not None
        return self._io

    def configure(
        self,
        socketio_path: str = "socket.io",
        static_files: dict[str, str] | None = None,
        other_app: Any = None,
    ) -> Server:
        """Make the native server with these front-door options (once).

        Args:
            socketio_path: The path clients connect to (``socket.io``).
            static_files: URL paths mapped to folders to serve.
            other_app: The ASGI app that gets the other requests.

        Returns:
            The native server; a second call changes only ``other_app``.

        Raises:
            RuntimeError: The native server exists already, with another path.
        """
        if self._io is not None:
            if socketio_path.strip("/") != self._path.strip("/") or static_files:
                raise RuntimeError("the server is in use already: wrap it in ASGIApp first")
            if other_app is not None:
                self._io.router.other_app = other_app
            return self._io
        self._path = socketio_path
        adapter = None if self.client_manager is None else self.client_manager.adapter_factory()
        self._io = Server(
            path="/" + socketio_path.strip("/") + "/",
            static_files=static_files,
            other_app=other_app,
            adapter=adapter,
            **self._options,
        )
        self._attach("/")
        if self.accepted == "*":
            self._io.of(lambda name, auth: True).on("connection", self._connected_dynamic)
        elif self.accepted:
            for name in self.accepted:
                self._attach(name)
        for name in list(self.handlers) + list(self.namespace_handlers):
            self._attach(name)
        return self._io

    def _attach(self, name: str) -> None:
        """Give the native namespace ``name`` this facade's listeners (once)."""
        if self._io is None or name == "*":
            return
        if name not in self._attached:
            self._attached.add(name)
            self._io.of(name).on("connection", partial(self._connected, name))
        if not self.always_connect and name not in self._guarded and self._plan(name).connect:
            # A middleware costs a task per connection: only where a connect handler is.
            self._guarded.add(name)
            self._io.of(name).use(partial(self._admit, name))

    async def start(self, host: str = "127.0.0.1", port: int = 3000) -> int:
        """Serve on aiosio's standalone front door in the running loop.

        Args:
            host: The address to listen on.
            port: The port; 0 takes a free one.

        Returns:
            The bound port.
        """
        return await self.io.start(host, port)

    async def serve(self, host: str = "127.0.0.1", port: int = 3000) -> None:
        """Serve on the standalone front door until :meth:`shutdown`.

        Args:
            host: The address to listen on.
            port: The port.
        """
        await self.io.serve(host, port)

    def run(self, host: str = "127.0.0.1", port: int = 3000) -> None:
        """Serve on the standalone front door until SIGINT or SIGTERM (blocking).

        Args:
            host: The address to listen on.
            port: The port.
        """
        self.io.run(host, port)

    async def shutdown(self) -> None:
        """Disconnect every client and stop the server."""
        if self._io is not None:
            await self._io.close()

    # -- registering handlers -----------------------------------------------------------

    def _registered(self, namespace: str) -> None:
        self._plans.pop(namespace, None)
        self._attach(namespace)

    def register_namespace(self, namespace_handler: AsyncNamespace) -> None:
        """Register a class-based namespace: its ``on_<event>`` methods are its handlers.

        Args:
            namespace_handler: An instance of an :class:`AsyncNamespace` subclass, made with
                the namespace's name.

        Raises:
            ValueError: ``namespace_handler`` is not an :class:`AsyncNamespace`.
        """
        from aiosio.compat.namespace import AsyncNamespace

        if not isinstance(namespace_handler, AsyncNamespace):
            raise ValueError("register_namespace takes an AsyncNamespace instance")
        namespace_handler.server = self
        name = namespace_handler.namespace
        self.namespace_handlers[name] = namespace_handler
        self._plans.pop(name, None)
        self._attach(name)

    def _plan(self, name: str) -> _Plan:
        plan = self._plans.get(name)
        if plan is None:
            table = dict(self.handlers.get(name, {}))
            instance = self.namespace_handlers.get(name)
            if instance is not None:
                table.update(instance.handlers())
            events = [(event, h) for event, h in table.items() if event not in _SPECIAL]
            plan = self._plans[name] = _Plan(
                events=events,
                known=frozenset(event for event, _ in events),
                connect=table.get("connect"),
                disconnect=table.get("disconnect"),
                catch_all=table.get("*"),
            )
        return plan

    # -- connecting -----------------------------------------------------------------------

    def _admit(self, name: str, socket: Socket) -> Awaitable[None] | None:
        """The native middleware: run ``connect``, refusing as python-socketio does.

        A coroutine handler runs eagerly: one that finishes without suspending is judged
        in place (the native server then needs no task); one that suspends is finished
        in the awaitable returned, which the native server awaits in a task.
        """
        handler = self._plan(name).connect
        if handler is None:
            return None
        pending = Pending()
        key = (name, socket.id)
        self._closing[key] = socket  # its session is usable in the handler already
        token = PENDING.set(pending)
        try:
            verdict = handler.fitted(
                socket.id, build_environ(socket.conn.request), socket.handshake.auth or None
            )
            if handler.is_async:
                done, verdict = run_eagerly(verdict)
                if not done:
                    return self._admit_later(verdict, pending, socket, key)
        except BaseException as exc:
            self._judge(exc, pending, socket, key)
        finally:
            PENDING.reset(token)
        self._judge(verdict, pending, socket, key)
        return None

    async def _admit_later(
        self, rest: Awaitable[Any], pending: Pending, socket: Socket, key: tuple[str, str]
    ) -> None:
        token = PENDING.set(pending)  # the rest of the handler defers as its start did
        try:
            verdict = await rest
        except BaseException as exc:
            self._judge(exc, pending, socket, key)
        finally:
            PENDING.reset(token)
        self._judge(verdict, pending, socket, key)

    def _judge(self, verdict: Any, pending: Pending, socket: Socket, key: tuple[str, str]) -> None:
        """The connect handler's outcome: ``verdict`` is what it returned or raised.

        Raises:
            ConnectionRefused: It refused (False, or a ConnectionRefusedError).
            BaseException: It failed: ``verdict`` itself (the client is refused too).
        """
        self._closing.pop(key, None)
        if isinstance(verdict, BaseException) or verdict is False:
            pending.deferring = False
            if isinstance(verdict, ConnectionRefusedError | builtins.ConnectionRefusedError):
                raise refusal(verdict) from None
            if isinstance(verdict, BaseException):
                raise verdict
            raise ConnectionRefused(REJECTED)
        if pending.ops:
            self._pending[socket] = pending
        else:
            pending.deferring = False

    def _connected_dynamic(self, socket: Socket) -> None:
        self._connected(socket.nsp.name, socket)

    def _connected(self, name: str, socket: Socket) -> None:
        """The native connection handler (after the CONNECT ack): bind the handlers to
        this socket's sid, then do what its connect handler deferred."""
        plan = self._plan(name)
        sid = socket.id
        spawn = socket.conn.spawn
        for event, handler in plan.events:
            socket.on(event, _bound(handler, sid, spawn))
        if plan.catch_all is not None:
            socket.use(partial(_route_unknown, plan.known))
            socket.on("*", _bound_catch_all(plan.catch_all, sid, spawn))
        if plan.disconnect is not None:
            socket.on("disconnect", partial(self._disconnected, plan.disconnect, socket))
        pending = self._pending.pop(socket, None)
        if pending is not None:
            pending.deferring = False
            for op in pending.ops:
                op()
        if self.always_connect and plan.connect is not None:
            self.start_background_task(self._connect_late, plan.connect, socket)

    async def _connect_late(self, handler: Handler, socket: Socket) -> None:
        """``always_connect``: the client is connected already; a refusal disconnects it."""
        try:
            verdict = await settle(
                handler.fitted(
                    socket.id, build_environ(socket.conn.request), socket.handshake.auth or None
                )
            )
        except (ConnectionRefusedError, builtins.ConnectionRefusedError):
            verdict = False
        if verdict is False:
            socket.disconnect()

    async def _disconnected(
        self, handler: Handler, socket: Socket, reason: str, description: Any = None
    ) -> None:
        key = (socket.nsp.name, socket.id)
        self._closing[key] = socket  # its session stays readable in the handler
        try:
            await settle(handler.fitted(socket.id, reason))
        finally:
            self._closing.pop(key, None)

    def instrument(
        self,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> Any:
        """Open the server to the official Admin UI (:func:`aiosio.admin.instrument`).

        Args:
            auth: None for no authentication, or ``{"username": ..., "password": ...}``.
            mode: ``"development"`` or ``"production"`` (the stats only).
            read_only: Refuse the UI's commands.
            server_id: Shown in the UI; None takes the host name.
            namespace: The admin namespace.
            server_stats_interval: Accepted (the stats are sent every 2 seconds).

        Returns:
            The native :class:`aiosio.admin.Admin`.

        Raises:
            TypeError: ``auth`` is not None nor a dict with both keys.
            ValueError: ``mode`` is neither of the two.
        """
        from aiosio import admin

        if auth is not None:
            if not isinstance(auth, dict) or not {"username", "password"} <= set(auth):
                raise TypeError("auth must be None or a dict with 'username' and 'password'")
            auth = {"type": "basic", **auth}
        if mode not in ("development", "production"):
            raise ValueError(f"mode must be 'development' or 'production', not {mode!r}")
        return admin.instrument(
            self.io,
            auth=auth,
            mode="production" if mode == "production" else "development",
            namespace_name=namespace,
            server_id=server_id,
            readonly=read_only,
        )


def _bound(handler: Handler, sid: str, spawn: Spawn) -> Callable[..., Any]:
    """The native listener of one event for one socket: ``handler(sid, *args)``.

    A coroutine handler runs eagerly (:func:`run_eagerly`): one that finishes without
    suspending answers in place, as a plain function would, and costs no task.
    """
    fn = handler.fn
    if handler.is_async:

        def call_eagerly(*args: Any, ack: Ack | None = None) -> None:
            done, value = run_eagerly(fn(sid, *args))
            if not done:
                spawn(_answer_later(value, ack))
            elif ack is not None:
                ack(*ack_args(value))

        return call_eagerly

    def call(*args: Any) -> Any:
        return fn(sid, *args)

    return call


def _bound_catch_all(handler: Handler, sid: str, spawn: Spawn) -> Callable[..., Any]:
    """The native ``"*"`` listener for one socket: ``handler(event, sid, *args)``.

    Its parameters are ``Any``: the native server checks the annotated parameters of a
    listener of the client's events (aiosio.typed), and ``event: str`` would have been
    checked by pydantic, which python-socketio never does. That check imported pydantic
    (an optional dependency) on the first connection, with the event loop blocked for as
    long as the import took, and cost a validation on every event caught.
    """
    fn = handler.fn
    if handler.is_async:

        def call_eagerly(event: Any, *args: Any, ack: Ack | None = None) -> None:
            done, value = run_eagerly(fn(event, sid, *args))
            if not done:
                spawn(_answer_later(value, ack))
            elif ack is not None:
                ack(*ack_args(value))

        return call_eagerly

    def call(event: Any, *args: Any) -> Any:
        return fn(event, sid, *args)

    return call


async def _answer_later(rest: Awaitable[Any], ack: Ack | None) -> None:
    """Finish a handler that suspended, and answer its ack (a failure is logged by the
    server's task)."""
    result = await rest
    if ack is not None:
        ack(*ack_args(result))


def _route_unknown(known: frozenset[str], packet: list[Any]) -> None:
    """A packet middleware: an event with no handler of its own goes to ``"*"``."""
    if packet[0] not in known:
        packet.insert(0, "*")
