"""SimpleClient: a Socket.IO client for scripts and tests, without handlers.

Connect, ``emit``, ``call`` (emit and wait for the acknowledgement), and ``receive`` the
next event as a list ``[event, *args]``::

    async with SimpleClient() as client:
        await client.connect("http://localhost:3000")
        await client.emit("hello", "world")
        answer = await client.call("add", 1, 2)
        event, *args = await client.receive(timeout=5)
"""

from __future__ import annotations

import asyncio
from typing import Any, Self, Unpack

from aiosio.client.client import Client, ClientOptions
from aiosio.exceptions import Disconnected, InvalidState

__all__ = ["SimpleClient"]

_CLOSED = object()  # queued once the client will receive nothing any more


class SimpleClient:
    """One namespace, events queued for :meth:`receive`."""

    def __init__(self) -> None:
        self._client: Client | None = None
        self._events: asyncio.Queue[object] | None = None

    @property
    def client(self) -> Client:
        """The underlying :class:`~aiosio.client.client.Client`.

        Raises:
            InvalidState: Before :meth:`connect`.
        """
        if self._client is None:
            raise InvalidState("the SimpleClient is not connected")
        return self._client

    @property
    def id(self) -> str | None:
        """The socket id in the namespace."""
        return None if self._client is None else self._client.id

    @property
    def transport(self) -> str | None:
        """``polling`` or ``websocket``."""
        return None if self._client is None else self._client.transport

    @property
    def connected(self) -> bool:
        """Whether the client is connected now."""
        return self._client is not None and self._client.connected

    async def connect(self, url: str, **options: Unpack[ClientOptions]) -> None:
        """Connect to ``url`` (its path is the namespace); a connection of its own unless
        ``force_new=False`` is given.

        Args:
            url: The server, with the namespace as its path (``http://host:3000/chat``).
            **options: As :func:`aiosio.connect`.

        Raises:
            InvalidState: Already connected.
            ConnectionError: The connection failed or was refused.
        """
        if self._client is not None and self._client.active:
            raise InvalidState("the SimpleClient is already connected")
        options.setdefault("force_new", True)
        client = Client(url, **options)
        events: asyncio.Queue[object] = asyncio.Queue()
        client.on_any(lambda event, *args: events.put_nowait([event, *args]))
        client.on("disconnect", lambda *_: None if client.active else events.put_nowait(_CLOSED))
        client.on("reconnect_failed", lambda: events.put_nowait(_CLOSED))
        self._client, self._events = client, events
        await client.connect()

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event (buffered while reconnecting).

        Args:
            event: The event name.
            *args: The arguments of the event.
        """
        self.client.emit(event, *args)

    async def call(self, event: str, *args: Any, timeout: float | None = 60.0) -> Any:
        """Send an event and return the acknowledgement (see ``Client.emit_with_ack``).

        Args:
            event: The event name.
            *args: The arguments of the event.
            timeout: Seconds to wait; None waits for ever.

        Returns:
            The answer: its argument, a tuple of several, or None.

        Raises:
            AckTimeout: No answer within ``timeout`` seconds.
            Disconnected: The connection was lost first.
        """
        return await self.client.emit_with_ack(event, *args, timeout=timeout)

    async def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event from the server, as ``[event, *args]``.

        Args:
            timeout: Seconds to wait; None waits for ever.

        Returns:
            The event's name followed by its arguments.

        Raises:
            TimeoutError: Nothing came within ``timeout`` seconds.
            Disconnected: The client is disconnected for good and nothing is left.
        """
        events = self._events
        if events is None:
            raise Disconnected("the SimpleClient is not connected")
        async with asyncio.timeout(timeout):
            item = await events.get()
        if item is _CLOSED:
            events.put_nowait(_CLOSED)  # later calls fail the same way
            raise Disconnected("the client is disconnected")
        assert isinstance(item, list)
        return item

    async def disconnect(self) -> None:
        """Leave the namespace and close the connection."""
        if self._client is not None:
            await self._client.disconnect()
            if self._events is not None:
                self._events.put_nowait(_CLOSED)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()
