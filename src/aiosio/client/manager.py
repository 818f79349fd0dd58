"""Manager: one Engine.IO connection shared by the namespaces of a server, and reconnection.

As socket.io-client's Manager: it opens the connection when a socket asks for it, routes
decoded packets to the socket of each namespace (a :class:`Socket`: what the manager calls on
a :class:`~aiosio.client.client.Client`), and, when
the connection is lost, reconnects with exponential backoff (:class:`Backoff`, the same
formula as socket.io-client's). It closes the connection once no socket is active.

Events (``manager.on(event, handler)``): ``open``, ``close`` (reason, error), ``error``
(a :class:`~aiosio.exceptions.ConnectionError`), ``ping``, ``upgrade`` (the new
transport's name, as engine.io-client's event), ``reconnect_attempt``
(attempt), ``reconnect`` (attempt), ``reconnect_error`` (error) and ``reconnect_failed``.
The ``reconnect*`` events are also fired on every active socket.

:class:`BaseManager` is the connection; :class:`aiosio.client.Manager`
(:mod:`aiosio.client.client`) adds ``socket()``, which creates clients. This module knows
sockets only through :class:`Socket`, so it never imports the client.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import random
import ssl as ssl_module
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar, Unpack
from urllib.parse import parse_qsl, urlsplit

from aiosio._tasks import spawn
from aiosio.client.client_options import ManagerOptions
from aiosio.client.cookies import CookieJar
from aiosio.client.engine import EngineClient
from aiosio.client.events import Listeners
from aiosio.client.http import Address
from aiosio.client.proxy import proxy_for
from aiosio.client.transports import Endpoint, TransportFactory, create
from aiosio.exceptions import ConnectionError, RemoteProtocolError
from aiosio.socketio.packets import Packet
from aiosio.socketio.parsers import Parser, get_parser
from aiosio.socketio.session import Namespaces

__all__ = ["Backoff", "BaseManager", "ManagerOptions", "Socket", "State", "lookup"]

logger = logging.getLogger("aiosio.client.manager")

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound="BaseManager")

FORCED_CLOSE = "forced close"
SOCKET_EVENTS = frozenset({"reconnect", "reconnect_attempt", "reconnect_error", "reconnect_failed"})
"""Manager events that the sockets of the manager fire too (docs/design.md, "Client")."""

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class State(enum.Enum):
    """Where a manager's connection is."""

    CLOSED = "closed"
    OPENING = "opening"  # the first attempt
    OPEN = "open"
    RECONNECTING = "reconnecting"  # waiting between attempts, or attempting


class Backoff:
    """Exponential backoff with randomisation, as socket.io-client's ``Backoff``.

    The n-th delay (from 0) is ``min * factor**n``, moved up or down by at most
    ``jitter`` times itself, then capped at ``max``; the arithmetic is done in whole
    milliseconds, as there.
    """

    def __init__(
        self,
        *,
        min: float = 0.1,
        max: float = 10.0,
        jitter: float = 0.0,
        factor: float = 2.0,
        random: Callable[[], float] = random.random,
    ) -> None:
        self.min = min
        self.max = max
        self.jitter = jitter if 0 < jitter <= 1 else 0.0
        self.factor = factor
        self.attempts = 0
        self._random = random

    def duration(self) -> float:
        """The next delay in seconds; counts one attempt."""
        exponent = min(self.attempts, 1000)  # beyond, the cap applies anyway
        self.attempts += 1
        ms = self.min * 1000 * self.factor**exponent
        if self.jitter:
            rand = self._random()
            deviation = math.floor(rand * self.jitter * ms)
            ms = ms - deviation if math.floor(rand * 10) & 1 == 0 else ms + deviation
        return math.floor(min(ms, self.max * 1000)) / 1000

    def reset(self) -> None:
        """Start counting attempts from 0 again."""
        self.attempts = 0


class Socket(Protocol):
    """What the manager calls on the socket of a namespace (a
    :class:`~aiosio.client.client.Client`)."""

    @property
    def namespace(self) -> str:
        """The namespace it joins."""

    @property
    def active(self) -> bool:
        """Whether it wants the connection (connected, or trying to be)."""

    def fire(self, event: str, *args: Any) -> None:
        """Run its handlers of a manager event it hears too (``reconnect``...)."""

    def on_open(self) -> None:
        """The connection is open: send its CONNECT."""

    def on_error(self, error: ConnectionError) -> None:
        """The connection could not be opened."""

    def on_close(self, reason: str, error: BaseException | None) -> None:
        """The connection was lost or closed."""

    def on_packet(self, packet: Packet) -> None:
        """A packet of its namespace arrived."""


