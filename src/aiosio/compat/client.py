"""AsyncClient: python-socketio's client API over the native :mod:`aiosio.client`.

One native :class:`~aiosio.client.Manager` (the Engine.IO connection, reconnection) and
one native :class:`~aiosio.client.Client` per namespace; handlers registered here are
handed to the namespace's client, a handler's return value answering the server's ack.
"""

from __future__ import annotations

import asyncio
import builtins
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiosio.client import Client, Manager
from aiosio.compat.exceptions import BadNamespaceError, ConnectionError, TimeoutError
from aiosio.compat.handlers import Handler, Registry, arguments, message_of, settle
from aiosio.exceptions import AckTimeout, Disconnected
from aiosio.exceptions import ConnectionError as NativeConnectionError

if TYPE_CHECKING:
    from aiosio.compat.namespace import AsyncClientNamespace

__all__ = ["AsyncClient", "connect_options"]


_LOCAL = frozenset({"connect", "connect_error", "disconnect", "*"})


def connect_options(
    base: dict[str, Any],
    socketio_path: str,
    headers: dict[str, str] | None,
    transports: str | Sequence[str] | None,
) -> dict[str, Any]:
    """The native client's options for python-socketio's ``connect`` arguments (the path,
    extra headers and transports), over ``base``: the constructor's reconnection options.
    Both compat clients connect through it."""
    options: dict[str, Any] = {"path": "/" + socketio_path.strip("/"), **base}
    if headers:
        options["extra_headers"] = dict(headers)
    if transports:
        options["transports"] = (transports,) if isinstance(transports, str) else tuple(transports)
    return options


