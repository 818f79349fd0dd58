"""Blocking wrappers: :class:`SyncClient` and :class:`SyncSimpleClient`.

They hold no protocol logic: every call runs the asyncio client on one background event
loop thread, shared by all of them (``asyncio.run_coroutine_threadsafe``), and blocks
until it is done. Handlers run on that thread, so they must not block; from a handler,
non-blocking calls (``emit``, ``on``...) are allowed and blocking ones (``connect``,
``emit_with_ack``...) raise :class:`RuntimeError` instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Protocol, Self, TypeVar, Unpack, cast, overload

from aiosio._forward import Forward, carry
from aiosio.client.client import Client, ClientOptions
from aiosio.client.simple import SimpleClient

__all__ = ["SyncClient", "SyncSimpleClient"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


class _LoopThread:
    """The event loop thread of the sync clients, started on first use."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @classmethod
    def loop(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="aiosio-sync-client", daemon=True
                )
                thread.start()
                cls._loop, cls._thread = loop, thread
                atexit.register(cls.stop)
            return cls._loop

    @classmethod
    def stop(cls) -> None:
        with cls._lock:
            loop, thread = cls._loop, cls._thread
            cls._loop = cls._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        if not thread.is_alive():
            loop.close()


def _on_loop_thread() -> bool:
    return threading.current_thread() is _LoopThread._thread