class BaseManager:
    """One Engine.IO connection to a server, shared by the sockets of its namespaces."""

    def __init__(self, url: str = "http://localhost", **options: Unpack[ManagerOptions]) -> None:
        """Set the options; nothing connects until a socket asks.

        Args:
            url: The server's URL (``http``, ``https``, ``ws`` or ``wss``); its path is not
                used (each client names its namespace).
            **options: :class:`ManagerOptions`, shared by the clients of the connection:
                transports, timeouts, reconnection and its backoff, the parser.
        """
        opts = options
        self.url = url
        self.endpoint = _endpoint(url, opts)
        self.transports: tuple[str, ...] = tuple(opts.get("transports", ("polling", "websocket")))
        self.upgrade = opts.get("upgrade", True)
        self.remember_upgrade = opts.get("remember_upgrade", False)
        self.try_all_transports = opts.get("try_all_transports", False)
        self.transport_factory: TransportFactory = opts.get("transport_factory", create)
        self.timeout = opts.get("timeout", 20.0)
        self.reconnection = opts.get("reconnection", True)
        self.reconnection_attempts = opts.get("reconnection_attempts", math.inf)
        self.backoff = Backoff(
            min=opts.get("reconnection_delay", 1.0),
            max=opts.get("reconnection_delay_max", 5.0),
            jitter=opts.get("randomization_factor", 0.5),
        )
        self.nsps: dict[str, Socket] = {}
        self.namespaces: Namespaces[Socket] = Namespaces()  # of the current connection
        self.engine: EngineClient | None = None
        self.state = State.CLOSED
        self._listeners = Listeners()
        self.parser: Parser = get_parser(opts.get("parser"))
        self._decoder = self.parser.decoder(
            max_attachments=10, max_depth=64, max_attachment_size=None
        )
        self._skip_reconnect = False
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<Manager {self.url} {self.state.value}>"

    def _set_state(self, state: State) -> None:
        logger.debug("manager %s: %s -> %s", self.url, self.state.value, state.value)
        self.state = state

    # -- listeners --------------------------------------------------------------------

    def on(self, event: str, handler: F) -> F:
        """Listen to a manager event.

        Args:
            event: ``open``, ``close``, ``error``, ``ping``, ``upgrade``, ``reconnect``,
                ``reconnect_attempt``, ``reconnect_error`` or ``reconnect_failed``.
            handler: Called with the event's arguments.

        Returns:
            The handler.
        """
        return self._listeners.on(event, handler)

    def once(self, event: str, handler: F) -> F:
        """Listen to the next occurrence of a manager event.

        Args:
            event: A manager event name, as for :meth:`on`.
            handler: Called once, then removed.

        Returns:
            The handler.
        """
        return self._listeners.once(event, handler)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove one handler, every handler of an event, or every handler.

        Args:
            event: The event; None removes the handlers of every event.
            handler: The handler to remove; None removes every handler of ``event``.
        """
        self._listeners.off(event, handler)

    def _fire(self, event: str, *args: Any) -> None:
        self._listeners.fire(event, *args)
        if event in SOCKET_EVENTS:
            for socket in self._active():
                socket.fire(event, *args)

    # -- sockets ----------------------------------------------------------------------

    def register(self, socket: Socket) -> None:
        """Attach a new socket (done by :class:`~aiosio.client.client.Client` itself).

        Args:
            socket: The client of one namespace, replacing an earlier one of that namespace.
        """
        self.nsps[socket.namespace] = socket

    def _active(self) -> list[Socket]:
        return [socket for socket in self.nsps.values() if socket.active]

    async def destroy(self, socket: Socket) -> None:
        """A socket became inactive: close the connection when it was the last one.

        Args:
            socket: The socket that went inactive.
        """
        if not self._active():
            await self.disconnect()

    def release(self, socket: Socket) -> None:
        """Like :meth:`destroy`, for code that cannot wait (a packet handler).

        Args:
            socket: The socket that went inactive; the close, if any, runs in a task.
        """
        if not self._active():
            self._closing.add(self._spawn(self._finish_close(*self._close())))

    # -- opening and reconnecting -----------------------------------------------------

    def open(self) -> None:
        """Start opening the connection, unless it is open or being (re)opened."""
        if self.state is not State.CLOSED:
            return
        self._skip_reconnect = False
        self._set_state(State.OPENING)
        self._task = self._spawn(self._open_first())

    async def _open_first(self) -> None:
        error = await self._attempt()
        if error is None:
            return
        self._set_state(State.CLOSED)
        self._on_error(error)
        if self.reconnection and not self._skip_reconnect and self.backoff.attempts == 0:
            await self._reconnect_loop()

    async def _attempt(self) -> ConnectionError | None:
        """One attempt to open the connection; the error, or None when it opened."""
        engine = EngineClient(
            self.endpoint,
            self,
            transports=self.transports,
            upgrade=self.upgrade,
            transport_factory=self.transport_factory,
            remember_upgrade=self.remember_upgrade,
            try_all_transports=self.try_all_transports,
        )
        try:
            async with asyncio.timeout(self.timeout):
                await engine.connect()
        except TimeoutError:
            engine.abort()
            return ConnectionError("timeout")
        except ConnectionError as exc:
            return exc
        self.engine = engine
        self._on_open()
        return None

    async def _reconnect_loop(self) -> None:
        self._set_state(State.RECONNECTING)
        while not self._skip_reconnect:
            if self.backoff.attempts >= self.reconnection_attempts:
                self.backoff.reset()
                self._set_state(State.CLOSED)
                self._fire("reconnect_failed")
                return
            await asyncio.sleep(self.backoff.duration())
            self._fire("reconnect_attempt", self.backoff.attempts)
            error = await self._attempt()
            if error is None:
                attempt = self.backoff.attempts
                self.backoff.reset()
                self._fire("reconnect", attempt)
                return
            self._on_error(error)
            self._fire("reconnect_error", error)

    def _on_open(self) -> None:
        self._set_state(State.OPEN)
        self._decoder.reset()
        self.namespaces.clear()
        self._fire("open")
        for socket in self._active():
            socket.on_open()

    def _on_error(self, error: ConnectionError) -> None:
        self._fire("error", error)
        for socket in self._active():
            socket.on_error(error)

    # -- the open connection ----------------------------------------------------------

    @property
    def writable(self) -> bool:
        """Whether a packet written now goes out at once."""
        return self.engine is not None and self.engine.writable

    def ping_expired(self) -> bool:
        """Whether the heartbeat deadline passed (see :meth:`EngineClient.ping_expired`).

        Returns:
            True when the server has been silent past ``ping_interval + ping_timeout``, or
            there is no connection.
        """
        return self.engine is None or self.engine.ping_expired()

    def write(self, items: Sequence[str | bytes]) -> None:
        """Send one packet as the parser encoded it (Engine.IO messages, ``4`` included).

        Args:
            items: The encoded packet: its text (or binary) message, then its attachments.
                Nothing is sent while there is no connection.
        """
        engine = self.engine
        if engine is None:
            return
        for item in items:
            engine.send_encoded(item)

    def on_message(self, data: str | bytes) -> None:
        """EngineHandler: decode a Socket.IO packet and hand it to its namespace.

        A packet that does not decode closes the connection ("parse error").

        Args:
            data: One Engine.IO message: a packet, or a binary attachment of one.
        """
        decoder = self._decoder
        try:
            if isinstance(data, str):
                packet = decoder.receive_text(data)
            else:
                packet = decoder.receive_binary(data)
        except RemoteProtocolError as exc:
            if self.engine is not None:
                self.engine.abort()
            self._on_lost("parse error", exc)
            return
        if packet is not None:
            self._route(packet)

    def _route(self, packet: Packet) -> None:
        name = packet.namespace
        if not self.namespaces.route(name):
            return  # no CONNECT was sent for it on this connection
        socket = self.nsps.get(name)
        if socket is not None and socket.active:
            socket.on_packet(packet)

    def on_ping(self) -> None:
        """EngineHandler: the server pinged."""
        self._fire("ping")

    def on_upgrade(self, transport: str) -> None:
        """EngineHandler: the connection was upgraded.

        Args:
            transport: The new transport (``websocket``), given to the ``upgrade`` handlers.
        """
        self._fire("upgrade", transport)

    def on_close(self, reason: str, error: BaseException | None) -> None:
        """EngineHandler: the connection was lost.

        Args:
            reason: Why (``"transport close"``, ``"ping timeout"``...).
            error: The exception behind it, if any.
        """
        self._on_lost(reason, error)

    def _on_lost(self, reason: str, error: BaseException | None) -> None:
        self.engine = None
        self._closed(reason, error)
        if self.reconnection and not self._skip_reconnect and self.state is State.CLOSED:
            self._task = self._spawn(self._reconnect_loop())

    # -- closing ----------------------------------------------------------------------

    async def disconnect(self) -> None:
        """Close the connection and stop reconnecting ("forced close").

        Active sockets get ``disconnect`` with reason "forced close" and stay active: a
        later ``connect()`` of one of them opens the connection again.
        """
        await self._finish_close(*self._close())
        current = asyncio.current_task()
        closing = [task for task in self._closing if task is not current]
        if closing:  # closes started by release(): the caller may rely on them being done
            await asyncio.wait(closing)

    def _close(self) -> tuple[EngineClient | None, asyncio.Task[None] | None]:
        """Close at once; return what is left to wait for: the old engine and task.

        The state changes here, synchronously, so that a socket connecting right after
        (in the same loop iteration) opens a new connection.
        """
        self._skip_reconnect = True
        task, self._task = self._task, None
        if task is asyncio.current_task():
            task = None
        elif task is not None:
            task.cancel()
        engine, self.engine = self.engine, None
        self._closed(FORCED_CLOSE, None)
        return engine, task

    def _closed(self, reason: str, error: BaseException | None) -> None:
        """The connection is gone (lost or closed): reset, CLOSED, then ``close`` for the
        manager's listeners and each active socket."""
        self._decoder.reset()
        self.namespaces.clear()
        self.backoff.reset()
        self._set_state(State.CLOSED)
        self._fire("close", reason, error)
        for socket in self._active():
            socket.on_close(reason, error)

    async def _finish_close(
        self, engine: EngineClient | None, task: asyncio.Task[None] | None
    ) -> None:
        if task is not None:
            await asyncio.wait({task})
        if engine is not None:
            await engine.close()  # flushes what was written before (a DISCONNECT)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return spawn(
            coro, self._tasks, logger, "manager task failed", on_done=self._closing.discard
        )