class AsyncClient(Registry):
    """python-socketio 5's ``AsyncClient``, running on aiosio's client.

    Args:
        reconnection: Reconnect after a connection loss.
        reconnection_attempts: Attempts before giving up; 0, as in python-socketio, means
            no limit.
        reconnection_delay: The first delay between attempts, in seconds.
        reconnection_delay_max: The largest delay between attempts.
        randomization_factor: The jitter of the delays, in 0..1.
        logger: Accepted; aiosio logs through ``logging``.
        serializer: ``"default"`` (JSON) or ``"msgpack"``.
        json: Must be None: aiosio encodes with orjson.
        handle_sigint: Accepted; aiosio's client leaves signals to the application.
        **engineio_options: Accepted and not used.

    Raises:
        ValueError: For another ``serializer``, or a ``json`` module.
    """

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        logger: Any = False,
        serializer: str = "default",
        json: Any = None,
        handle_sigint: bool = True,
        **engineio_options: Any,
    ) -> None:
        if serializer not in ("default", "msgpack"):
            raise ValueError(f"serializer must be 'default' or 'msgpack', not {serializer!r}")
        if json is not None:
            raise ValueError("json= is not supported: aiosio encodes with orjson")
        self._options: dict[str, Any] = {
            "reconnection": reconnection,
            "reconnection_attempts": reconnection_attempts or math.inf,
            "reconnection_delay": reconnection_delay,
            "reconnection_delay_max": reconnection_delay_max,
            "randomization_factor": randomization_factor,
        }
        if serializer == "msgpack":
            self._options["parser"] = "msgpack"
        self.handlers: dict[str, dict[str, Handler]] = {}
        self.namespace_handlers: dict[str, AsyncClientNamespace] = {}
        self.manager: Manager | None = None
        self.clients: dict[str, Client] = {}
        self.connection_url: str | None = None
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- handlers -------------------------------------------------------------------------

    def register_namespace(self, namespace_handler: AsyncClientNamespace) -> None:
        """Register a class-based namespace (its ``on_<event>`` methods).

        Args:
            namespace_handler: An instance of an :class:`AsyncClientNamespace` subclass.
        """
        namespace_handler.client = self
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    def _table(self, namespace: str) -> dict[str, Handler]:
        table = dict(self.handlers.get(namespace, {}))
        instance = self.namespace_handlers.get(namespace)
        if instance is not None:
            table.update(instance.handlers())
        return table

    # -- connecting -----------------------------------------------------------------------

    async def connect(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        transports: str | Sequence[str] | None = None,
        namespaces: str | Sequence[str] | None = None,
        socketio_path: str = "socket.io",
        wait: bool = True,
        wait_timeout: float = 1,
        retry: bool = False,
    ) -> None:
        """Connect to the server at ``url`` and to ``namespaces``.

        Args:
            url: The server's URL (its path is not a namespace here).
            headers: Extra HTTP headers of every request.
            auth: The CONNECT payload, or a function returning it.
            transports: ``"polling"``, ``"websocket"`` or both, in order.
            namespaces: The namespaces to join; None joins those with handlers, or ``/``.
            socketio_path: The server's path (``socket.io``).
            wait: Wait until every namespace is connected; False returns at once.
            wait_timeout: Seconds to wait.
            retry: Keep trying while the server cannot be reached.

        Raises:
            ConnectionError: Already connected, refused, or not connected in
                ``wait_timeout`` seconds.
        """
        if self.connected:
            raise ConnectionError("Already connected")
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        names = list(namespaces or {*self.handlers, *self.namespace_handlers} or ["/"])
        parts = urlsplit(url)
        options = connect_options(self._options, socketio_path, headers, transports)
        self.manager = Manager(f"{parts.scheme}://{parts.netloc}", **options)
        self.connection_url = url
        self._done.clear()
        self.clients = {name: self._client(name, auth) for name in names}
        pending = [client.connect(retry=retry) for client in self.clients.values()]
        if not wait:
            for coro in pending:
                self.start_background_task(lambda c=coro: c)
            return
        try:
            async with asyncio.timeout(wait_timeout):
                await asyncio.gather(*pending)
        except NativeConnectionError as exc:
            await self.disconnect()
            raise ConnectionError(exc.message if exc.data is None else exc.data) from None
        except builtins.TimeoutError:
            await self.disconnect()
            raise ConnectionError("One or more namespaces failed to connect") from None

    def _client(self, namespace: str, auth: Any) -> Client:
        assert self.manager is not None
        client = self.manager.socket(namespace, auth=auth)
        table = self._table(namespace)
        known = frozenset(table) - _LOCAL
        for event in known:
            client.on(event, _client_listener(table[event]))
        handler = table.get("connect")
        if handler is not None:
            client.on("connect", _fitted(handler))
        handler = table.get("connect_error")
        if handler is not None:
            client.on("connect_error", _connect_error(handler))
        handler = table.get("disconnect")
        client.on("disconnect", self._disconnected(client, handler))
        handler = table.get("*")
        if handler is not None:
            catch_all = handler

            def unknown(event: str, *args: Any) -> None:
                if event not in known:
                    result = catch_all.fn(event, *args)
                    if asyncio.iscoroutine(result):
                        self.start_background_task(lambda: result)

            client.on_any(unknown)
        return client

    def _disconnected(self, client: Client, handler: Handler | None) -> Callable[..., Any]:
        def disconnected(reason: str, error: Any = None) -> None:
            if handler is not None:
                result = handler.fitted(reason)
                if asyncio.iscoroutine(result):
                    self.start_background_task(lambda: result)
            if not any(c.active for c in self.clients.values()):
                self._done.set()

        return disconnected

    async def wait(self) -> None:
        """Wait until the client is disconnected for good (reconnection gave up, or
        :meth:`disconnect`)."""
        await self._done.wait()

    async def disconnect(self) -> None:
        """Leave every namespace and close the connection."""
        for client in list(self.clients.values()):
            await client.disconnect()
        self._done.set()

    async def shutdown(self) -> None:
        """Disconnect, and stop reconnecting."""
        await self.disconnect()

    # -- state ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return any(client.connected for client in self.clients.values())

    @property
    def namespaces(self) -> dict[str, str | None]:
        """The connected namespaces and the sid in each."""
        return {name: c.id for name, c in self.clients.items() if c.connected}

    @property
    def sid(self) -> str | None:
        """The sid in the ``/`` namespace."""
        return self.get_sid("/")

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The sid in a namespace.

        Args:
            namespace: The namespace; None means ``/``.

        Returns:
            The sid, or None when not connected there.
        """
        client = self.clients.get(namespace or "/")
        return None if client is None else client.id

    def transport(self) -> str | None:
        """How the client is connected now.

        Returns:
            ``"websocket"`` or ``"polling"``, or None when not connected.
        """
        return next((c.transport for c in self.clients.values() if c.connected), None)

    # -- emitting -------------------------------------------------------------------------

    def _connected_client(self, namespace: str | None) -> Client:
        client = self.clients.get(namespace or "/")
        if client is None or not client.connected:
            raise BadNamespaceError(f"{namespace or '/'} is not a connected namespace.")
        return client

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        """Send an event.

        Args:
            event: The event name.
            data: The event's one argument, a tuple of several, or None for none.
            namespace: The namespace; None means ``/``.
            callback: Called as ``callback(*answer)`` with the server's acknowledgement.

        Raises:
            BadNamespaceError: The namespace is not connected.
        """
        self._connected_client(namespace).emit(event, *arguments(data), callback=callback)

    send = message_of(emit)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        """Emit and wait for the server's acknowledgement.

        Args:
            event: The event name.
            data: The event's one argument, a tuple of several, or None for none.
            namespace: The namespace; None means ``/``.
            timeout: Seconds to wait for the answer.

        Returns:
            The server's one answer argument, a tuple of several, or None.

        Raises:
            BadNamespaceError: The namespace is not connected.
            TimeoutError: No answer within ``timeout`` seconds.
        """
        client = self._connected_client(namespace)
        try:
            return await client.emit_with_ack(event, *arguments(data), timeout=timeout)
        except (AckTimeout, Disconnected):
            raise TimeoutError() from None

    # -- tasks ----------------------------------------------------------------------------

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` as a task, kept until it ends.

        Args:
            target: A coroutine function.
            *args: Its positional arguments.
            **kwargs: Its keyword arguments.

        Returns:
            The task.
        """
        task = asyncio.get_running_loop().create_task(settle(target(*args, **kwargs)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``, python-socketio's way.

        Args:
            seconds: How long to sleep.
        """
        await asyncio.sleep(seconds)


def _client_listener(handler: Handler) -> Callable[..., Any]:
    fn = handler.fn
    if handler.is_async:

        async def call_async(*args: Any) -> Any:
            return await fn(*args)

        return call_async

    def call(*args: Any) -> Any:
        return fn(*args)

    return call


def _fitted(handler: Handler) -> Callable[..., Any]:
    if handler.is_async:

        async def call_async(*args: Any) -> Any:
            return await handler.fitted(*args)

        return call_async
    return handler.fitted


def _connect_error(handler: Handler) -> Callable[..., Any]:
    """python-socketio gives ``connect_error`` the server's data (its message alone
    when it sent no data)."""

    def call(error: Any) -> Any:
        message = getattr(error, "message", str(error))
        data = getattr(error, "data", None)
        return handler.fitted(message if data is None else {"message": message, "data": data})

    return _fitted(Handler(call, handler.is_async, 1))