def _wait(factory: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
    """Run ``factory()`` on the loop thread and block until it is done.

    After ``timeout`` seconds the operation is cancelled and :class:`TimeoutError` raised.
    """
    if _on_loop_thread():
        raise RuntimeError("blocking call from a handler: it would deadlock the event loop")

    async def run() -> T:
        return await factory()

    future = asyncio.run_coroutine_threadsafe(run(), _LoopThread.loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def _call(fn: Callable[[], T]) -> T:
    """Call ``fn`` on the loop thread (directly when already there) and return its result."""
    if _on_loop_thread():
        return fn()

    async def run() -> T:
        return fn()

    return asyncio.run_coroutine_threadsafe(run(), _LoopThread.loop()).result()


def _registrar(register: Callable[[Any], object]) -> Callable[[F], F]:
    """A decorator that registers a handler on the loop thread and returns it unchanged."""

    def decorator(fn: F) -> F:
        _call(lambda: register(fn))
        return fn

    return decorator


def on_loop(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
    """``method`` of :class:`Client` as a method of the sync client: the same call on its
    client, made on the loop thread (its signature and docstring are ``method``'s).

    For what returns at once (registering and removing handlers): a registration
    returns the handler itself, so a decorator form works as on the client.

    Args:
        method: A method of :class:`Client` that does not block.

    Returns:
        The method for the sync client's class body: ``off = on_loop(Client.off)``.
    """
    name = method.__name__

    def forward(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        target: Callable[..., R] = getattr(self.client, name)
        return _call(lambda: target(*args, **kwargs))

    return carry(forward, method, _ON_LOOP)


class _Registration(Protocol):
    """What ``on``/``once`` of the sync client are to a type checker: the client's two forms."""

    @overload
    def __call__(self, event: str) -> Callable[[F], F]: ...
    @overload
    def __call__(self, event: str, handler: F) -> F: ...


def registering_on_loop(method: Callable[[Client, str, Any], object]) -> _Registration:
    """``method`` of :class:`Client` that registers a handler (``on``, ``once``), called
    directly or as a decorator, as a method of the sync client: the registration is made
    on the loop thread, in both forms (the client's own decorator would make it on the
    thread that applies it).

    Args:
        method: ``Client.on`` or ``Client.once``.

    Returns:
        The method for the sync client's class body: ``on = registering_on_loop(Client.on)``.
    """
    name = method.__name__

    def forward(self: Any, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        register = getattr(self.client, name)
        decorator: Callable[[F], F] = _registrar(lambda fn: register(event, fn))
        return decorator if handler is None else decorator(handler)

    return cast(_Registration, carry(forward, method, _ON_LOOP))


_ON_LOOP = (
    "On the sync client: called on its event loop thread, where handlers run (they must not block)."
)


class _DisconnectOnExit:
    """``with`` support: leaving the block disconnects."""

    def disconnect(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.disconnect()


class SyncClient(_DisconnectOnExit):
    """A blocking :class:`~aiosio.client.client.Client`; the same arguments and methods.

    The asyncio client runs on a loop thread of its own; each method waits for its result.

    Args:
        url: The server's URL; its path is the namespace.
        **options: :class:`ClientOptions`, as for :class:`Client`.
    """

    def __init__(self, url: str = "http://localhost", **options: Unpack[ClientOptions]) -> None:
        self.client: Client = _call(lambda: Client(url, **options))

    def __repr__(self) -> str:
        return f"<SyncClient {self.client!r}>"

    id = Forward[str | None]("client")
    connected = Forward[bool]("client")
    active = Forward[bool]("client")
    recovered = Forward[bool]("client")
    transport = Forward[str | None]("client")

    def connect(self, *, retry: bool = False, timeout: float | None = None) -> None:
        """Connect and block until connected (see :meth:`Client.connect`).

        Args:
            retry: Keep trying (with the reconnection backoff) instead of failing.
            timeout: Seconds to wait; None waits for ever.

        Raises:
            ConnectionError: The connection failed or was refused.
            TimeoutError: Not connected within ``timeout``.
        """
        _wait(lambda: self.client.connect(retry=retry), timeout)

    def disconnect(self) -> None:
        """Disconnect from the namespace and block until it is done."""
        _wait(self.client.disconnect)

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event.

        Args:
            event: The event name.
            *args: The arguments of the event.
            callback: Called with the server's acknowledgement, on the loop thread.
        """
        _call(lambda: self.client.emit(event, *args, callback=callback))

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send a ``message`` event (see :meth:`Client.send`).

        Args:
            *args: The arguments of the event.
            callback: Called (on the loop thread) with the server's acknowledgement.
        """
        _call(lambda: self.client.send(*args, callback=callback))

    def emit_with_ack(
        self, event: str, *args: Any, timeout: float | None = None, response: Any = None
    ) -> Any:
        """Send an event and block until it is acknowledged.

        Args:
            event: The event name.
            *args: The arguments of the event.
            timeout: Seconds to wait; None waits for ever.
            response: A type to check and convert the answer to (typed events).

        Returns:
            The answer: its argument, a tuple of several, or None.

        Raises:
            AckTimeout: No answer in time.
            Disconnected: The connection was lost first.
            InvalidPayload: The answer does not fit ``response``.
        """
        client = self.client
        return _wait(lambda: client.emit_with_ack(event, *args, timeout=timeout, response=response))

    def call(
        self, event: str, *args: Any, timeout: float | None = 60.0, response: Any = None
    ) -> Any:
        """Like :meth:`emit_with_ack`, with a default timeout of 60 seconds.

        Args:
            event: The event name.
            *args: The event's arguments.
            timeout: Seconds to wait for the answer; None waits as long as the connection
                stays up.
            response: A type the answer must fit (typed events).

        Returns:
            None for an answer with no argument, the argument for one, a tuple for several.

        Raises:
            AckTimeout: No answer in time.
        """
        return self.emit_with_ack(event, *args, timeout=timeout, response=response)

    on = registering_on_loop(Client.on)
    once = registering_on_loop(Client.once)
    event = on_loop(Client.event)
    off = on_loop(Client.off)
    on_any = on_loop(Client.on_any)
    off_any = on_loop(Client.off_any)
    on_any_outgoing = on_loop(Client.on_any_outgoing)
    off_any_outgoing = on_loop(Client.off_any_outgoing)


class SyncSimpleClient(_DisconnectOnExit):
    """A blocking :class:`~aiosio.client.simple.SimpleClient`."""

    def __init__(self) -> None:
        self.client = SimpleClient()

    id = Forward[str | None]("client")
    transport = Forward[str | None]("client")
    connected = Forward[bool]("client")

    def connect(self, url: str, **options: Unpack[ClientOptions]) -> None:
        """Connect and block until the namespace accepted the client.

        Args:
            url: The server, with the namespace as its path (``http://host:3000/chat``).
            **options: As :func:`aiosio.connect`.

        Raises:
            ConnectionError: The server could not be reached or refused the connection.
        """
        _wait(lambda: self.client.connect(url, **options))

    def emit(self, event: str, *args: Any) -> None:
        """Send an event.

        Args:
            event: The event name.
            *args: The arguments of the event.
        """
        _wait(lambda: self.client.emit(event, *args))

    def call(self, event: str, *args: Any, timeout: float | None = 60.0) -> Any:
        """Send an event and block until the server acknowledges it.

        Args:
            event: The event name.
            *args: The arguments of the event.
            timeout: Seconds to wait; None waits for ever.

        Returns:
            The acknowledgement's argument (a tuple for several).

        Raises:
            AckTimeout: No answer in time.
            Disconnected: The connection was lost first.
        """
        return _wait(lambda: self.client.call(event, *args, timeout=timeout))

    def receive(self, timeout: float | None = None) -> list[Any]:
        """Block until an event arrives.

        Args:
            timeout: Seconds to wait; None waits for ever.

        Returns:
            The event as a list: its name, then its arguments.

        Raises:
            TimeoutError: Nothing arrived in time.
            Disconnected: The client is disconnected.
        """
        return _wait(lambda: self.client.receive(timeout))

    def disconnect(self) -> None:
        """Disconnect and block until it is done."""
        _wait(self.client.disconnect)