def _endpoint(url: str, options: ManagerOptions) -> Endpoint:
    """The Engine.IO endpoint for ``url`` (its path is the namespace, not used here).

    Raises:
        ValueError: For a URL that is not ``http``, ``https``, ``ws`` or ``wss``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"expected an http(s) or ws(s) URL, got {url!r}")
    context: ssl_module.SSLContext | None = None
    if scheme in ("https", "wss"):
        context = options.get("ssl") or ssl_module.create_default_context()
    proxy = proxy_for(scheme, parts.hostname, options.get("proxy"))
    address = Address(parts.hostname, parts.port or _DEFAULT_PORTS[scheme], context, proxy=proxy)
    # socket.io-client: the path gets exactly one trailing slash ("addTrailingSlash").
    path = "/" + options.get("path", "/socket.io").strip("/") + "/"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(options.get("query") or {})
    headers = options.get("extra_headers") or ()
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    deflate = options.get("per_message_deflate", True)
    return Endpoint(
        address,
        path,
        query,
        pairs,
        options.get("max_message_size", 100_000_000),
        jar=CookieJar() if options.get("with_credentials") else None,
        deflate_threshold=None if deflate is False else 1024 if deflate is True else deflate,
        webtransport=options.get("webtransport"),
    )


# -- managers shared per server and event loop (socket.io-client's ``io()`` cache) ------

_managers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, BaseManager]] = (
    weakref.WeakKeyDictionary()
)


def lookup(
    cls: type[M],
    url: str,
    namespace: str,
    *,
    force_new: bool,
    multiplex: bool,
    options: dict[str, Any],
) -> M:
    """The manager for a client of ``namespace`` at ``url``.

    As socket.io-client's ``io()``: the manager of the same server (scheme, host, port and
    path) is shared, per event loop, unless ``force_new`` or ``multiplex=False`` is given or
    it already has a socket for ``namespace``; outside an event loop it is always new.
    ``cls`` is the manager class to create (:class:`aiosio.client.Manager`).
    """
    if force_new or not multiplex:
        return cls(url, **options)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return cls(url, **options)
    parts = urlsplit(url)
    key = f"{parts.scheme}://{parts.netloc}{options.get('path', '/socket.io')}"
    cache = _managers.setdefault(loop, {})
    manager = cache.get(key)
    if not isinstance(manager, cls):
        created = cls(url, **options)
        cache[key] = created
        return created
    if namespace in manager.nsps:
        return cls(url, **options)
    return manager
