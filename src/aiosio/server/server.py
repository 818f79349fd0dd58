"""BaseServer: the namespaces of one Socket.IO server, its engine, start-up and shutdown.

The front doors are built on it and so are not imported here: :class:`aiosio.Server`
(:mod:`aiosio.app`, above them) adds the methods that open one, and a front door hands
the listener it opens to :meth:`BaseServer.add_listener` to be closed with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar, Unpack, overload

from aiosio._shortcuts import Shortcuts
from aiosio._tasks import spawn as spawn_task
from aiosio.adapters.base import Adapter
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.server.admission import EventLimits
from aiosio.server.broadcast import BroadcastOperator
from aiosio.server.collector import Freezer
from aiosio.server.connection import Connection
from aiosio.server.deadlines import ConnectDeadlines
from aiosio.server.engine import EngineOptions, EngineServer, ServerSession
from aiosio.server.features import close_features, start_features
from aiosio.server.http import HTTPRequest, HTTPResponse
from aiosio.server.namespace import Namespace
from aiosio.server.namespace_emits import MainNamespaceEmits
from aiosio.server.parent import ParentNamespace
from aiosio.server.presence import PresenceSettings
from aiosio.server.router import Limits, Router
from aiosio.server.socket import Socket
from aiosio.server.typed import TypedServer
from aiosio.socketio.parsers import Parser, get_parser

__all__ = ["BaseServer"]

logger = logging.getLogger("aiosio.server")

F = TypeVar("F", bound=Callable[..., Any])

AdapterFactory = Callable[[Namespace], Adapter]


class BaseServer(MainNamespaceEmits, Shortcuts[BroadcastOperator], TypedServer, EventLimits):
    """A Socket.IO server without its front doors; :class:`aiosio.Server` is the one to use.

    Options are the Node options in snake_case, durations in seconds; the Engine.IO ones
    (``ping_interval``, ``cors_allowed_origins``, ``per_message_deflate``...) are
    :class:`~aiosio.server.engine.EngineOptions` and go to the :class:`EngineServer`.
    """

    def __init__(
        self,
        *,
        path: str = "/socket.io/",
        connect_timeout: float = 45.0,
        http_header_timeout: float = 20.0,
        http_body_timeout: float = 20.0,
        serve_client: bool = True,
        adapter: AdapterFactory | None = None,
        connection_state_recovery: Mapping[str, Any] | bool | None = None,
        cleanup_empty_child_namespaces: bool = True,
        max_attachments: int = 10,
        max_depth: int = 64,
        max_namespaces: int = 100,
        static_files: Mapping[str, str] | None = None,
        other_app: Any = None,
        parser: str | Parser | None = None,
        health_path: str | None = None,
        presence: PresenceSettings | Mapping[str, Any] | bool | None = None,
        shutdown_timeout: float = 10.0,
        gc_freeze_interval: float | None = None,
        **engine_options: Unpack[EngineOptions],
    ) -> None:
        """Set the options; the server starts with the first of its front doors.

        Args:
            path: Where Socket.IO is answered (``/socket.io/``, as the clients expect).
            connect_timeout: Seconds a new connection may take to join a namespace (45).
            http_header_timeout: Seconds an HTTP request may take to send its head (20).
            http_body_timeout: Seconds an HTTP request may take to send its body (20).
            serve_client: Serve the official browser client at ``<path>socket.io.js``.
            adapter: Makes each namespace's adapter (``redis_adapter(...)`` for a cluster);
                None keeps rooms in memory, for one server.
            connection_state_recovery: True, or its options (``max_disconnection_duration``
                120, ``skip_middlewares`` True, ``shutdown_spread`` 0...): clients that lose
                their connection get their id, rooms, data and missed broadcasts back.
            cleanup_empty_child_namespaces: Remove a dynamic namespace's empty children.
            max_attachments: Binary attachments one packet may carry (10).
            max_depth: Nesting levels a decoded packet may have (64; 1 to 254).
            max_namespaces: Namespaces one connection may join (100).
            static_files: URL prefixes mapped to folders served as they are.
            other_app: An ASGI application that gets every other request.
            parser: ``"json"`` (the default), ``"msgpack"`` or a parser object.
            health_path: A path answered 200 while healthy, 503 while an adapter is cut off.
            presence: Presence tracking: True, or its settings (``interval``, ``event``...).
            shutdown_timeout: Seconds :meth:`close` waits for handlers and adapters (10).
            gc_freeze_interval: Seconds between collections that freeze long-lived objects
                out of the garbage collector's way (None: never).
            **engine_options: The Engine.IO options
                (:class:`~aiosio.server.engine.EngineOptions`).

        Raises:
            ValueError: An option out of its range (``max_depth``, ``gc_freeze_interval``...).
            TypeError: An unknown option.
        """
        self.shutdown_timeout = shutdown_timeout
        self.freezer = Freezer(gc_freeze_interval)  # server/collector.py; None: off
        self.connect_timeout = connect_timeout
        self.max_attachments = max_attachments
        if not 1 <= max_depth <= 254:
            # Whatever is decoded must be writable back, and orjson writes 254 levels at most.
            raise ValueError(f"max_depth must be 1 to 254, not {max_depth}")
        self.max_depth = max_depth
        self.max_namespaces = max_namespaces
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self.parser: Parser = get_parser(parser)
        self._adapter_factory: AdapterFactory = adapter or InMemoryAdapter
        self.engine = EngineServer(self, **engine_options)
        self.deadlines = ConnectDeadlines(self._connect_expired)
        self.router = Router(
            self.engine,
            path=path,
            serve_client=serve_client,
            static_files=static_files,
            other_app=other_app,
            limits=Limits(header_timeout=http_header_timeout, body_timeout=http_body_timeout),
        )
        if health_path is not None:
            self.router.routes[health_path] = self._health
        self.recovery: Any = None
        if connection_state_recovery:
            from aiosio.server.recovery import Recovery

            options = {} if connection_state_recovery is True else dict(connection_state_recovery)
            self.recovery = Recovery(self, **options)
        self.presence_settings = PresenceSettings.of(presence)  # docs/presence-and-history.md
        self.namespaces: dict[str, Namespace] = {}
        self._parents: list[ParentNamespace] = []
        self._handlers: dict[str, list[Callable[..., Any]]] = {}
        self._listeners: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        # Loop-owned: bound when the server starts (:meth:`_bind`), released by close().
        self._closed: asyncio.Event | None = None
        self._closer: asyncio.Task[None] | None = None  # the one close in progress or done
        self._closers: set[asyncio.Task[Any]] = set()  # tasks awaiting it: never cancelled
        self._force: asyncio.Event | None = None  # set by a second stop(): skip the graceful part
        self._started = False
        self.event_rule = None  # io.limit(): each connection's event rate
        self.of("/")

    # -- namespaces ---------------------------------------------------------------------

    def of(self, name: str | re.Pattern[str] | Callable[..., bool | Awaitable[bool]]) -> Namespace:
        """The namespace ``name``, created on first use; a pattern or a function makes
        a parent of dynamic namespaces.

        Args:
            name: A name (``"/news"``), a compiled pattern, or ``f(name, auth)`` (sync or
                async) that tells whether a namespace of that name may be created.

        Returns:
            The namespace, or the parent of the dynamic ones.
        """
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            namespace = self.namespaces.get(name)
            if namespace is None:
                namespace = Namespace(self, name)
                self.register_namespace(namespace)
            return namespace
        parent = ParentNamespace(self, name)
        self._parents.append(parent)
        return parent

    def register_namespace(self, namespace: Namespace) -> None:
        """Record a new namespace and tell the ``new_namespace`` listeners.

        Args:
            namespace: The namespace just made (by :meth:`of`, or a dynamic parent's child).
        """
        self.namespaces[namespace.name] = namespace
        for handler in self._handlers.get("new_namespace", ()):
            handler(namespace)

    def unregister_namespace(self, namespace: Namespace) -> None:
        """Forget a namespace (an empty dynamic child) and close its adapter.

        Args:
            namespace: The namespace to forget; one that was replaced under the same name is
                left alone.
        """
        if self.namespaces.get(namespace.name) is namespace:
            del self.namespaces[namespace.name]
            self.spawn(namespace.adapter.close())

    async def find_dynamic(self, name: str, auth: dict[str, Any]) -> Namespace | None:
        """The child namespace for ``name`` from the first parent that accepts it.

        Args:
            name: The namespace a client asked for, not registered yet.
            auth: The client's ``auth`` payload, for parents whose matcher reads it.

        Returns:
            The existing or new child namespace, or None when no parent accepts ``name``
            (the client is refused with "Invalid namespace").
        """
        for parent in self._parents:
            if await parent.matches(name, auth):
                existing = self.namespaces.get(name)
                return existing or parent.create_child(name)
        return None

    def make_adapter(self, namespace: Namespace) -> Adapter:
        """The adapter of ``namespace``, from the adapter factory (started if the server is).

        Args:
            namespace: The namespace the adapter will serve.

        Returns:
            A new adapter; the server's recovery settings are attached to it.
        """
        adapter = self._new_adapter(namespace)
        if self._started:
            self.spawn(adapter.init())
        return adapter

    def _new_adapter(self, namespace: Namespace, previous: Adapter | None = None) -> Adapter:
        """A fresh adapter for ``namespace``, replacing ``previous`` (which recovery may
        have kept sessions in)."""
        adapter = self._adapter_factory(namespace)
        if self.recovery is not None:
            self.recovery.attach(adapter, previous)
        if previous is not None:
            namespace.histories.attach(adapter)  # the recorder goes to the new adapter
        return adapter

    async def startup(self) -> bool:
        """Start the server in the running loop without listening on any port.

        It binds the loop-owned state and starts the adapters of the namespaces made before
        it ran (a Redis adapter subscribes): what :meth:`aiosio.Server.start` does before
        it listens, an ASGI app at its lifespan startup, and :mod:`aiosio.testing` before
        it connects clients in memory. A server left running (never closed) in an event
        loop that has ended since, as a test's loop, starts afresh here. Stop it with
        :meth:`close`.

        Returns:
            Whether this call started the server (False: it was running in this loop).
        """
        if self._started:
            if not self.engine.loop.is_closed():
                return False
            # Nothing of a closed loop can be used, awaited or cancelled any more.
            self._tasks.clear()
            for namespace in list(self.namespaces.values()):
                namespace.adapter = self._new_adapter(namespace, namespace.adapter)
        self._started = True
        self._bind()
        self.freezer.start()
        for namespace in list(self.namespaces.values()):
            await namespace.adapter.init()
        await start_features(self)  # histories kept in a store are loaded
        return True

    @property
    def accepting(self) -> bool:
        """Whether the server takes new connections: started, and not closing or closed."""
        return self._started and self._closer is None

    def _bind(self) -> None:
        """Make the loop-owned state in the running loop: a server closed in one
        ``asyncio.run`` can be started again in the next (pytest-asyncio's loop per test)."""
        self._closed = asyncio.Event()
        self._closer = None
        self._force = None
        self.engine.bind()
        self.engine.closing = False  # a server closed before takes new sessions again

    @property
    def healthy(self) -> bool:
        """Whether every namespace's adapter reaches its cluster (``health_path``)."""
        return all(namespace.adapter.healthy for namespace in list(self.namespaces.values()))

    def _health(self, request: HTTPRequest) -> HTTPResponse:
        # For orchestrators: 503 while an adapter cannot reach its cluster (a deaf worker).
        ok = self.healthy
        return HTTPResponse(200 if ok else 503, b"ok" if ok else b"unhealthy", [])

    @property
    def sockets(self) -> Namespace:
        """The main namespace ``/`` (``io.sockets`` in Node)."""
        return self.namespaces["/"]

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F) -> F: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Listen on the main namespace (``connection``/``connect``), or to ``new_namespace``.

        Called as :meth:`Namespace.on`: with the handler, or without it as a decorator.

        Args:
            event: ``connection`` (alias ``connect``), ``new_namespace`` (``handler(namespace)``
                for each namespace made, dynamic children included), or any other event
                :meth:`Namespace.on` takes.
            handler: The function to call; omit it to use ``on`` as a decorator.

        Returns:
            The handler, or a decorator that registers its function and returns it.
        """
        if handler is None:
            return lambda fn: self.on(event, fn)
        if event == "new_namespace":
            self._handlers.setdefault(event, []).append(handler)
            return handler
        return self.sockets.on(event, handler)

    def event(self, handler: F) -> F:
        """Decorator: the function's name is the event (``connect``/``connection``).

        Args:
            handler: The function, named after the event it handles.

        Returns:
            The handler, unchanged.
        """
        return self.on(handler.__name__, handler)

    def use(self, middleware: Callable[..., Any]) -> Callable[..., Any]:
        """Add a connection middleware to the main namespace (see :meth:`Namespace.use`).

        Args:
            middleware: Called as ``middleware(socket)`` before the ``connection`` event.

        Returns:
            The middleware, so that this works as a decorator.
        """
        return self.sockets.use(middleware)

    # -- engine events (EngineHandler) --------------------------------------------------

    def on_open(self, session: ServerSession, request: HTTPRequest) -> None:
        """Engine callback: a client opened an Engine.IO session.

        Args:
            session: The new session.
            request: The HTTP request that opened it (headers, query, address: the sockets'
                handshake is built from it).
        """
        session.owner = Connection(self, session, request)

    def _connect_expired(self, sid: str) -> None:
        session = self.engine.sessions.get(sid)
        if session is not None and isinstance(session.owner, Connection):
            session.owner.connect_expired()

    def on_message(self, session: ServerSession, data: str | bytes) -> None:
        """Engine callback: a Socket.IO packet arrived on a session.

        Args:
            session: The session it came on.
            data: One Engine.IO message: a packet, or a binary attachment of one.
        """
        session.owner.receive(data)

    def on_close(self, session: ServerSession, reason: str) -> None:
        """Engine callback: a session closed; its sockets disconnect with ``reason``.

        Args:
            session: The closed session.
            reason: The Engine.IO close reason (``"transport close"``, ``"ping timeout"``...).
        """
        owner = session.owner
        if owner is not None:
            session.owner = None
            owner.on_close(reason)

    # -- connection state recovery hooks ------------------------------------------------

    @property
    def recovery_skips_middlewares(self) -> bool:
        """Whether a recovered socket bypasses the connection middlewares."""
        return bool(self.recovery is not None and self.recovery.skip_middlewares)

    def restore_socket(
        self, namespace: Namespace, conn: Connection, auth: dict[str, Any]
    ) -> Socket | Awaitable[Socket | None] | None:
        """The recovered socket of a CONNECT, when connection state recovery can restore one.

        Args:
            namespace: The namespace the client connects to.
            conn: The client's connection.
            auth: The CONNECT payload, which carries the ``pid`` and ``offset`` to recover.

        Returns:
            The restored socket, or None (no recovery asked, or nothing to recover); an
            awaitable of either when an adapter that keeps the sessions across a cluster has
            to be asked.
        """
        if self.recovery is None:
            return None
        return self.recovery.restore(namespace, conn, auth)  # type: ignore[no-any-return]

    def on_socket_connecting(self, socket: Socket) -> None:
        """Before the CONNECT ack: recovery gives the socket its pid and its rooms back.

        Args:
            socket: The socket being accepted.
        """
        if self.recovery is not None:
            self.recovery.connecting(socket)

    def on_socket_connected(self, socket: Socket) -> None:
        """After the CONNECT ack: recovery replays what the socket missed.

        Args:
            socket: The socket just accepted.
        """
        if self.recovery is not None:
            self.recovery.connected(socket)

    def on_socket_closing(self, socket: Socket, reason: str) -> None:
        """Keep what connection state recovery needs of a socket about to disconnect.

        Args:
            socket: The socket, still in its rooms.
            reason: Its disconnect reason; only the ones a client may come back from are kept.
        """
        if self.recovery is not None:
            self.recovery.closing(socket, reason)

    # -- tasks --------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine as a task owned by the server (cancelled by :meth:`close`).

        Args:
            coro: The coroutine; its exception, if any, is logged.
        """
        spawn_task(coro, self._tasks, logger, "task failed")

    # -- running and closing -----------------------------------------------------------

    def add_listener(self, listener: asyncio.Server) -> None:
        """Close ``listener`` (a front door's listening socket) when the server closes.

        Args:
            listener: The asyncio server listening for this server's connections.
        """
        self._listeners.append(listener)

    async def wait_closed(self) -> None:
        """Wait until the running server has been closed (at once if it is not running)."""
        if self._closed is not None:
            await self._closed.wait()

    def handle_signals(self) -> None:
        """Make SIGINT and SIGTERM call :meth:`stop` in the running loop (where the loop
        supports signal handlers)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.stop)

    def stop(self) -> None:
        """Ask the server to stop, as a signal does: the first call starts a graceful
        :meth:`close`, any later one forces it (sessions closed, tasks cancelled, without
        waiting for handlers or adapters). Never starts a second close: two closes would
        each wait for the other."""
        if self._closer is None:
            logger.info("shutting down: closing %d connection(s)", len(self.engine.sessions))
            self._begin_close()
        elif not self._closer.done() and self._force is not None and not self._force.is_set():
            logger.warning("stopping again: forcing the shutdown")
            self._force.set()

    async def close(self) -> None:
        """Stop accepting, disconnect every client ("server shutting down"), stop tasks.

        Bounded: what does not finish within ``shutdown_timeout`` seconds (a handler or
        an adapter that blocks) is abandoned. Concurrent and repeated calls share one
        close; once it is done the server may be started again, in this loop or another.
        """
        closer = self._closer
        if closer is not None and closer.done():
            return  # closed already (perhaps in a loop that is gone: nothing to await)
        if closer is None:
            closer = self._begin_close()
        current = asyncio.current_task()
        if current is not None:
            self._closers.add(current)
        try:
            await asyncio.shield(closer)
        finally:
            if current is not None:
                self._closers.discard(current)

    def _begin_close(self) -> asyncio.Task[None]:
        # The close runs as a task of its own, outside ``_tasks``: it cancels those.
        self._force = asyncio.Event()
        closer = self._closer = asyncio.get_running_loop().create_task(self._close())
        return closer

    async def _close(self) -> None:
        try:
            self.engine.closing = True  # no new session; the port closes after the drain
            graceful = asyncio.get_running_loop().create_task(self._close_gracefully())
            graceful.add_done_callback(self._log_failure)
            if not await self._finished(graceful, self.shutdown_timeout):
                graceful.cancel()
                await asyncio.wait({graceful}, timeout=1.0)
                self.engine.abort()
            await self._cancel_tasks(timeout=1.0)
            self._stop_listening()
            for listener in self._listeners:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.wait_closed(), 1.0)
        finally:
            self._listeners.clear()
            self._release()

    async def _finished(self, task: asyncio.Task[None], timeout: float) -> bool:
        """Wait for ``task`` at most ``timeout`` seconds, less if :meth:`stop` forces."""
        assert self._force is not None
        forced = asyncio.get_running_loop().create_task(self._force.wait())
        try:
            await asyncio.wait({task, forced}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            forced.cancel()
        if task.done():
            return True
        if not self._force.is_set():
            logger.warning("graceful close took over %.1f s: forcing it", timeout)
            self._force.set()
        return False

    def _log_failure(self, task: asyncio.Task[None]) -> None:
        """Log how a graceful close failed; one cut short by force may fail in any way
        (a Redis command cancelled halfway), which is only worth a debug line."""
        if task.cancelled() or (error := task.exception()) is None:
            return
        forced = self._force is not None and self._force.is_set()
        logger.log(
            logging.DEBUG if forced else logging.ERROR, "graceful close failed", exc_info=error
        )

    async def _close_gracefully(self) -> None:
        if self.recovery is not None:
            await self.recovery.shutdown()
        await self.engine.close()
        self.deadlines.cancel()
        if self._listeners:
            # The polling clients fetch their CLOSE packet with their next GET, which may
            # come on a new connection (Node's client opens one per request): the port and
            # the kept-alive connections stay until they have (at most close_timeout).
            await self.engine.polling.until_taken(self.router.limits.close_timeout)
        self._stop_listening()
        for namespace in list(self.namespaces.values()):
            await namespace.adapter.close()
        await close_features(self)

    def _stop_listening(self) -> None:
        """Close the front doors' ports and their idle HTTP connections (asyncio's
        ``Server.close()`` leaves accepted connections open)."""
        for listener in self._listeners:
            listener.close()
        self.router.close_idle()

    async def _cancel_tasks(self, timeout: float) -> None:
        """Cancel the server's tasks (not those awaiting the close) and give them
        ``timeout`` seconds to end: one that ignores cancellation is left behind."""
        tasks = [task for task in self._tasks if task not in self._closers]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def _release(self) -> None:
        """Leave nothing bound to this loop: closed adapters cannot start again, so each
        namespace gets a fresh one (started with the next start)."""
        self._started = False
        self.freezer.stop()
        try:
            for namespace in list(self.namespaces.values()):
                namespace.adapter = self._new_adapter(namespace, namespace.adapter)
        finally:
            if self._closed is not None:
                self._closed.set()  # serve() and wait_closed() return, whatever happened
